"""``lstm-tui score``: the probability lens on the command line.

    lstm-tui score --checkpoint RUN --text "the time traveller"      bpc, perplexity, surprises
    lstm-tui score -c RUN --file chapter.txt --json                   per-character rows as JSON
    lstm-tui score -c RUN --text ... --compare OTHER_RUN              two models on the same text

The text is cleaned the way the run's corpus was (d2l's: letters only, lower case) unless
``--as-is``. A bidirectional model is scored both ways: training mode (it sees the future) and
write mode (one step at a time, only the past): the gap is why its text is garbage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .exitcodes import EXIT_OK
from .options import CliError

UNK_HINT = "pass --unk to map them to <unk>"
SURPRISES = 10


def add_score_parser(
    sub: Any, parser_class: type[argparse.ArgumentParser], add_runs_dir: Callable[[argparse.ArgumentParser], None]
) -> None:
    score = sub.add_parser(
        "score",
        help="how surprised a model is by each character of a text (bits, perplexity)",
        description="Score a text with a trained model: bits per character, perplexity, the most surprising "
        "characters with what the model expected instead. A bidirectional model is scored in training mode "
        "(it sees the future) and write mode (only the past).",
        allow_abbrev=False,
    )
    score.add_argument(
        "--checkpoint", "-c", required=True, metavar="PATH_OR_RUN", help="checkpoint file, run folder or run name"
    )
    what = score.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", "-t", metavar="TEXT", help="the text to score")
    what.add_argument("--file", "-f", metavar="FILE", help="a file whose text to score (UTF-8)")
    score.add_argument("--json", action="store_true", help="print one JSON object with a row per character")
    score.add_argument(
        "--epoch", type=_positive("--epoch"), metavar="N", help="use the run's time-lapse snapshot of epoch N"
    )
    score.add_argument(
        "--compare", metavar="PATH_OR_RUN", help="also score the text with this model and show where they differ"
    )
    score.add_argument(
        "--compare-epoch", type=_positive("--compare-epoch"), metavar="N", help="the snapshot of epoch N of --compare"
    )
    score.add_argument(
        "--as-is", action="store_true", help="score the text as given (default: cleaned like the run's corpus)"
    )
    score.add_argument(
        "--unk", action="store_true", help="map characters the model does not know to <unk> instead of failing"
    )
    score.add_argument("--device", default="cpu", metavar="DEVICE", help="device to run the model on (default: cpu)")
    add_runs_dir(score)


def _positive(flag: str) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid; expected an integer of 1 or more") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; expected an integer of 1 or more")
        return value

    convert.__name__ = flag
    return convert


def _read_text(ns: argparse.Namespace) -> str:
    if ns.text is not None:
        return str(ns.text)
    try:
        return Path(ns.file).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"--file: cannot read {ns.file}: {getattr(exc, 'strerror', None) or exc}") from None


def cleaned(text: str, config: Any) -> str:
    """``text`` cleaned and joined the way the run's corpus was (d2l: lines concatenated)."""
    from ..core.data.text import clean_lines

    lines = clean_lines(text, raw=config.raw)
    return (" " if config.token == "word" else "").join(lines)


def cmd_score(ns: argparse.Namespace) -> int:
    from .loading import load_for_cli

    model, vocab, config, device = load_for_cli(ns.checkpoint, ns.runs_dir, ns.device, ns.epoch)
    text = _read_text(ns)
    if not ns.as_is:
        text = cleaned(text, config)
    scores = _score(model, vocab, text, ns, both=not config.can_generate)
    comparison = None
    if ns.compare:
        other, other_vocab, _, _ = load_for_cli(ns.compare, ns.runs_dir, ns.device, ns.compare_epoch)
        comparison = _compare(scores[0], _score(other, other_vocab, text, ns, both=False)[0])
    if ns.json:
        print(json.dumps(_json_safe(_as_json(scores, comparison, ns)), ensure_ascii=False))
    else:
        _print_text(scores, comparison, config.generation_warning)
    return EXIT_OK


def _score(model: Any, vocab: Any, text: str, ns: argparse.Namespace, both: bool) -> list[Any]:
    from ..core.generate import GenerationError
    from ..core.score import score_text

    modes = ("train", "write") if both else ("train",)
    try:
        return [score_text(model, vocab, text, mode=mode, unknown="unk" if ns.unk else "error") for mode in modes]
    except GenerationError as exc:
        raise CliError(f"{'--text' if ns.text is not None else '--file'}: {exc.explain(UNK_HINT)}") from None


def _compare(a: Any, b: Any) -> Any:
    from ..core.score import compare_scores

    try:
        return compare_scores(a, b)
    except ValueError as exc:
        raise CliError(f"--compare: {exc}") from None


def _as_json(scores: list[Any], comparison: Any, ns: argparse.Namespace) -> dict[str, Any]:
    main = scores[0]
    out: dict[str, Any] = {
        "checkpoint": ns.checkpoint,
        "epoch": ns.epoch,
        **main.to_dict(),
        "most_surprising": [p.to_dict() for p in main.most_surprising(SURPRISES)],
    }
    if len(scores) > 1:
        out["write"] = scores[1].to_dict()
        out["write"]["diff"] = list(_compare(main, scores[1]).diff)
    if comparison is not None:
        out["compare"] = {
            "checkpoint": ns.compare,
            "epoch": ns.compare_epoch,
            **comparison.b.to_dict(),
            "diff": list(comparison.diff),
            "mean_diff": comparison.mean_diff,
        }
    return out


def _json_safe(value: Any) -> Any:
    from .printer import _json_safe as safe

    return safe(value)


def _print_text(scores: list[Any], comparison: Any, warning: str) -> None:
    main = scores[0]
    unit = "word" if main.separator else "character"
    print(f"{len(main.positions):,} {unit}s scored")
    print(
        f"bits per {unit} {main.bits_per_char:.3f}  perplexity {main.perplexity:.2f}"
        + ("  (training mode: it sees the whole text, the future too)" if len(scores) > 1 else "")
    )
    if len(scores) > 1:
        write = scores[1]
        print(
            f"bits per {unit} {write.bits_per_char:.3f}  perplexity {write.perplexity:.2f}  "
            f"(write mode: one step at a time, only the past)"
        )
        print(f"write mode costs {write.bits_per_char - main.bits_per_char:+.3f} bits per {unit}: {warning}")
    print(f"the {min(SURPRISES, len(main.positions))} most surprising {unit}s (bits, in context, what it expected):")
    for pos in main.most_surprising(SURPRISES):
        before, token, after = main.context(pos.index)
        sep = main.separator
        expected = ", ".join(f"{t!r} {p:.2f}" for t, p in pos.top[:3])
        print(f"  {pos.bits:6.2f}  ...{before}{sep}[{token}]{sep}{after}...  expected {expected}")
    if comparison is not None:
        other = comparison.b
        print(
            f"--compare: bits per {unit} {other.bits_per_char:.3f}  perplexity {other.perplexity:.2f}  "
            f"(mean difference {comparison.mean_diff:+.3f} bits; negative: the other model is surer)"
        )
    sys.stdout.flush()
