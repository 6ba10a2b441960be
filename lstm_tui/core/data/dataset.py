"""The whole pipeline for one run: source -> UTF-8 bytes -> clean -> tokens -> Vocab -> indices.

The vocabulary is built over ALL tokens before ``max_tokens`` cuts the corpus (as d2l does),
so a short run still knows every character of the book. The corpus is kept in the smallest
integer type that holds its vocabulary (uint8 for characters); the samplers widen only the
batches they cut. Held-out parts come from the end: ``[ train | validation | test ]``, the
test part last (the very end of the text), the validation part just before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .download import Progress
from .encode import Encoded, encode
from .errors import CorpusError
from .hooks import LoadHooks, LoadProgressFn
from .sources import ReadOptions, SourceText, read_source
from .vocab import Vocab

if TYPE_CHECKING:
    import torch

    from ..config import RunConfig

#: A vocabulary larger than this gets a warning: the output layer scores every token each step.
LARGE_VOCAB = 50_000
#: Cleaning that drops more than this fraction of a corpus's characters gets a warning.
DROPPED_WARNING = 0.5


@dataclass
class CorpusData:
    """Index tensors for training (validation, test) plus the vocabulary they index."""

    train: torch.Tensor
    val: torch.Tensor | None
    vocab: Vocab
    text_chars: int
    test: torch.Tensor | None = None
    sha1: str = ""  # of the corpus's UTF-8 text (for The Time Machine: the file's SHA-1)
    nbytes: int = 0  # bytes of that text
    warnings: tuple[str, ...] = ()  # for people: the cleaning dropped most of it, a huge vocabulary

    @property
    def tokens(self) -> int:
        """Tokens used (train + val + test), after the ``max_tokens`` cut."""
        return sum(len(part) for part in (self.train, self.val, self.test) if part is not None)


def load_corpus(
    config: RunConfig,
    progress: Progress | None = None,
    *,
    on_load: LoadProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> CorpusData:
    """Read, clean, tokenize and index the corpus ``config`` names; check it is long enough.

    ``progress(done, total)``: a download's bytes; ``on_load(stage, done, total)``: the loading
    stages; ``cancel()`` True: :class:`~.errors.LoadCancelled` at the next chunk."""
    hooks = LoadHooks(progress=on_load, cancelled=cancel, status=on_status)
    options = ReadOptions(encoding=config.encoding, errors=config.errors, download_progress=progress, hooks=hooks)
    source = read_source(config.corpus, config.data_dir, options)
    encoded = encode(
        source.data, config.token, config.raw, min_freq=config.min_freq, max_size=config.max_vocab, hooks=hooks
    )
    import torch  # (here, not at the top: the run preparation reads a corpus while torch imports)

    corpus = torch.from_numpy(encoded.ids)
    if config.max_tokens > 0 and config.max_tokens < len(corpus):
        corpus = corpus[: config.max_tokens].clone()  # (not a view: the rest of a big text is freed)
    train, val, test = split_parts(corpus, config.val_split, config.test_split)
    _check_lengths(train, val, test, config, source, encoded)
    return CorpusData(
        train=train,
        val=val,
        vocab=encoded.vocab,
        text_chars=encoded.chars,
        test=test,
        sha1=source.sha1,
        nbytes=source.nbytes,
        warnings=corpus_warnings(config, source, encoded),
    )


def corpus_for(
    config: RunConfig,
    *,
    vocab: Vocab | None = None,
    progress: Progress | None = None,
    on_load: LoadProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> CorpusData:
    """The corpus a run of ``config`` trains on (:func:`load_corpus`); with ``vocab`` (a
    checkpoint's), a CorpusError when the corpus gives another vocabulary. The one loader of
    a run's corpus: the trainer and the run preparation (core/session.py) both call it."""
    data = load_corpus(config, progress=progress, on_load=on_load, cancel=cancel, on_status=on_status)
    if vocab is not None:
        check_vocab(data, vocab)
    return data


def check_vocab(data: CorpusData, vocab: Vocab) -> None:
    """CorpusError when ``data`` indexes another vocabulary than ``vocab`` (a checkpoint's)."""
    if vocab.to_list() != data.vocab.to_list():
        raise CorpusError(
            "the corpus gives another vocabulary than the one the checkpoint was trained on",
            "resume with the same corpus, token, raw, min_freq and max_vocab settings",
        )


def check_batches(train_tokens: int, config: RunConfig) -> int:
    """Batches per epoch of ``train_tokens`` tokens under ``config``; CorpusError when there is
    not one (the rule "too short for one batch" lives here only)."""
    from .iterators import count_batches, min_corpus_tokens  # (torch's: see load_corpus)

    need = min_corpus_tokens(config.batch_size, config.num_steps)
    batches = count_batches(train_tokens, config.batch_size, config.num_steps, config.sampling)
    if train_tokens < need or batches < 1:
        raise CorpusError(
            f"the training corpus has {train_tokens} tokens, too few for one batch of "
            f"batch_size {config.batch_size} x num_steps {config.num_steps} (needs {need})",
            "use a smaller batch_size or num_steps, a larger max_tokens, or a smaller val_split",
        )
    return batches


def split_corpus(corpus: torch.Tensor, val_split: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Hold out the last ``val_split`` fraction (the end of the book) as validation."""
    train, val, _ = split_parts(corpus, val_split, 0.0)
    return train, val


def split_parts(
    corpus: torch.Tensor, val_split: float, test_split: float
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``(train, val, test)``: the test part is the last ``test_split`` fraction, the validation
    part the ``val_split`` fraction before it (None when its fraction is 0); no overlap."""
    n = len(corpus)
    n_test = int(n * test_split) if test_split > 0 else 0
    n_val = int(n * val_split) if val_split > 0 else 0
    train_end, val_end = n - n_test - n_val, n - n_test
    val = corpus[train_end:val_end] if val_split > 0 else None
    test = corpus[val_end:] if test_split > 0 else None
    return (corpus if train_end == n else corpus[:train_end]), val, test


def corpus_warnings(config: RunConfig, source: SourceText, encoded: Encoded) -> tuple[str, ...]:
    """What a user should hear about this corpus: most of it lost to the cleaning, a huge vocabulary."""
    out = []
    if config.corpus and not config.raw and encoded.chars and encoded.dropped > DROPPED_WARNING * encoded.chars:
        out.append(
            f"the book's cleaning (letters A-Z only, lower case) drops {encoded.dropped / encoded.chars:.0%} of "
            f"the characters of {source.label} ({encoded.dropped:,} of {encoded.chars:,}); "
            "train with raw=true (--raw) to keep them"
        )
    warning = vocab_warning(config, len(encoded.vocab))
    if warning:
        out.append(warning)
    return tuple(out)


def vocab_warning(config: RunConfig, vocab_size: int) -> str:
    """A warning when the output layer would be huge ('' otherwise), with its parameter count."""
    if vocab_size <= LARGE_VOCAB:
        return ""
    width = config.hidden * (2 if config.bidirectional else 1)
    params = vocab_size * width + vocab_size
    return (
        f"a vocabulary of {vocab_size:,} tokens: the output layer alone has {params:,} parameters "
        f"({vocab_size:,} x {width:,} + {vocab_size:,}) and scores every token at every step; "
        "limit it with max_vocab (--max-vocab) or min_freq (--min-freq)"
    )


def _check_lengths(
    train: torch.Tensor,
    val: torch.Tensor | None,
    test: torch.Tensor | None,
    config: RunConfig,
    source: SourceText,
    encoded: Encoded,
) -> None:
    where = config.corpus or "The Time Machine"
    if len(train) == 0 and val is None and test is None:
        if not config.raw and encoded.chars:
            raise CorpusError(
                f"the corpus {where} has no tokens after cleaning: the book's cleaning keeps only "
                f"the letters A-Z, and none of its {encoded.chars:,} characters is one",
                "train with raw=true (--raw) to keep every character",
            )
        raise CorpusError(f"the corpus {where} has no tokens after cleaning", "try raw=true or another file")
    check_batches(len(train), config)
    for name, part in (("validation", val), ("test", test)):
        if part is not None and len(part) < config.num_steps + 1:
            field = "val_split" if name == "validation" else "test_split"
            raise CorpusError(
                f"the {name} part has {len(part)} tokens, fewer than num_steps {config.num_steps} + 1",
                f"use a larger {field} or max_tokens, or a smaller num_steps",
            )
