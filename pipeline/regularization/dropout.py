"""Dropout on Fashion-MNIST: a two-hidden-layer MLP, scratch vs torch.nn, and without dropout.

Every variant starts from the same weights (drawn once from the seed) and sees the same batches;
they differ only in how (or whether) hidden units are dropped and how the update is written.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from pipeline.regularization.config import DropoutParams
from pipeline.regularization.fashion import CLASSES, PIXELS, Split
from pipeline.regularization.fit import (
    Tally,
    concise_step,
    cross_entropy_objective,
    fit_classifier,
    make_generator,
    scratch_step,
)
from pipeline.regularization.runner import Config, Outcome, config_params, final_of
from pipeline.training import decayed_lr, make_optimizer, set_lr


def dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p), so E[output] = x.

    p = 0 returns `x` itself, p = 1 all zeros; p outside [0, 1] raises ValueError. The mask comes
    from torch's global generator (seeded per configuration by `Stage.seed_again`), like nn.Dropout.
    """
    if not 0 <= p <= 1:  # also rejects NaN
        raise ValueError(f"dropout probability p must be in [0, 1], got {p}")
    if p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = (torch.rand(x.shape, device=x.device) > p).to(x.dtype)
    return keep * x / (1.0 - p)


def initial_weights(sizes: list[int], std: float, generator: torch.Generator) -> list[torch.Tensor]:
    """One (fan_in, fan_out) matrix ~ N(0, std^2) per layer; biases start at zero."""
    return [torch.randn(fan_in, fan_out, generator=generator) * std for fan_in, fan_out in zip(sizes, sizes[1:])]


class ScratchMLP(nn.Module):
    """Hand-written layers and dropout; an nn.Module only so train()/eval() switch dropout."""

    def __init__(self, weights: list[torch.Tensor], drop_probs: list[float]):
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(w.clone()) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(w.shape[1])) for w in weights])
        self.drop_probs = list(drop_probs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = x @ w + b
            if i < len(self.drop_probs):  # hidden layer: ReLU, then dropout while training
                x = torch.relu(x)
                if self.training:
                    x = dropout(x, self.drop_probs[i])
        return x


def concise_mlp(weights: list[torch.Tensor], drop_probs: list[float]) -> nn.Sequential:
    """The same network from torch.nn layers, loaded with the same initial weights."""
    layers: list[nn.Module] = []
    for i, w in enumerate(weights):
        linear = nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(w.T)
            linear.bias.zero_()
        layers.append(linear)
        if i < len(drop_probs):
            layers += [nn.ReLU(), nn.Dropout(drop_probs[i])]
    return nn.Sequential(*layers)


def make_net(variant: str, p: DropoutParams, generator: torch.Generator) -> nn.Module:
    weights = initial_weights([PIXELS, *p.hidden, CLASSES], p.init_std, generator)
    if variant == "scratch":
        return ScratchMLP(weights, p.drop_probs)
    return concise_mlp(weights, p.drop_probs if variant == "concise" else [0.0] * len(p.hidden))


def configs(p: DropoutParams, device: torch.device, train: Split, test: Split) -> list[Config]:
    return [Config(variant, config_params(p, ["variants"], variant=variant,
                                          dropout=variant != "no_dropout", n_train=len(train), n_test=len(test)),
                   partial(fit_variant, p, variant, train, test, device))
            for variant in p.variants]


def fit_variant(p: DropoutParams, variant: str, train: Split, test: Split, device: torch.device) -> Outcome:
    generator = make_generator(p.seed, "train")
    net = make_net(variant, p, generator).to(device)
    tally = Tally()
    objective = cross_entropy_objective(net, tally)
    lr = {"now": p.lr}  # this epoch's, from the schedule
    optimizer = None if variant == "scratch" else make_optimizer("sgd", net.parameters(), p.lr)
    if optimizer is None:
        step = scratch_step(objective, list(net.parameters()), lambda: lr["now"])
    else:
        step = concise_step(objective, optimizer)

    def before_epoch(epoch: int) -> None:
        lr["now"] = decayed_lr(p.lr, epoch, p.epochs, p.lr_decay)
        if optimizer is not None:
            set_lr(optimizer, lr["now"])

    history = fit_classifier(net, step, tally, train, test, epochs=p.epochs, batch_size=p.batch_size,
                             generator=generator, desc=f"dropout {variant}", before_epoch=before_epoch)
    return Outcome(history, final_of(history))
