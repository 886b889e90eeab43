"""Steps and evaluations the four experiments plug into the shared `training.train_epochs` loop.

A step is `batch -> loss`: the scratch form updates parameters by hand (`sgd_`), the concise form
through a torch optimizer; both run in the same loop, so their curves compare like for like.
"""

from __future__ import annotations

import zlib
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.regularization.fashion import Split
from pipeline.training import minibatches, train_epochs

Batch = tuple[torch.Tensor, ...]
Step = Callable[[Batch], torch.Tensor]


def make_generator(seed: int, stream: str) -> torch.Generator:
    """A CPU generator for one use of the seed ("data", "train"): independent streams, so the
    synthetic inputs are not the very numbers the initial weights are drawn from."""
    state = np.random.SeedSequence([seed, zlib.crc32(stream.encode())]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean of (y_hat - y)^2 / 2: the regression loss of every regression experiment here."""
    return ((y_hat.reshape(y.shape) - y) ** 2).mean() / 2


def sgd_(params: Iterable[torch.Tensor], lr: float) -> None:
    """The scratch update: p -= lr * grad, then clear the grad."""
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


def scratch_step(objective: Callable[[Batch], torch.Tensor], params: Sequence[torch.Tensor],
                 lr: float | Callable[[], float]) -> Step:
    """The scratch form's step; `lr` is a number or, for a schedule, a function read each step."""
    rate = lr if callable(lr) else (lambda: lr)

    def step(batch: Batch) -> torch.Tensor:
        loss = objective(batch)
        loss.backward()
        sgd_(params, rate())
        return loss.detach()

    return step


def concise_step(objective: Callable[[Batch], torch.Tensor], optimizer: torch.optim.Optimizer) -> Step:
    def step(batch: Batch) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = objective(batch)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def fit_regression(forward: Callable[[torch.Tensor], torch.Tensor], step: Step, train: Batch, test: Batch, *,
                   epochs: int, batch_size: int, generator: torch.Generator, desc: str,
                   extra: Callable[[], dict[str, float]] | None = None) -> dict[str, list[float]]:
    """Train with minibatches; each epoch record the squared loss on the whole train and test sets
    (the data loss alone, without any penalty, so runs with and without weight decay compare),
    plus whatever `extra()` measures (e.g. the weight norm)."""

    def evaluate() -> dict[str, float]:
        with torch.no_grad():
            metrics = {"train_loss": squared_loss(forward(train[0]), train[1]).item(),
                       "test_loss": squared_loss(forward(test[0]), test[1]).item()}
        return {**metrics, **(extra() if extra else {})}

    return train_epochs(step, lambda: minibatches(train, batch_size, generator=generator), epochs, evaluate,
                        desc=desc)


def classify(net: torch.nn.Module, data: Split, chunk: int = 8192) -> dict[str, float]:
    """Mean cross-entropy and accuracy of `net` on `data`, in eval mode (no dropout)."""
    was_training = net.training
    net.eval()
    loss = correct = 0.0
    with torch.no_grad():
        for start in range(0, len(data), chunk):
            x, y = data.x[start:start + chunk], data.y[start:start + chunk]
            logits = net(x)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(dim=1) == y).sum().item()
    net.train(was_training)
    return {"loss": loss / len(data), "acc": correct / len(data)}


class Tally:
    """Running cross-entropy and accuracy over one epoch's training batches, as the steps saw them
    (dropout on): summed on the device, so there is no host sync per step."""

    def __init__(self) -> None:
        self.loss: torch.Tensor | float = 0.0
        self.correct: torch.Tensor | float = 0.0
        self.count = 0

    def add(self, logits: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> None:
        self.loss = self.loss + loss.detach() * len(y)
        self.correct = self.correct + (logits.detach().argmax(dim=1) == y).sum()
        self.count += len(y)

    def take(self) -> dict[str, float]:
        """The epoch's mean train loss and accuracy; resets for the next epoch."""
        n = max(self.count, 1)
        out = {"train_loss": float(self.loss) / n, "train_acc": float(self.correct) / n}
        self.__init__()
        return out


def cross_entropy_objective(net: torch.nn.Module, tally: Tally) -> Callable[[Batch], torch.Tensor]:
    """`batch -> mean cross-entropy of net`, counting the batch's loss and hits in `tally`."""

    def objective(batch: Batch) -> torch.Tensor:
        logits = net(batch[0])
        loss = F.cross_entropy(logits, batch[1])
        tally.add(logits, batch[1], loss)
        return loss

    return objective


def fit_classifier(net: torch.nn.Module, step: Step, tally: Tally, train: Split, test: Split, *, epochs: int,
                   batch_size: int, generator: torch.Generator, desc: str,
                   before_epoch: Callable[[int], None] | None = None) -> dict[str, list[float]]:
    """Train in train mode with a step built on `cross_entropy_objective(net, tally)`; each epoch
    record the running train loss and accuracy (as the steps saw them, dropout on) and the test
    loss and accuracy (eval mode, dropout off)."""

    def evaluate() -> dict[str, float]:
        test_metrics = classify(net, test)
        return {**tally.take(), "test_loss": test_metrics["loss"], "test_acc": test_metrics["acc"]}

    net.train()
    return train_epochs(step, lambda: minibatches((train.x, train.y), batch_size, generator=generator),
                        epochs, evaluate, desc=desc, before_epoch=before_epoch)
