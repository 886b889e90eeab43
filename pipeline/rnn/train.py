"""Train a character language model: cross-entropy over every time step, gradients clipped by
their global norm, perplexity and tokens per second each epoch.

State handling follows the batching scheme: random batches are unrelated, so each starts
from a zero state; sequential batches continue each other, so the state carries over but is
detached, and backpropagation stops at the batch boundary.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import torch
from torch import nn

from pipeline.rnn import batching
from pipeline.rnn.config import TrainConfig
from pipeline.training import decayed_lr, make_optimizer, set_lr, train_epochs


def clip_gradients(parameters: Iterable[torch.Tensor], theta: float) -> float:
    """Rescale all gradients together so their global L2 norm is at most `theta`; return the
    norm before clipping (exploding gradients show up there)."""
    return float(torch.nn.utils.clip_grad_norm_(list(parameters), theta))


def detach(state):
    """Cut the graph behind a state (a tensor or a tuple of tensors) but keep its values."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(s.detach() for s in state)


def train_language_model(model: nn.Module, corpus: torch.Tensor, cfg: TrainConfig, device: torch.device,
                         *, desc: str = "train", progress: bool = True,
                         lr_param: str = "rnn.train.lr") -> dict[str, list[float]]:
    """Train `model` in place on the 1-D token indices `corpus`; return per-epoch history
    (`perplexity`, `tokens_per_sec`). Batches come from a generator seeded with `cfg.seed`."""
    batching.check_fits(len(corpus), cfg.batch_size, cfg.num_steps)
    model.to(device).train()
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, where="rnn.train.optimizer")
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(cfg.seed)
    run = {"state": None, "loss": 0.0, "tokens": 0, "start": 0.0}

    def before_epoch(epoch):
        set_lr(optimizer, decayed_lr(cfg.lr, epoch, cfg.epochs, cfg.lr_decay))

    def epoch_batches():
        run.update(state=None, loss=0.0, tokens=0, start=time.perf_counter())
        for X, Y in batching.batches(cfg.scheme, corpus, cfg.batch_size, cfg.num_steps, generator):
            yield X.to(device), Y.to(device)

    def step(batch):
        X, Y = batch
        state = run["state"]
        if state is None or cfg.scheme == "random":
            state = model.begin_state(X.shape[0], device)
        else:
            state = detach(state)
        logits, run["state"] = model(X, state)
        loss = loss_fn(logits, Y.T.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(model.parameters(), cfg.clip)
        optimizer.step()
        run["loss"] += loss.item() * Y.numel()  # item() waits for the device: timings are honest
        run["tokens"] += Y.numel()
        return loss

    def evaluate():
        seconds = time.perf_counter() - run["start"]
        mean_loss = run["loss"] / run["tokens"]  # exp overflows past ~709: a diverged run, not a crash
        perplexity = math.exp(mean_loss) if mean_loss < 709 else math.inf
        return {"perplexity": perplexity, "tokens_per_sec": run["tokens"] / seconds}

    return train_epochs(step, epoch_batches, cfg.epochs, evaluate, desc=desc, progress=progress,
                        lr_param=lr_param, before_epoch=before_epoch)
