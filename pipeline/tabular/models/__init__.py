"""The House Prices model types: the registry, and what every model shares.

One module per model type sits beside this file and holds the type's params dataclass and its
model class (`Params` on the class). A type is registered below by "module:Class" and its
module is imported only when a stage uses that type, so a stage pays only for the library its
model needs (torch ~1 s of start-up, scikit-learn's ensembles ~1 s). To add a type: its
module here, its line in MODEL_TYPES, its block under `house.models` in params.yaml
(CONTRIBUTING.md walks through it). dvc.yaml's house stages depend on this whole folder.

Every model maps float32 feature rows to the target (log price or price, as preprocessing
chose) through the same small interface: `fit(X, y, curves, score, progress)` returns
curves as per-step lists (`{"valid_log_rmse": [...], ...}`, plus an optional `"step"` list
giving the x value of each point, e.g. number of trees; without it steps are 1, 2, ...),
`predict(X)`, `state()` / `load_state()` to save and load.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

import numpy as np

from pipeline.errors import ParamError
from pipeline.params import build

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














# type -> "module:Class" of this package; the module is imported when the type is first used.
MODEL_TYPES: dict[str, str] = {
    "linear": "torch_net:TorchNet",
    "mlp": "torch_net:TorchNet",
    "elastic_net": "elastic_net:ElasticNet",
    "kernel_ridge": "sklearn_regressors:Sklearn",
    "gradient_boosting": "sklearn_regressors:Sklearn",
    "lightgbm": "lightgbm_trees:LightGBM",
    "svr": "svr:SVR",
    "spline_net": "spline_net:SplineNet",
}


def check_type(values: Any, where: str) -> None:
    """Fail naming the param unless `values` is a mapping whose `type` is registered (no import)."""
    if not isinstance(values, dict):
        raise ParamError(f"params.yaml: '{where}' must be a mapping")
    if values.get("type") not in MODEL_TYPES:
        raise ParamError(f"params.yaml: '{where}.type' must be one of {', '.join(MODEL_TYPES)}; "
                         f"got {values.get('type')!r}")


def model_params(values: dict[str, Any], where: str):
    """Validate one `house.models.<name>` entry into its params dataclass."""
    check_type(values, where)
    params = build(model_class(values["type"]).Params, values, where)
    params.where = where  # not a field: lets a diverging fit name its lr param
    return params


def model_class(kind: str) -> type:
    """The class registered for model type `kind` (its module imported now)."""
    module, _, name = MODEL_TYPES[kind].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
