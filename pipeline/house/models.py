"""The House Prices model registry: params dataclasses and where each model class lives.

This module imports neither torch nor scikit-learn: config validation, the blend and every
stage import it, and a stage should pay only for the library its model uses (torch costs
~1 s of start-up, scikit-learn's ensembles ~1 s). Model classes are named as
"module:Class" strings and imported by `create()`.

Every model maps float32 feature rows to the target (log price or price, as preprocessing
chose) through the same small interface: `fit(X, y, curves, score, progress)` returns
curves as per-step lists (`{"valid_log_rmse": [...], ...}`, plus an optional `"step"` list
giving the x value of each point, e.g. number of trees; without it steps are 1, 2, ...),
`predict(X)`, `state()` / `load_state()` to save and load.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import importlib

import numpy as np

from pipeline.errors import ParamError
from pipeline.params import build, require

# Optimizer names pipeline.training.make_optimizer knows (copied, so validation needs no torch;
# tests/test_house_training.py checks the two lists agree).
OPTIMIZERS = ("sgd", "adam", "adamw")

# name -> (X, y) evaluated after every epoch, e.g. {"train": ..., "valid": ...}
CurveSets = dict[str, tuple[np.ndarray, np.ndarray]]
# (y_true, y_pred) in target space -> score (log-RMSE of prices)
Scorer = Callable[[np.ndarray, np.ndarray], float]


@dataclass
class TorchNetParams:
    """A linear model or an MLP trained with minibatch gradient descent."""

    type: Literal["linear", "mlp"]
    hidden: list[int] = field(default_factory=list)
    dropout: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "adam"
    lr: float = 0.01
    batch_size: int = 64
    epochs: int = 100
    standardize_target: bool = False  # learn (y - mean) / std: the net need not spend epochs finding ~12
    device: str = "auto"

    def validate(self, where: str) -> None:
        require(self.optimizer in OPTIMIZERS, f"{where}.optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
        require(self.lr > 0, f"{where}.lr", f"must be > 0, got {self.lr}")
        require(self.batch_size >= 1, f"{where}.batch_size", f"must be >= 1, got {self.batch_size}")
        require(self.epochs >= 1, f"{where}.epochs", f"must be >= 1, got {self.epochs}")
        require(0 <= self.dropout < 1, f"{where}.dropout", f"must be in [0, 1), got {self.dropout}")
        require(self.weight_decay >= 0, f"{where}.weight_decay", f"must be >= 0, got {self.weight_decay}")
        require(all(h >= 1 for h in self.hidden), f"{where}.hidden", f"sizes must be >= 1, got {self.hidden}")
        require(self.type == "mlp" or not self.hidden, f"{where}.hidden", "must be empty for type linear")


@dataclass
class ElasticNetParams:
    """Ridge/lasso-like linear model, fitted by accelerated proximal gradient (FISTA) in NumPy.

    Objective as scikit-learn's ElasticNet: 1/(2n)·‖y − Xw − b‖² + α·(r·‖w‖₁ + (1−r)/2·‖w‖²);
    r = l1_ratio (1: lasso, 0: ridge). Full-batch and float64, so it converges to the optimum.
    """

    type: Literal["elastic_net"]
    alpha: float = 0.0005
    l1_ratio: float = 1.0
    max_iter: int = 20000
    tol: float = 1e-7

    def validate(self, where: str) -> None:
        require(self.alpha >= 0, f"{where}.alpha", f"must be >= 0, got {self.alpha}")
        require(0 <= self.l1_ratio <= 1, f"{where}.l1_ratio", f"must be in [0, 1], got {self.l1_ratio}")
        require(self.max_iter >= 1, f"{where}.max_iter", f"must be >= 1, got {self.max_iter}")


@dataclass
class SklearnParams:
    """A scikit-learn regressor; `options` go to its constructor unchanged."""

    type: Literal["kernel_ridge", "gradient_boosting"]
    options: dict[str, Any] = field(default_factory=dict)


# type -> (params dataclass, model class or "module:Class"); a string is imported on first use,
# so registering a model costs nothing to stages that do not train it.
MODEL_TYPES: dict[str, tuple[type, Any]] = {
    "linear": (TorchNetParams, "pipeline.house.torch_models:TorchNet"),
    "mlp": (TorchNetParams, "pipeline.house.torch_models:TorchNet"),
    "elastic_net": (ElasticNetParams, "pipeline.house.linear_models:ElasticNet"),
    "kernel_ridge": (SklearnParams, "pipeline.house.sklearn_models:Sklearn"),
    "gradient_boosting": (SklearnParams, "pipeline.house.sklearn_models:Sklearn"),
}


def model_params(values: dict[str, Any], where: str):
    """Validate one `house.models.<name>` entry into its params dataclass."""
    kind = values.get("type")
    if kind not in MODEL_TYPES:
        raise ParamError(f"params.yaml: '{where}.type' must be one of {', '.join(MODEL_TYPES)}; got {kind!r}")
    params = build(MODEL_TYPES[kind][0], values, where)
    params.where = where  # not a field: lets a diverging fit name its lr param
    return params


def model_class(kind: str) -> type:
    """The class registered for model type `kind`, imported now if registered by name."""
    target = MODEL_TYPES[kind][1]
    if isinstance(target, str):
        module, _, name = target.partition(":")
        target = getattr(importlib.import_module(module), name)
    return target


def uses_torch(params) -> bool:
    """Whether a model trains with torch (and so has a device and torch threads)."""
    return hasattr(params, "device")


def create(params, n_features: int, seed: int):
    """A fresh, untrained model for validated `params`."""
    return model_class(params.type)(params, n_features, seed)


def to_dict(params) -> dict[str, Any]:
    return dataclasses.asdict(params)


# Knobs that mean the same across model types get one MLflow name, so the compare view lines
# them up: (type-specific field or sklearn option) -> shared name.
_SHARED_NAMES = {"learning_rate": "lr", "n_estimators": "n_trees"}


def tracked_params(name: str, params) -> dict[str, Any]:
    """The `model.*` params an MLflow run logs: `name`, `type`, then the type's own knobs,
    sklearn `options` flattened into the same namespace and shared knobs under shared names
    (`lr`, `n_trees`...). Nothing a model type does not use (no `device` for scikit-learn)."""
    values = to_dict(params)
    options = values.pop("options", None) or {}
    flat = {"name": name, **values, **options}
    return {_SHARED_NAMES.get(k, k): v for k, v in flat.items()}
