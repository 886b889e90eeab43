"""Under- and overfitting: fit a cubic with polynomial features of several degrees and sample sizes.

All cases share one data set drawn from the true polynomial: training points are the first
`n_train` of a common pool, the test set is the same for every case. The right degree recovers
the true weights; too low a degree underfits (both losses high); too few points overfit (train
loss low, test loss high).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from pipeline.errors import ParamError
from pipeline.regularization.config import PolynomialCase, PolynomialParams
from pipeline.regularization.fit import concise_step, fit_regression, make_generator, squared_loss
from pipeline.regularization.report import Config, Outcome, config_params
from pipeline.regularization.synthetic import polynomial_data, polynomial_features
from pipeline.training import make_optimizer


def configs(p: PolynomialParams, device: torch.device) -> list[Config]:
    x, y = polynomial_data(p.true_w, p.true_b, p.noise, p.n_train + p.n_test, make_generator(p.seed, "data"))
    return [Config(name, config_params(p, ["cases"], case=name, degree=case.degree, n_train=case.n_train),
                   partial(fit_case, p, name, case, x, y, device))
            for name, case in p.cases.items()]


def fit_case(p: PolynomialParams, name: str, case: PolynomialCase, x: torch.Tensor, y: torch.Tensor,
             device: torch.device) -> Outcome:
    generator = make_generator(p.seed, "train")
    train = (polynomial_features(x[:case.n_train], case.degree).to(device), y[:case.n_train].to(device))
    test = (polynomial_features(x[p.n_train:], case.degree).to(device), y[p.n_train:].to(device))
    net = nn.Linear(case.degree, 1)
    nn.init.normal_(net.weight, std=0.01, generator=generator)
    nn.init.zeros_(net.bias)
    net.to(device)
    step = concise_step(lambda batch: squared_loss(net(batch[0]), batch[1]),
                        make_optimizer("sgd", net.parameters(), p.lr))
    history = fit_regression(net, step, train, test, epochs=p.epochs, batch_size=min(p.batch_size, case.n_train),
                             generator=generator, desc=f"polynomial {name}")
    _check_finite(history, name)
    weights = net.weight.detach().cpu().flatten().tolist()
    return Outcome(history, {"train_loss": history["train_loss"][-1], "test_loss": history["test_loss"][-1],
                             **{f"w{k}": w for k, w in enumerate(weights, start=1)},
                             "b": net.bias.item()})


def _check_finite(history: dict[str, list[float]], name: str) -> None:
    """High powers of x make SGD blow up at a large step size: say which param to lower."""
    if not all(math.isfinite(v) for v in history["train_loss"]):
        raise ParamError(f"params.yaml: case '{name}' diverged (train loss is not finite): lower "
                         "'regularization.polynomial.lr' or the case's degree")
