"""Weight decay: high-dimensional linear regression on few points, with an L2 penalty of strength lambda.

200 inputs and 20 training points overfit without a penalty (large ||w||, high test loss); the
penalty lambda/2 ||w||^2 shrinks the weights and lowers the test loss. The scratch form adds the
penalty to the loss and updates by hand; the concise form gives the weight (not the bias)
`weight_decay=lambda` in torch's SGD. Both start from the same weights and see the same batches,
so they must end at the same ||w||.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
from torch import nn

from pipeline.regularization.config import WeightDecayParams
from pipeline.regularization.fit import Step, concise_step, fit_regression, make_generator, scratch_step, squared_loss
from pipeline.regularization.runner import Config, Outcome, config_params, final_of
from pipeline.regularization.synthetic import linear_data
from pipeline.training import make_optimizer


def config_name(form: str, lam: float) -> str:
    """e.g. scratch_wd3, concise_wd0p5: safe as a CSV column and a Vega field."""
    return f"{form}_wd{lam:g}".replace(".", "p").replace("-", "m")


def configs(p: WeightDecayParams, device: torch.device) -> list[Config]:
    x, y = linear_data(p.num_inputs, p.true_w, p.true_b, p.noise, p.n_train + p.n_test,
                       make_generator(p.seed, "data"))
    train = (x[:p.n_train].to(device), y[:p.n_train].to(device))
    test = (x[p.n_train:].to(device), y[p.n_train:].to(device))
    return [Config(config_name(form, lam), config_params(p, ["lambdas", "forms"], form=form, **{"lambda": lam}),
                   partial(fit_one, p, form, lam, train, test, device))
            for form in p.forms for lam in p.lambdas]


def l2_penalty(w: torch.Tensor) -> torch.Tensor:
    """||w||^2 / 2: its gradient is w, so lambda * l2_penalty adds lambda * w to the weight's gradient,
    exactly what torch's SGD `weight_decay=lambda` adds."""
    return (w ** 2).sum() / 2


@dataclass
class Model:
    """One form's linear model: `forward(x)`, its training step, and the weight and bias it updates."""

    forward: Callable[[torch.Tensor], torch.Tensor]
    step: Step
    weight: torch.Tensor
    bias: torch.Tensor


def make_model(form: str, lam: float, lr: float, w0: torch.Tensor, device: torch.device) -> Model:
    """The scratch or concise model from initial weights `w0` (bias 0), decaying the weight only."""
    if form == "scratch":
        w = w0.clone().to(device).requires_grad_()
        b = torch.zeros((), device=device, requires_grad=True)

        def forward(x: torch.Tensor) -> torch.Tensor:
            return x @ w + b

        # the penalty is added to the loss: autograd turns it into lambda * w in w's gradient
        step = scratch_step(lambda batch: squared_loss(forward(batch[0]), batch[1]) + lam * l2_penalty(w), [w, b], lr)
        return Model(forward, step, w, b)
    net = nn.Linear(len(w0), 1).to(device)
    with torch.no_grad():
        net.weight.copy_(w0.reshape(1, -1))
        net.bias.zero_()
    # two param groups: the optimizer decays the weight, never the bias
    optimizer = make_optimizer("sgd", [{"params": [net.weight], "weight_decay": lam},
                                       {"params": [net.bias], "weight_decay": 0.0}], lr)
    step = concise_step(lambda batch: squared_loss(net(batch[0]), batch[1]), optimizer)
    return Model(net, step, net.weight, net.bias)


def fit_one(p: WeightDecayParams, form: str, lam: float, train, test, device: torch.device) -> Outcome:
    generator = make_generator(p.seed, "train")
    model = make_model(form, lam, p.lr, torch.randn(p.num_inputs, generator=generator), device)
    history = fit_regression(model.forward, model.step, train, test, epochs=p.epochs, batch_size=p.batch_size,
                             generator=generator, desc=config_name(form, lam),
                             extra=lambda: {"w_norm": model.weight.detach().norm().item()})
    return Outcome(history, {**final_of(history), "b": model.bias.detach().item()})
