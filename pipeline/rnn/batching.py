"""Cut a corpus into (inputs, targets) minibatches of `num_steps` windows, targets shifted by one.

* random: drop a random prefix shorter than `num_steps`, cut the rest into non-overlapping
  windows and deal them out in random order. Neighbouring batches are unrelated, so the
  trainer starts every batch from a fresh state.
* sequential: drop a random prefix of at most `num_steps`, lay the rest out as `batch_size`
  parallel streams and walk along them. Row i of batch k+1 continues row i of batch k, so
  the trainer carries the state over (detached) between batches.

Both take a `torch.Generator`, so the same seed gives the same epochs.
"""

from __future__ import annotations

from typing import Literal

import torch

from pipeline.errors import ParamError

Scheme = Literal["random", "sequential"]
SCHEMES = ("random", "sequential")
Batch = tuple[torch.Tensor, torch.Tensor]


def min_tokens(batch_size: int, num_steps: int) -> int:
    """Tokens needed so that either scheme yields at least one batch, whatever its offset."""
    return batch_size * num_steps + num_steps + 1


def check_fits(num_tokens: int, batch_size: int, num_steps: int, where: str = "rnn.train",
               corpus: str = "corpus") -> None:
    """Fail naming the param when the corpus is too short for one batch."""
    if num_steps >= num_tokens:
        raise ParamError(f"params.yaml: '{where}.num_steps' = {num_steps} is longer than the {corpus} "
                         f"({num_tokens} tokens)")
    needed = min_tokens(batch_size, num_steps)
    if num_tokens < needed:
        raise ParamError(f"params.yaml: '{where}.batch_size' = {batch_size} × '{where}.num_steps' = {num_steps} "
                         f"needs at least {needed} tokens; the {corpus} has {num_tokens}")


def _offset(high: int, generator: torch.Generator | None) -> int:
    """A uniform integer in [0, high]."""
    return int(torch.randint(0, high + 1, (1,), generator=generator))


def random_batches(corpus: torch.Tensor, batch_size: int, num_steps: int,
                   generator: torch.Generator | None = None) -> list[Batch]:
    """One epoch of randomly ordered, non-overlapping windows; each X, Y is (batch_size, num_steps)."""
    check_fits(len(corpus), batch_size, num_steps)
    corpus = corpus[_offset(num_steps - 1, generator):]
    num_windows = (len(corpus) - 1) // num_steps
    starts = torch.arange(0, num_windows * num_steps, num_steps)
    starts = starts[torch.randperm(num_windows, generator=generator)]
    num_batches = num_windows // batch_size
    steps = torch.arange(num_steps)
    batches = []
    for b in range(num_batches):
        idx = starts[b * batch_size:(b + 1) * batch_size, None] + steps  # (batch, steps) positions
        batches.append((corpus[idx], corpus[idx + 1]))
    return batches


def sequential_batches(corpus: torch.Tensor, batch_size: int, num_steps: int,
                       generator: torch.Generator | None = None) -> list[Batch]:
    """One epoch of windows along `batch_size` parallel streams, in order."""
    check_fits(len(corpus), batch_size, num_steps)
    offset = _offset(num_steps, generator)
    num_tokens = (len(corpus) - offset - 1) // batch_size * batch_size
    xs = corpus[offset:offset + num_tokens].reshape(batch_size, -1)
    ys = corpus[offset + 1:offset + 1 + num_tokens].reshape(batch_size, -1)
    num_batches = xs.shape[1] // num_steps
    return [(xs[:, i:i + num_steps], ys[:, i:i + num_steps])
            for i in range(0, num_batches * num_steps, num_steps)]


def batches(scheme: str, corpus: torch.Tensor, batch_size: int, num_steps: int,
            generator: torch.Generator | None = None) -> list[Batch]:
    """One epoch of batches by `scheme` ('random' or 'sequential')."""
    if scheme == "random":
        return random_batches(corpus, batch_size, num_steps, generator)
    if scheme == "sequential":
        return sequential_batches(corpus, batch_size, num_steps, generator)
    raise ParamError(f"params.yaml: 'rnn.train.scheme' must be one of {', '.join(SCHEMES)}; got {scheme!r}")
