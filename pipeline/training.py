"""The training loop every pipeline shares: minibatches, optimizers, per-epoch history, progress bar."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Iterator, Mapping

import torch
from tqdm import tqdm

from pipeline.errors import ParamError

OPTIMIZERS = ("sgd", "adam", "adamw")


def make_optimizer(name: str, parameters: Iterable, lr: float, weight_decay: float = 0.0,
                   where: str = "optimizer") -> torch.optim.Optimizer:
    """Build an optimizer by name; `parameters` may be tensors or param-group dicts."""
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    raise ParamError(f"params.yaml: '{where}' must be one of {', '.join(OPTIMIZERS)}; got {name!r}")


def minibatches(tensors: tuple[torch.Tensor, ...], batch_size: int, shuffle: bool = True,
                generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield aligned slices of `tensors`; the order comes from `generator`, so runs repeat."""
    n = len(tensors[0])
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield tuple(t[idx] for t in tensors)


def train_epochs(
    step: Callable[[tuple[torch.Tensor, ...]], torch.Tensor],
    batches: Callable[[], Iterable[tuple[torch.Tensor, ...]]],
    epochs: int,
    evaluate: Callable[[], Mapping[str, float]] | None = None,
    desc: str = "train",
    progress: bool = True,
) -> dict[str, list[float]]:
    """Run `epochs` passes of `step(batch) -> loss` over `batches()`; record `evaluate()` each epoch.

    `step` does the forward, backward and update (so scratch and torch.nn forms share the
    loop); the history maps each metric name to one value per epoch.
    """
    history: dict[str, list[float]] = defaultdict(list)
    bar = tqdm(range(epochs), desc=desc, unit="epoch", leave=False, disable=not progress)
    for _ in bar:
        for batch in batches():
            step(batch)
        if evaluate is not None:
            metrics = evaluate()
            for key, value in metrics.items():
                history[key].append(float(value))
            bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()})
    return dict(history)
