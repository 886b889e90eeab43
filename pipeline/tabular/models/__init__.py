"""The tabular model types: the registry, and what every model shares.

One module per model type sits beside this file and holds the type's params dataclass and its
model class (`Params` on the class). A type is registered below by "module:Class" and its
module is imported only when a stage uses that type, so a stage pays only for the library its
model needs (torch ~1 s of start-up, scikit-learn's ensembles ~1 s). To add a type: its
module here, its line in MODEL_TYPES, its block under `house.models` in params.yaml
(CONTRIBUTING.md walks through it). dvc.yaml's house stages depend on this whole folder.

Every model maps float32 feature rows to target space (tasks.py) through the same small
interface: `fit(X, y, curves, score, progress)` returns curves as per-step lists
(`{"valid_log_rmse": [...], ...}`, keyed `<set>_<score.name>`, plus an optional `"step"` list
giving the x value of each point, e.g. number of trees; without it steps are 1, 2, ...),
`predict(X)`, `state()` / `load_state()` to save and load.

The tasks a type can learn are its class's `TASKS`; a class without one is regression-only and
is built as `Class(params, n_features, seed)`. A class that learns classification is built as
`Class(params, n_features, seed, task)`, takes class indices 0..K-1 as `y` and predicts
probabilities: P(class 1) per row for a binary task, a row of K for a multiclass one.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.errors import ParamError
from pipeline.params import build
from pipeline.tabular.tasks import REGRESSION, Task

# name -> (X, y) evaluated after every epoch, e.g. {"train": ..., "valid": ...}
CurveSets = dict[str, tuple[np.ndarray, np.ndarray]]
# (y_true, y_pred) in target space -> the competition's metric; its `name` keys the curves
Scorer = Callable[[np.ndarray, np.ndarray], float]


def curve_key(set_name: str, score: Scorer) -> str:
    """`<set>_<metric>`, e.g. `valid_log_rmse` (a score without a `name` is House's log-RMSE)."""
    return f"{set_name}_{getattr(score, 'name', 'log_rmse')}"


def class_targets(y: np.ndarray, task: Task) -> np.ndarray:
    """Classification targets as int64 class indices (they may arrive as floats 0.0 / 1.0)."""
    labels = np.asarray(y).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= task.n_classes or not np.array_equal(labels, y)):
        raise ValueError(f"{task.kind} targets must be class indices 0..{task.n_classes - 1}; "
                         f"got {np.unique(y)[:10]}")
    return labels


def class_probabilities(proba: np.ndarray, task: Task, classes: np.ndarray | None = None) -> np.ndarray:
    """A classifier's (n, k) probabilities as every model predicts them: P(class 1), shape (n,), for
    a binary task, (n, K) for a multiclass one; float64 in [0, 1]. `classes`: each column's class
    index (scikit-learn's `classes_`), as a fit on a fold lacking a class has fewer columns."""
    proba = np.asarray(proba, np.float64)
    if classes is not None:
        full = np.zeros((len(proba), task.n_classes))
        full[:, np.asarray(classes, np.int64)] = proba
        proba = full
    if task.kind == "binary" and proba.ndim == 2:
        proba = proba[:, 1]
    return np.clip(proba, 0.0, 1.0)


class ClipsToTrainingRange:
    """For model types with a `clip` param (spline_net, svr, svm, lightgbm): each feature's range over
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
    "kernel_ridge": "sklearn_regressors:KernelRidge",
    "gradient_boosting": "sklearn_regressors:GradientBoosting",
    "lightgbm": "lightgbm_trees:LightGBM",
    "svm": "svr:SVM",
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


def model_tasks(kind: str) -> tuple[str, ...]:
    """The tasks model type `kind` can learn (its module imported now)."""
    return getattr(model_class(kind), "TASKS", ("regression",))


def check_task(params, task: Task, where: str) -> None:
    """Fail naming `<where>.type` unless that model type can learn `task`; `params` is the
    validated dataclass or its params.yaml mapping. Imports the type's module (as model_params
    does); only a failure imports the others, to list the types that would do."""
    kind = params["type"] if isinstance(params, dict) else params.type
    supported = model_tasks(kind)
    if task.kind in supported:
        return
    only = "regression-only" if supported == ("regression",) else f"{'/'.join(supported)}-only"
    family = "classification" if task.is_classification else "regression"
    fitting = [name for name in MODEL_TYPES if task.kind in model_tasks(name)]
    raise ParamError(f"params.yaml: '{where}.type' is {kind}, a {only} model type; this competition's task "
                     f"is {task.kind} ({family} types: {', '.join(fitting)})")


def create(params, n_features: int, seed: int, task: Task = REGRESSION):
    """A fresh, untrained model for validated `params`, learning `task` (see check_task)."""
    check_task(params, task, getattr(params, "where", f"models.{params.type}"))
    cls = model_class(params.type)
    return cls(params, n_features, seed, task) if task.is_classification else cls(params, n_features, seed)


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
