"""Run configuration: one dataclass, one table of field rules, one place that validates.

Every front end (CLI flags, TOML files, the app's form) goes through :func:`parse_field`
and :meth:`RunConfig.from_mapping`, so a bad value always gets the same message naming the
field, the value and what is allowed. This module imports neither torch nor Textual.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: Shown beside a bidirectional model's samples (the Sample event's ``warning``).
BIDIRECTIONAL_WARNING = "bidirectional: it saw the future while training, so it writes garbage"


class ConfigError(ValueError):
    """A config value is wrong; ``field`` names it so a UI can mark the right input."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def _spec(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] | None = None,
    lo: float | None = None,
    hi: float | None = None,
    special: tuple[int, ...] = (),
    kind: str | None = None,
) -> Any:
    """A dataclass field carrying its validation rules in ``metadata``.

    Typed ``Any`` like :func:`dataclasses.field` itself: the annotation in the class states the type."""
    meta = {"help": help, "choices": choices, "lo": lo, "hi": hi, "special": tuple(special), "kind": kind}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run. Defaults are d2l's scratch LSTM experiment."""

    preset: str = _spec("custom", "name of the preset this config came from (a label)")
    cell: str = _spec("lstm", "recurrent cell", choices=("lstm", "gru", "rnn"))
    impl: str = _spec(
        "scratch", "implementation: gate equations written out, or torch.nn", choices=("scratch", "torch")
    )
    layers: int = _spec(1, "number of stacked recurrent layers", lo=1, hi=8)
    hidden: int = _spec(256, "hidden units per layer", lo=1, hi=8192)
    bidirectional: bool = _spec(False, "read the sequence both ways (its generated text is garbage)")
    lr: float = _spec(1.0, "learning rate", lo=1e-8, hi=1000.0)
    optimizer: str = _spec("sgd", "optimizer (sgd is d2l's update)", choices=("sgd", "adam"))
    epochs: int = _spec(500, "training epochs", lo=1, hi=1_000_000)
    batch_size: int = _spec(32, "sequences per minibatch", lo=1, hi=65_536)
    num_steps: int = _spec(35, "time steps per sequence", lo=1, hi=10_000)
    clip: float = _spec(1.0, "gradient clipping threshold (global norm; 0 turns it off)", lo=0.0, hi=1e6)
    max_tokens: int = _spec(
        10_000, "tokens of the corpus to use (0 or -1: the whole book)", lo=1, hi=10**10, special=(0, -1)
    )
    sampling: str = _spec("sequential", "minibatch sampling", choices=("sequential", "random"))
    val_split: float = _spec(0.0, "fraction held out at the end for validation (0: off)", lo=0.0, hi=0.5)
    seed: int = _spec(0, "random seed", lo=0, hi=2**32 - 1)
    predict_every: int = _spec(10, "print predictions every N epochs (0: only at the end)", lo=0, hi=1_000_000)
    prefix: tuple[str, ...] = _spec(
        ("time traveller",),
        "prefixes to predict from (several: comma-separated in the app, the flag repeated on the command line)",
        kind="strings",
    )
    gen_ppl_every: int = _spec(
        0, "also measure generation perplexity every N epochs (0: only at the end)", lo=0, hi=1_000_000
    )
    predict_length: int = _spec(50, "characters predicted after each prefix", lo=1, hi=10_000)
    device: str = _spec("auto", "device: auto, cpu, cuda, cuda:N or mps", kind="device")
    corpus: str = _spec(
        "",
        "corpus: a file, a folder or glob of .txt files, an http(s) URL, or - for standard input (empty: The Time Machine)",
    )
    data_dir: str = _spec("", "where the downloaded corpus is cached (empty: platform cache dir)")
    token: str = _spec("char", "tokenise by character or by word", choices=("char", "word"))
    raw: bool = _spec(False, "keep the raw text (no lower-casing, punctuation kept)")
    checkpoint_every: int = _spec(50, "write a checkpoint every N epochs (0: only at the end)", lo=0, hi=1_000_000)
    fused: bool = _spec(True, "fast engine paths (fused gates, hand-written backward)")
    graphs: bool = _spec(True, "capture the training step in a CUDA graph (GPU only)")
    compile: bool = _spec(False, "torch.compile the model")
    amp: bool = _spec(False, "bf16 autocast (a GPU, or a CPU with AVX-512 BF16 / AMX)")
    threads: int = _spec(0, "CPU threads torch may use (0: torch's default, one per core)", lo=0, hi=4096)
    # lenses (issue 16)
    snapshot_every: int = _spec(
        0, "keep a weight snapshot every N epochs for the time-lapse (0: auto, about 50 per run)", lo=0, hi=1_000_000
    )
    # -- the corpus (issue 15): its encoding, the vocabulary's limits, a test split
    encoding: str = _spec(
        "utf-8", "text encoding of the corpus (utf-8 also reads a BOM; e.g. latin-1, cp1252, utf-16)", kind="encoding"
    )
    errors: str = _spec(
        "strict",
        "undecodable bytes: strict stops naming the file and offset, replace puts U+FFFD",
        choices=("strict", "replace"),
    )
    min_freq: int = _spec(0, "tokens seen fewer times become <unk> (0: keep every token)", lo=0, hi=10**9)
    max_vocab: int = _spec(
        0,
        "most tokens in the vocabulary, <unk> included; the rarest become <unk> (0: no limit)",
        lo=2,
        hi=10**8,
        special=(0,),
    )
    test_split: float = _spec(
        0.0,
        "fraction held out at the very end (after the validation part) for a test perplexity computed once, when training ends (0: off)",
        lo=0.0,
        hi=0.5,
    )
    # -- training options (issue 14): every default keeps the book's run exactly
    momentum: float = _spec(0.0, "SGD momentum (0: d2l's plain SGD; Adam ignores it); a live knob", lo=0.0, hi=0.999)
    weight_decay: float = _spec(0.0, "L2 weight decay of the optimizer (0: off); a live knob", lo=0.0, hi=10.0)
    dropout: float = _spec(
        0.0, "dropout between stacked layers (impl=torch) and before the output layer (0: off)", lo=0.0, hi=0.9
    )
    lr_schedule: str = _spec(
        "none",
        "learning-rate schedule per epoch (plateau: on validation perplexity)",
        choices=("none", "step", "cosine", "plateau"),
    )
    lr_step_every: int = _spec(
        10, "step schedule: multiply the learning rate by lr_gamma every N epochs", lo=1, hi=1_000_000
    )
    lr_gamma: float = _spec(0.5, "step and plateau schedules: the factor of each decrease", lo=1e-6, hi=1.0)
    warmup_epochs: int = _spec(
        0, "epochs of linear learning-rate warm-up before the schedule (0: none)", lo=0, hi=100_000
    )
    plateau_patience: int = _spec(
        5, "plateau schedule: epochs without a better validation perplexity before a decrease", lo=1, hi=1_000_000
    )
    early_stop_patience: int = _spec(
        0, "stop after N epochs without a better validation perplexity, keeping best.pt (0: off)", lo=0, hi=1_000_000
    )
    embedding: str = _spec(
        "one-hot", "input encoding: the book's one-hot, or a learned embedding", choices=("one-hot", "learned")
    )
    embed_dim: int = _spec(64, "learned embedding: its width", lo=1, hi=8192)
    tie_weights: bool = _spec(False, "share the learned embedding with the output layer (needs embed_dim == hidden)")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: RunConfig | None = None) -> RunConfig:
        """Build a config from ``values`` (TOML table, form values, flags) on top of ``base``.

        Unknown keys, wrong types and out-of-range values raise :class:`ConfigError`.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting; known settings are: {', '.join(sorted(known))}")
        parsed = {name: parse_field(name, value) for name, value in values.items()}
        config = dataclasses.replace(base or cls(), **parsed)
        config.check()
        return config

    def replace(self, **changes: Any) -> RunConfig:
        """A validated copy with ``changes`` applied."""
        return RunConfig.from_mapping(changes, base=self)

    def with_absolute_paths(self) -> RunConfig:
        """This config with a relative corpus or data dir made absolute, so that a run started
        in one folder can be resumed from another (see :func:`absolute_paths`)."""
        return self.replace(**absolute_paths({name: getattr(self, name) for name in PATH_FIELDS}))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["prefix"] = list(self.prefix)
        return data

    # ----------------------------------------------------------------- cross-field rules
    def check(self) -> None:
        """Rules that involve more than one field."""
        if self.impl == "scratch" and self.bidirectional:
            raise ConfigError("bidirectional", "the scratch implementation is one-directional; use impl=torch")
        if self.val_split > 0 and self.max_tokens > 0 and self.max_tokens * self.val_split < 2:
            raise ConfigError("val_split", f"{self.val_split} of {self.max_tokens} tokens leaves no validation data")
        if self.test_split > 0 and self.max_tokens > 0 and self.max_tokens * self.test_split < 2:
            raise ConfigError("test_split", f"{self.test_split} of {self.max_tokens} tokens leaves no test data")
        if self.val_split + self.test_split > 0.5:
            raise ConfigError(
                "test_split",
                f"val_split {self.val_split} + test_split {self.test_split} holds out more than half of the corpus",
            )
        self._check_options()

    def _check_options(self) -> None:
        """The training options' rules (issue 14)."""
        if self.lr_schedule == "plateau" and self.val_split <= 0:
            raise ConfigError("lr_schedule", "plateau follows the validation perplexity: set val_split > 0")
        if self.early_stop_patience > 0 and self.val_split <= 0:
            raise ConfigError(
                "early_stop_patience", "early stopping follows the validation perplexity: set val_split > 0"
            )
        if self.warmup_epochs >= self.epochs and self.warmup_epochs > 0:
            raise ConfigError(
                "warmup_epochs", f"{self.warmup_epochs} warm-up epochs leave none of the {self.epochs} to train"
            )
        if self.tie_weights:
            if self.embedding != "learned":
                raise ConfigError("tie_weights", "weight tying shares a learned embedding: set embedding=learned")
            if self.bidirectional:
                raise ConfigError(
                    "tie_weights", "a bidirectional output layer is 2 x hidden wide: it cannot share the embedding"
                )
            if self.embed_dim != self.hidden:
                raise ConfigError(
                    "tie_weights", f"needs embed_dim == hidden (embed_dim {self.embed_dim}, hidden {self.hidden})"
                )

    @property
    def whole_corpus(self) -> bool:
        return self.max_tokens in (0, -1)

    @property
    def can_generate(self) -> bool:
        """Whether the model writes honest text. A bidirectional model sees the future when
        trained: it still generates (the book's way), but with :attr:`generation_warning`."""
        return not self.bidirectional

    @property
    def generation_warning(self) -> str:
        """'' or what to show beside this model's generated text (a bidirectional model's)."""
        return "" if self.can_generate else BIDIRECTIONAL_WARNING


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(RunConfig))


