"""Under- and over-fitting: fit y = 5 + 1.2x - 3.4x^2/2! + 5.6x^3/3! + noise with the first
degree + 1 of the features x^i / i! (i = 0..max_degree), on many or few points.

All cases share one data set (d2l's `max_degree` version): `n_train` training points, of which a
case uses the first `n_train` of its own, and the same `n_test` test points. The model is
`nn.Linear(degree + 1, 1, bias=False)`: the constant feature x^0 plays the bias. The right degree
recovers the true weights and reaches the noise floor (noise^2 / 2 on the half squared loss);
degree 1 under-fits (train loss stays high); degree 20 and 2 training points over-fit.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from pipeline.errors import ParamError
from pipeline.regularization.config import PolynomialCase, PolynomialParams
from pipeline.regularization.fit import concise_step, fit_regression, make_generator, squared_loss
from pipeline.regularization.runner import Config, Outcome, config_params, final_of
from pipeline.regularization.synthetic import polynomial_data
from pipeline.training import make_optimizer


def configs(p: PolynomialParams, device: torch.device) -> list[Config]:
    features, y = polynomial_data(p.true_w, p.max_degree, p.noise, p.n_train + p.n_test,
                                  make_generator(p.seed, "data"))
    return [Config(name, config_params(p, ["cases", "n_train"], case=name, degree=case.degree,
                                       n_features=case.degree + 1, n_train=case.n_train),
                   partial(fit_case, p, name, case, features, y, device))
            for name, case in p.cases.items()]


def fit_case(p: PolynomialParams, name: str, case: PolynomialCase, features: torch.Tensor, y: torch.Tensor,
             device: torch.device) -> Outcome:
    generator = make_generator(p.seed, "train")
    columns = case.degree + 1
    train = (features[:case.n_train, :columns].to(device), y[:case.n_train].to(device))
    test = (features[p.n_train:, :columns].to(device), y[p.n_train:].to(device))
    net = nn.Linear(columns, 1, bias=False)
    nn.init.normal_(net.weight, std=0.01, generator=generator)
    net.to(device)
    step = concise_step(lambda batch: squared_loss(net(batch[0]), batch[1]),
                        make_optimizer("sgd", net.parameters(), p.lr))
    history = fit_regression(net, step, train, test, epochs=p.epochs, batch_size=min(p.batch_size, case.n_train),
                             generator=generator, desc=f"polynomial {name}")
    _check_finite(history, name)
    weights = net.weight.detach().cpu().flatten().tolist()
    return Outcome(history, {**final_of(history), **{f"w{i}": w for i, w in enumerate(weights)}})


def learned_weights(final: dict[str, float]) -> list[float]:
    """w0, w1, ... of a case's final metrics, in order."""
    return [final[f"w{i}"] for i in range(sum(1 for k in final if k[0] == "w" and k[1:].isdigit()))]


def _check_finite(history: dict[str, list[float]], name: str) -> None:
    """High powers of x make SGD blow up at a large step size: say which param to lower."""
    if not all(math.isfinite(v) for v in history["train_loss"]):
        raise ParamError(f"params.yaml: case '{name}' diverged (train loss is not finite): lower "
                         "'regularization.polynomial.lr' or the case's degree")
