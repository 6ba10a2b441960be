"""Corpus download/cache, cleaning, Vocab, minibatch iterators and the train/val split.

Names that need torch (iterators, :func:`load_corpus`) are imported lazily, so fetching or
reading the corpus (e.g. from the CLI) does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .corpus import (
    CORPUS_FILENAME,
    DATA_DIR_ENV,
    MAX_CORPUS_BYTES,
    TIME_MACHINE_SHA1,
    TIME_MACHINE_URL,
    default_data_dir,
    fetch_time_machine,
    resolve_data_dir,
)
from .download import DEFAULT_MAX_BYTES, download, sha1_of_file
from .errors import CorpusError, LoadCancelled
from .hooks import LoadHooks
from .sources import ReadOptions, SourceText, corpus_files, read_corpus_text, read_source, read_text_file
from .text import clean_lines, split_lines, tokenize
from .vocab import Vocab, count_corpus

if TYPE_CHECKING:
    # the `x as x` form marks these as re-exports (they reach __all__ through _LAZY)
    from .dataset import CorpusData as CorpusData
    from .dataset import load_corpus as load_corpus
    from .dataset import split_corpus as split_corpus
    from .iterators import SAMPLINGS as SAMPLINGS
    from .iterators import count_batches as count_batches
    from .iterators import data_iter as data_iter
    from .iterators import min_corpus_tokens as min_corpus_tokens
    from .iterators import seq_data_iter_random as seq_data_iter_random
    from .iterators import seq_data_iter_sequential as seq_data_iter_sequential

_LAZY = {
    "CorpusData": "dataset",
    "load_corpus": "dataset",
    "split_corpus": "dataset",
    "SAMPLINGS": "iterators",
    "count_batches": "iterators",
    "data_iter": "iterators",
    "min_corpus_tokens": "iterators",
    "seq_data_iter_random": "iterators",
    "seq_data_iter_sequential": "iterators",
}

__all__ = [
    "CORPUS_FILENAME",
    "DATA_DIR_ENV",
    "DEFAULT_MAX_BYTES",
    "MAX_CORPUS_BYTES",
    "TIME_MACHINE_SHA1",
    "TIME_MACHINE_URL",
    "CorpusError",
    "LoadCancelled",
    "LoadHooks",
    "ReadOptions",
    "SourceText",
    "corpus_files",
    "read_source",
    "Vocab",
    "clean_lines",
    "count_corpus",
    "default_data_dir",
    "download",
    "fetch_time_machine",
    "read_corpus_text",
    "read_text_file",
    "resolve_data_dir",
    "sha1_of_file",
    "split_lines",
    "tokenize",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