def field_info(name: str) -> dict[str, Any]:
    """Type, default and rules of one field (for help texts, flags and form widgets)."""
    for f in fields(RunConfig):
        if f.name == name:
            default: Any = f.default
            if f.default_factory is not dataclasses.MISSING and default is dataclasses.MISSING:
                default = f.default_factory()
            return {"name": name, "type": type(default), "default": default, **f.metadata}
    raise ConfigError(name, "unknown setting")


def allowed_text(name: str) -> str:
    """A short human description of what ``name`` accepts, e.g. 'an integer from 1 to 8'."""
    info = field_info(name)
    if info["choices"]:
        return "one of " + ", ".join(info["choices"])
    kind = info["type"]
    if kind is bool:
        return "true or false"
    if info["kind"] == "strings":
        return "one or more non-empty texts"
    if info["kind"] == "device":
        return "auto, cpu, cuda, cuda:N or mps"
    if info["kind"] == "encoding":
        return "a text encoding Python knows (e.g. utf-8, latin-1, cp1252, utf-16)"
    if kind is str:
        return "a text"
    noun = "an integer" if kind is int else "a number"
    text = f"{noun} from {_number(info['lo'])} to {_number(info['hi'])}"
    if info["special"]:
        text += " (or " + " or ".join(str(s) for s in info["special"]) + ")"
    return text


