"""Numerical stability: how the weight initialization and the activation decide whether a deep MLP's
gradients vanish, explode or stay level across layers, and whether it then trains.

For each init x activation: the gradient norm of every layer's weights on one probe batch at
initialization (layer 1 is next to the input) and again after `probe_steps` SGD updates, within a
short SGD run on Fashion-MNIST. A run
whose loss turns NaN/inf is recorded as diverged and keeps its NaN curve: that is the finding.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.regularization.config import InitParams
from pipeline.regularization.fashion import CLASSES, PIXELS, Split
from pipeline.regularization.fit import Tally, concise_step, cross_entropy_objective, fit_classifier, make_generator
from pipeline.regularization.runner import Config, Outcome, config_params, final_of
from pipeline.training import make_optimizer

# weight init schemes; biases always start at zero
INITS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "normal": lambda w, g: nn.init.normal_(w, 0.0, 1.0, generator=g),  # N(0, 1): too large for any depth
    "small": lambda w, g: nn.init.normal_(w, 0.0, 0.01, generator=g),  # N(0, 0.01^2): fine when shallow
    "xavier": lambda w, g: nn.init.xavier_uniform_(w, generator=g),  # var 2/(fan_in+fan_out)
    "kaiming": lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g),  # var 2/fan_in
}
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


def deep_mlp(depth: int, width: int, init: str, activation: str, generator: torch.Generator) -> nn.Sequential:
    """`depth` hidden layers of `width` units, each Linear initialized by `init`."""
    sizes = [PIXELS] + [width] * depth + [CLASSES]
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            INITS[init](linear.weight, generator)
            linear.bias.zero_()
        layers.append(linear)
        if i < depth:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def gradient_norms(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """||dL/dW|| of every Linear layer, input side first, for the cross-entropy on (x, y)."""
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(x), y).backward()
    norms = [m.weight.grad.norm().item() for m in net if isinstance(m, nn.Linear)]
    net.zero_grad(set_to_none=True)
    return norms


def config_name(init: str, activation: str) -> str:
    return f"{init}_{activation}"


def configs(p: InitParams, device: torch.device, train: Split, test: Split) -> list[Config]:
    return [Config(config_name(init, act),
                   config_params(p, ["inits", "activations"], init=init, activation=act, n_train=len(train),
                                 n_test=len(test)),
                   partial(fit_one, p, init, act, train, test, device))
            for act in p.activations for init in p.inits]


def fit_one(p: InitParams, init: str, activation: str, train: Split, test: Split, device: torch.device) -> Outcome:
    generator = make_generator(p.seed, "train")
    net = deep_mlp(p.depth, p.width, init, activation, generator).to(device)
    probe = train.x[:p.probe_batch], train.y[:p.probe_batch]
    at_init = gradient_norms(net, *probe)
    tally = Tally()
    step = concise_step(cross_entropy_objective(net, tally), make_optimizer("sgd", net.parameters(), p.lr))
    after: list[float] = []
    steps = 0

    def probed(batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The SGD step, measuring the gradient norms again once `probe_steps` updates are done."""
        nonlocal steps
        loss = step(batch)
        steps += 1
        if steps == p.probe_steps:
            after[:] = gradient_norms(net, *probe)
        return loss

    history = fit_classifier(net, probed, tally, train, test, epochs=p.epochs, batch_size=p.batch_size,
                             generator=generator, desc=f"init {config_name(init, activation)}")
    if not after:  # fewer updates in the whole run than probe_steps: measure at its end
        after = gradient_norms(net, *probe)
    final = final_of(history)
    return Outcome(history, {**final, "grad_norm_first": at_init[0], "grad_norm_last": at_init[-1],
                             "grad_norm_first_after": after[0], "grad_norm_last_after": after[-1],
                             "diverged": float(not math.isfinite(final["train_loss"]))},
                   by_layer={"grad_norm": at_init, "grad_norm_after": after})
