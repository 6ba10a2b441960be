"""d2l's two minibatch samplers over a 1-D index tensor, with an explicit ``random.Random``.

Same arithmetic and the same random calls as the book (``randint`` for the offset, ``shuffle``
for random sampling), so ``random.Random(s)`` reproduces d2l under ``random.seed(s)``; the
batches are tensor views/gathers, never Python lists, so an epoch costs next to nothing. The
corpus stays in its own (small) integer type; only the batches cut from it are widened to long.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch

SAMPLINGS = ("sequential", "random")
Batch = tuple[torch.Tensor, torch.Tensor]
#: Token indices: a 1-D integer tensor (uint8, int16, int32 or long), or a list of ints.
Corpus = torch.Tensor | Sequence[int]


def _as_corpus(corpus: Corpus) -> torch.Tensor:
    """The corpus as a 1-D tensor, in its own integer type (a list becomes a LongTensor)."""
    if isinstance(corpus, torch.Tensor) and not corpus.is_floating_point() and not corpus.is_complex():
        return corpus.reshape(-1).contiguous()
    return torch.as_tensor(corpus, dtype=torch.long).reshape(-1).contiguous()


def seq_data_iter_random(corpus: Corpus, batch_size: int, num_steps: int, rng: random.Random) -> Iterator[Batch]:
    """Random sampling: non-overlapping subsequences from a random offset, in shuffled order.

    Adjacent minibatches are not adjacent in the text, so the state is reset every batch.
    """
    tokens = _as_corpus(corpus)[rng.randint(0, num_steps - 1) :]
    num_subseqs = max(0, (len(tokens) - 1) // num_steps)
    span = num_subseqs * num_steps
    xs = tokens[:span].view(num_subseqs, num_steps)
    ys = tokens[1 : span + 1].view(num_subseqs, num_steps)
    rows = list(range(num_subseqs))  # same permutation as shuffling d2l's start indices
    rng.shuffle(rows)
    order = torch.tensor(rows, dtype=torch.long)
    for i in range(0, (num_subseqs // batch_size) * batch_size, batch_size):
        pick = order[i : i + batch_size]
        yield xs[pick].long(), ys[pick].long()


def seq_data_iter_sequential(corpus: Corpus, batch_size: int, num_steps: int, rng: random.Random) -> Iterator[Batch]:
    """Sequential partitioning: row r of batch k+1 continues row r of batch k in the text.

    That continuity is what lets the trainer carry the hidden state across batches.
    """
    tokens = _as_corpus(corpus)
    offset = rng.randint(0, num_steps)
    num_tokens = max(0, (len(tokens) - offset - 1) // batch_size) * batch_size
    xs = tokens[offset : offset + num_tokens].view(batch_size, -1)
    ys = tokens[offset + 1 : offset + 1 + num_tokens].view(batch_size, -1)
    num_batches = xs.shape[1] // num_steps
    for i in range(0, num_batches * num_steps, num_steps):
        yield xs[:, i : i + num_steps].long(), ys[:, i : i + num_steps].long()


def data_iter(corpus: Corpus, batch_size: int, num_steps: int, sampling: str, rng: random.Random) -> Iterator[Batch]:
    """The sampler named by ``sampling`` ("sequential" or "random")."""
    if sampling == "sequential":
        return seq_data_iter_sequential(corpus, batch_size, num_steps, rng)
    if sampling == "random":
        return seq_data_iter_random(corpus, batch_size, num_steps, rng)
    raise ValueError(f"unknown sampling {sampling!r}; expected one of {', '.join(SAMPLINGS)}")


def count_batches(corpus_len: int, batch_size: int, num_steps: int, sampling: str) -> int:
    """Most batches one epoch can yield (offset 0); an epoch may give one fewer."""
    if sampling == "random":
        return max(0, (corpus_len - 1) // num_steps) // batch_size
    if sampling == "sequential":
        return max(0, (corpus_len - 1) // batch_size) // num_steps
    raise ValueError(f"unknown sampling {sampling!r}; expected one of {', '.join(SAMPLINGS)}")


def min_corpus_tokens(batch_size: int, num_steps: int) -> int:
    """Fewest tokens that give at least one batch for every random offset, both samplers."""
    return batch_size * num_steps + num_steps + 1
