"""Typed params of the regularization stages (`regularization.<stage>` in params.yaml).

Built with `pipeline.params.build`, so a wrong key, type or range fails naming the param.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping, TypeVar

from pipeline.params import build, require, require_seed, section
from pipeline.stage import check_device_name

T = TypeVar("T")

FORMS = ("scratch", "concise")
VARIANTS = ("scratch", "concise", "no_dropout")
INITS = ("normal", "small", "xavier", "kaiming")
ACTIVATIONS = ("sigmoid", "tanh", "relu")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")  # config names become CSV columns and run names


def _check_training(p: Any, where: str) -> None:
    """Checks every training stage shares: seed, epochs, lr, batch size, device name (pipeline.stage.Stage
    checks cpu_threads and that the device exists when the stage starts)."""
    require_seed(p.seed, f"{where}.seed")
    require(p.epochs >= 1, f"{where}.epochs", f"must be >= 1, got {p.epochs}")
    require(p.lr > 0, f"{where}.lr", f"must be > 0, got {p.lr}")
    require(p.batch_size >= 1, f"{where}.batch_size", f"must be >= 1, got {p.batch_size}")
    check_device_name(p.device, f"{where}.device")


def _check_choices(values: list, name: str) -> None:
    require(len(values) > 0, name, "must list at least one value")
    require(len(set(values)) == len(values), name, f"has duplicates: {values}")


@dataclass
class PolynomialCase:
    """One fit: the first degree + 1 features x^0/0!, ..., x^degree/degree! on the first `n_train`
    training points."""

    degree: int
    n_train: int

    def validate(self, where: str) -> None:
        require(self.degree >= 0, f"{where}.degree", f"must be >= 0, got {self.degree}")
        require(self.n_train >= 1, f"{where}.n_train", f"must be >= 1, got {self.n_train}")


@dataclass
class PolynomialParams:
    seed: int
    max_degree: int  # features x^i / i! for i = 0..max_degree
    true_w: list[float]  # weights of x^0/0!, x^1/1!, ... of the generating polynomial; zeros after
    noise: float
    n_train: int
    n_test: int
    epochs: int
    lr: float
    batch_size: int  # capped at each case's n_train
    cases: dict[str, PolynomialCase]
    device: str = "auto"
    cpu_threads: int = 0

    def validate(self, where: str) -> None:
        _check_training(self, where)
        require(self.max_degree >= 0, f"{where}.max_degree", f"must be >= 0, got {self.max_degree}")
        require(1 <= len(self.true_w) <= self.max_degree + 1, f"{where}.true_w",
                f"must list 1..max_degree + 1 = {self.max_degree + 1} weights, got {len(self.true_w)}")
        require(self.noise >= 0, f"{where}.noise", f"must be >= 0, got {self.noise}")
        require(self.n_train >= 1, f"{where}.n_train", f"must be >= 1, got {self.n_train}")
        require(self.n_test >= 1, f"{where}.n_test", f"must be >= 1, got {self.n_test}")
        require(len(self.cases) > 0, f"{where}.cases", "must define at least one case")
        for name, case in self.cases.items():
            require(bool(_NAME.match(name)), f"{where}.cases.{name}", "name must be letters, digits, _ or -")
            require(case.degree <= self.max_degree, f"{where}.cases.{name}.degree",
                    f"must be <= max_degree ({self.max_degree}), got {case.degree}")
            require(case.n_train <= self.n_train, f"{where}.cases.{name}.n_train",
                    f"must be <= n_train ({self.n_train}), got {case.n_train}")


@dataclass
class WeightDecayParams:
    seed: int
    n_train: int
    n_test: int
    num_inputs: int
    true_w: float  # every one of the num_inputs weights
    true_b: float
    noise: float
    epochs: int
    lr: float
    batch_size: int
    lambdas: list[float]
    forms: list[Literal["scratch", "concise"]]
    device: str = "auto"
    cpu_threads: int = 0

    def validate(self, where: str) -> None:
        _check_training(self, where)
        for key in ("n_train", "n_test", "num_inputs"):
            require(getattr(self, key) >= 1, f"{where}.{key}", f"must be >= 1, got {getattr(self, key)}")
        require(self.noise >= 0, f"{where}.noise", f"must be >= 0, got {self.noise}")
        _check_choices(self.lambdas, f"{where}.lambdas")
        require(all(lam >= 0 for lam in self.lambdas), f"{where}.lambdas", f"must all be >= 0, got {self.lambdas}")
        _check_choices(self.forms, f"{where}.forms")


@dataclass
class DropoutParams:
    seed: int
    variants: list[Literal["scratch", "concise", "no_dropout"]]
    hidden: list[int]  # hidden layer widths
    drop_probs: list[float]  # dropout after each hidden layer (no_dropout uses 0)
    init_std: float  # weights ~ N(0, init_std^2), biases 0, in every variant
    epochs: int
    lr: float
    batch_size: int
    lr_decay: float = 0.0  # lr falls linearly towards 0 over this last fraction of the epochs
    train_limit: int = 0  # first N training images only (0: all 60,000); keeps tests fast
    test_limit: int = 0
    device: str = "auto"
    cpu_threads: int = 0

    def validate(self, where: str) -> None:
        _check_training(self, where)
        _check_choices(self.variants, f"{where}.variants")
        require(len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden), f"{where}.hidden",
                f"must list widths >= 1, got {self.hidden}")
        require(len(self.drop_probs) == len(self.hidden), f"{where}.drop_probs",
                f"needs one probability per hidden layer ({len(self.hidden)}), got {self.drop_probs}")
        require(all(0 <= p < 1 for p in self.drop_probs), f"{where}.drop_probs",
                f"must be in [0, 1), got {self.drop_probs}")
        require(self.init_std > 0, f"{where}.init_std", f"must be > 0, got {self.init_std}")
        require(0 <= self.lr_decay <= 1, f"{where}.lr_decay", f"must be in [0, 1] (0: constant lr), got {self.lr_decay}")
        for key in ("train_limit", "test_limit"):
            require(getattr(self, key) >= 0, f"{where}.{key}", f"must be >= 0 (0: all), got {getattr(self, key)}")


@dataclass
class InitParams:
    seed: int
    depth: int  # hidden layers
    width: int
    inits: list[Literal["normal", "small", "xavier", "kaiming"]]
    activations: list[Literal["sigmoid", "tanh", "relu"]]
    probe_batch: int  # training images the gradient norms are measured on
    probe_steps: int  # measure them again after this many SGD updates (or at the end of a shorter run)
    epochs: int
    lr: float
    batch_size: int
    train_limit: int = 0
    test_limit: int = 0
    device: str = "auto"
    cpu_threads: int = 0

    def validate(self, where: str) -> None:
        _check_training(self, where)
        require(self.depth >= 1, f"{where}.depth", f"must be >= 1, got {self.depth}")
        require(self.width >= 1, f"{where}.width", f"must be >= 1, got {self.width}")
        require(self.probe_batch >= 1, f"{where}.probe_batch", f"must be >= 1, got {self.probe_batch}")
        require(self.probe_steps >= 1, f"{where}.probe_steps", f"must be >= 1, got {self.probe_steps}")
        _check_choices(self.inits, f"{where}.inits")
        _check_choices(self.activations, f"{where}.activations")
        for key in ("train_limit", "test_limit"):
            require(getattr(self, key) >= 0, f"{where}.{key}", f"must be >= 0 (0: all), got {getattr(self, key)}")


STAGES: dict[str, type] = {
    "polynomial": PolynomialParams,
    "weight_decay": WeightDecayParams,
    "dropout": DropoutParams,
    "init": InitParams,
}


def stage_params(params: Mapping[str, Any], stage: str, cls: type[T] | None = None) -> T:
    """Typed params of one stage from the whole params.yaml mapping."""
    where = f"regularization.{stage}"
    return build(cls or STAGES[stage], section(params, where), where)
