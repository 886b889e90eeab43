"""The training loop every pipeline shares: minibatches, optimizers, per-epoch history, progress bar."""

from __future__ import annotations

import math
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


def decayed_lr(lr: float, epoch: int, epochs: int, decay: float) -> float:
    """The learning rate of `epoch` (0-based): `lr`, falling linearly towards 0 over the last
    `decay` fraction of the `epochs` (0: constant). Full steps leave the early plateau fast but
    then bounce around the minimum; the decay settles the weights, so short runs end low."""
    remaining = epochs - epoch  # epochs left, this one included
    decay_epochs = decay * epochs
    return lr if remaining >= decay_epochs else lr * remaining / decay_epochs


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


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
    lr_param: str | None = None,
    before_epoch: Callable[[int], None] | None = None,
) -> dict[str, list[float]]:
    """Run `epochs` passes of `step(batch) -> loss` over `batches()`; record `evaluate()` each epoch.

    `step` does the forward, backward and update (so scratch and torch.nn forms share the
    loop); the history maps each metric name to one value per epoch.

    With `lr_param` (the dotted name of the learning rate in params.yaml), a loss that turns
    NaN or inf stops training with a ParamError naming that param, so a diverged run writes
    no model, metrics or submission and its MLflow run ends FAILED. Without it (experiments
    where divergence is the finding, e.g. the init study) training goes on.

    `before_epoch(epoch)` (0-based) runs before each epoch's batches, e.g. to set its learning rate.
    """
    history: dict[str, list[float]] = defaultdict(list)
    # disable=None: a bar on a terminal (a user's `dvc repro`), nothing in a log file or a pipe
    bar = tqdm(range(epochs), desc=desc, unit="epoch", leave=False, disable=None if progress else True)
    for epoch in bar:
        if before_epoch is not None:
            before_epoch(epoch)
        for batch in batches():
            loss = step(batch)
            if lr_param is not None and loss is not None:
                check_finite(loss, epoch + 1, lr_param)
        if evaluate is not None:
            metrics = evaluate()
            for key, value in metrics.items():
                if lr_param is not None:
                    check_finite(value, epoch + 1, lr_param, what=key)
                history[key].append(float(value))
            bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()})
    return dict(history)


def check_finite(loss: torch.Tensor | float, epoch: int, lr_param: str, what: str = "loss") -> None:
    """Raise a ParamError naming `lr_param` when `loss` (or metric `what`) is NaN or inf."""
    value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
    if not math.isfinite(value):
        raise ParamError(f"params.yaml: training diverged ({what} {value} in epoch {epoch}): "
                         f"lower '{lr_param}'")
