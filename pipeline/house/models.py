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


class ClipsToTrainingRange:
    """For model types with a `clip` param (spline_net, svr, lightgbm): each feature's range over
    the rows fitted on, and the features clipped to it before predicting when `clip` is on. The
    partial-sale outliers are left out of training and lie beyond that range; lines, splines and
    kernels would extrapolate to them. The range travels in the model's state as `low` / `high`."""

    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def _remember_range(self, x: np.ndarray) -> None:
        self.low, self.high = np.min(x, axis=0), np.max(x, axis=0)

    def _clipped(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.low, self.high) if self.params.clip else x

    def _range_state(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}

    def _load_range(self, state: dict[str, Any]) -> None:
        self.low, self.high = state.get("low"), state.get("high")


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
class SplineNetParams:
    """An additive model (pipeline/house/additive.py): the elastic net on the features plus a
    cubic B-spline basis of every continuous feature, so the fit can bend (GAM-like).

    Objective as ElasticNet's; `alpha`, `l1_ratio` as there. A feature with more than
    `min_unique` distinct training values gets `knots` quantile knots (knots + degree - 1 basis
    columns), standardized and multiplied by `spline_weight` (smaller: bends cost more).
    Splines extrapolate flat; `clip` also clips every feature to its training range.
    """

    type: Literal["spline_net"]
    alpha: float = 0.0005
    l1_ratio: float = 1.0
    knots: int = 6
    degree: int = 3
    min_unique: int = 20
    spline_weight: float = 0.5
    clip: bool = True
    max_iter: int = 50000
    tol: float = 0.0001

    def validate(self, where: str) -> None:
        require(self.alpha > 0, f"{where}.alpha", f"must be > 0, got {self.alpha}")
        require(0 <= self.l1_ratio <= 1, f"{where}.l1_ratio", f"must be in [0, 1], got {self.l1_ratio}")
        require(self.knots >= 2, f"{where}.knots", f"must be >= 2, got {self.knots}")
        require(1 <= self.degree <= 5, f"{where}.degree", f"must be in [1, 5], got {self.degree}")
        require(self.min_unique >= 2, f"{where}.min_unique", f"must be >= 2, got {self.min_unique}")
        require(self.spline_weight > 0, f"{where}.spline_weight", f"must be > 0, got {self.spline_weight}")
        require(self.max_iter >= 1, f"{where}.max_iter", f"must be >= 1, got {self.max_iter}")
        require(self.tol > 0, f"{where}.tol", f"must be > 0, got {self.tol}")