def _number(x: float) -> str:
    """1000000 -> '1,000,000', 0.5 -> '0.5', 1e-08 -> '1e-08': bounds as people read them."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


def parse_field(name: str, value: Any) -> Any:
    """Convert ``value`` (typed or a string from a flag or form) and check its range."""
    info = field_info(name)
    kind = info["type"]
    try:
        converted = _convert(kind, info["kind"], value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"{value!r} is not valid; expected {allowed_text(name)}") from None
    _check_range(name, info, converted)
    return converted


def _convert(kind: type, special_kind: str | None, value: Any) -> Any:
    if special_kind == "strings":
        items = [value] if isinstance(value, str) else list(value)
        if not items or not all(isinstance(s, str) and s for s in items):
            raise ValueError
        return tuple(items)
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError
    if kind is int:
        if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(str(value).strip().replace("_", "")) if isinstance(value, str) else int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
        if not math.isfinite(number):
            raise ValueError
        return number
    if not isinstance(value, str):
        raise TypeError
    if "\x00" in value:
        raise ValueError
    return value.strip()


def _check_range(name: str, info: dict[str, Any], value: Any) -> None:
    if info["choices"] and value not in info["choices"]:
        raise ConfigError(name, f"{value!r} is not allowed; expected {allowed_text(name)}")
    if info["kind"] == "device" and not _is_device(value):
        raise ConfigError(name, f"{value!r} is not a device; expected {allowed_text(name)}")
    if info["kind"] == "encoding" and not _is_encoding(value):
        raise ConfigError(name, f"{value!r} is not an encoding; expected {allowed_text(name)}")
    if info["lo"] is None or value in info["special"]:
        return
    if not info["lo"] <= value <= info["hi"]:
        raise ConfigError(name, f"{value!r} is out of range; expected {allowed_text(name)}")


def _is_encoding(text: str) -> bool:
    """A text codec Python knows (not a bytes-to-bytes one such as base64)."""
    import codecs

    try:
        return bool(codecs.lookup(text)._is_text_encoding)
    except LookupError:
        return False


def _is_device(text: str) -> bool:
    if text in ("auto", "cpu", "cuda", "mps"):
        return True
    head, _, index = text.partition(":")
    return head == "cuda" and index.isdigit()


#: Config fields that hold a local path (or, for the corpus, maybe a URL).
PATH_FIELDS = ("corpus", "data_dir")
#: A corpus given as ``scheme://...`` is a URL (group 1: the scheme); anything else is a path.
URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def _is_stream(text: str) -> bool:
    """``-`` (standard input) or a path under /dev or /proc (``/dev/fd/63`` from ``<(...)``):
    kept as given, as resolving it would name ``/proc/PID/fd/pipe:[N]``, a path nobody gave."""
    return text == "-" or text.startswith(("/dev/", "/proc/"))


def absolute_paths(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with a relative corpus or data dir made absolute (a URL, a stream or an empty
    value stays)."""
    out = dict(values)
    for name in PATH_FIELDS:
        text = out.get(name)
        text = text.strip() if isinstance(text, str) else ""
        if text and not URL_SCHEME.match(text) and not _is_stream(text):
            out[name] = str(Path(text).expanduser().resolve())
    return out