@dataclass
class SklearnParams:
    """A scikit-learn regressor; `options` go to its constructor unchanged."""

    type: Literal["kernel_ridge", "gradient_boosting"]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class LightGBMParams:
    """LightGBM boosted trees (pipeline/house/boosting.py); names as LightGBM's scikit-learn API."""

    type: Literal["lightgbm"]
    n_estimators: int = 1000
    learning_rate: float = 0.03
    num_leaves: int = 8
    max_depth: int = -1  # -1: no limit (num_leaves bounds the tree)
    min_child_samples: int = 10
    subsample: float = 0.8  # rows per tree (bagging every tree when < 1)
    colsample_bytree: float = 0.3  # features per tree
    reg_alpha: float = 0.0
    reg_lambda: float = 0.0
    max_bin: int = 255
    min_data_in_bin: int = 3
    objective: Literal["regression", "huber", "regression_l1", "fair"] = "regression"
    huber_delta: float = 0.9  # huber: residuals (in target units) beyond this count linearly
    linear_tree: bool = False  # a ridge line in every leaf instead of a constant (LightGBM's linear_tree)
    linear_lambda: float = 0.0  # linear_tree: L2 penalty of the leaves' lines
    clip: bool = False  # clip features to the training range before predicting (no linear extrapolation)
    threads: int = 1  # 2-core shared machine: more threads spin, not speed up
    curve_every: int = 10  # log the curves every this many trees

    def validate(self, where: str) -> None:
        require(self.n_estimators >= 1, f"{where}.n_estimators", f"must be >= 1, got {self.n_estimators}")
        require(self.learning_rate > 0, f"{where}.learning_rate", f"must be > 0, got {self.learning_rate}")
        require(self.num_leaves >= 2, f"{where}.num_leaves", f"must be >= 2, got {self.num_leaves}")
        require(self.max_depth == -1 or self.max_depth >= 1, f"{where}.max_depth",
                f"must be -1 (no limit) or >= 1, got {self.max_depth}")
        require(self.min_child_samples >= 1, f"{where}.min_child_samples",
                f"must be >= 1, got {self.min_child_samples}")
        require(0 < self.subsample <= 1, f"{where}.subsample", f"must be in (0, 1], got {self.subsample}")
        require(0 < self.colsample_bytree <= 1, f"{where}.colsample_bytree",
                f"must be in (0, 1], got {self.colsample_bytree}")
        require(self.reg_alpha >= 0, f"{where}.reg_alpha", f"must be >= 0, got {self.reg_alpha}")
        require(self.reg_lambda >= 0, f"{where}.reg_lambda", f"must be >= 0, got {self.reg_lambda}")
        require(self.max_bin >= 2, f"{where}.max_bin", f"must be >= 2, got {self.max_bin}")
        require(self.min_data_in_bin >= 1, f"{where}.min_data_in_bin", f"must be >= 1, got {self.min_data_in_bin}")
        require(self.huber_delta > 0, f"{where}.huber_delta", f"must be > 0, got {self.huber_delta}")
        require(self.linear_lambda >= 0, f"{where}.linear_lambda", f"must be >= 0, got {self.linear_lambda}")
        require(self.threads >= 1, f"{where}.threads", f"must be >= 1, got {self.threads}")
        require(self.curve_every >= 1, f"{where}.curve_every", f"must be >= 1, got {self.curve_every}")


@dataclass
class SVRParams:
    """Support vector regression (pipeline/house/kernels.py): epsilon-insensitive, robust to outliers."""

    type: Literal["svr"]
    kernel: Literal["rbf", "linear", "poly"] = "rbf"
    C: float = 20.0
    epsilon: float = 0.008
    gamma: float = 0.0003
    degree: int = 2
    coef0: float = 1.0
    scale: Literal["none", "standard", "robust"] = "none"  # rescale features before the kernel
    clip: bool = False  # clip features to their training range before predicting (no extrapolation)

    def validate(self, where: str) -> None:
        require(self.C > 0, f"{where}.C", f"must be > 0, got {self.C}")
        require(self.epsilon >= 0, f"{where}.epsilon", f"must be >= 0, got {self.epsilon}")
        require(self.gamma > 0, f"{where}.gamma", f"must be > 0, got {self.gamma}")
        require(self.degree >= 1, f"{where}.degree", f"must be >= 1, got {self.degree}")


# type -> (params dataclass, model class or "module:Class"); a string is imported on first use,
# so registering a model costs nothing to stages that do not train it.
MODEL_TYPES: dict[str, tuple[type, Any]] = {
    "linear": (TorchNetParams, "pipeline.house.torch_models:TorchNet"),
    "mlp": (TorchNetParams, "pipeline.house.torch_models:TorchNet"),
    "elastic_net": (ElasticNetParams, "pipeline.house.linear_models:ElasticNet"),
    "kernel_ridge": (SklearnParams, "pipeline.house.sklearn_models:Sklearn"),
    "gradient_boosting": (SklearnParams, "pipeline.house.sklearn_models:Sklearn"),
    "lightgbm": (LightGBMParams, "pipeline.house.boosting:LightGBM"),
    "svr": (SVRParams, "pipeline.house.kernels:SVR"),
    "spline_net": (SplineNetParams, "pipeline.house.additive:SplineNet"),
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
