"""What a competition asks for: the task (regression, binary, multiclass) and Kaggle's metric.

A model sees targets in "target space": a regression target after `target_transform` (log
prices for House Prices), or the class index 0..K-1 of a classification target. It predicts
in the same space: a number per row for regression, P(class 1) per row for a binary task,
a row of K probabilities for a multiclass one. Metrics score predictions in the original
space (prices, labels), as Kaggle does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

TaskKind = Literal["regression", "binary", "multiclass"]
TASKS = ("regression", "binary", "multiclass")
TRANSFORMS = ("none", "log", "log1p")


@dataclass(frozen=True)
class Task:
    """The kind of target and, for classification, the number of classes."""

    kind: TaskKind = "regression"
    n_classes: int = 0  # 2 for binary, K for multiclass, 0 for regression

    @property
    def is_classification(self) -> bool:
        return self.kind != "regression"

    def empty_predictions(self, n_rows: int) -> np.ndarray:
        """NaN predictions for `n_rows`, in the task's shape: a row of K probabilities for
        multiclass, one number (or P(class 1)) otherwise."""
        return np.full((n_rows, self.n_classes) if self.kind == "multiclass" else n_rows, np.nan)


REGRESSION = Task()


def _clip_probabilities(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=np.float64), 1e-15, 1 - 1e-15)


def positive_probability(p: np.ndarray) -> np.ndarray:
    """P(class 1) of a binary prediction given as (n,) or (n, 2)."""
    p = np.asarray(p, dtype=np.float64)
    return p[:, 1] if p.ndim == 2 else p


def class_index(p: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Predicted class index: argmax of a row of probabilities, or P(class 1) >= threshold."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] > 2:
        return p.argmax(axis=1)
    return (positive_probability(p) >= threshold).astype(np.int64)


def _rmse(y, p):
    return float(np.sqrt(np.mean((np.asarray(p, np.float64) - np.asarray(y, np.float64)) ** 2)))


def _log_rmse(y, p):
    """RMSE of log values (House Prices' metric); predictions clipped to >= 1 first."""
    return _rmse(np.log(np.asarray(y, np.float64)), np.log(np.clip(np.asarray(p, np.float64), 1.0, None)))


def _rmsle(y, p):
    """Kaggle's RMSLE: RMSE of log(1 + value); negative predictions clipped to 0."""
    return _rmse(np.log1p(np.asarray(y, np.float64)), np.log1p(np.clip(np.asarray(p, np.float64), 0.0, None)))


def _mae(y, p):
    return float(np.mean(np.abs(np.asarray(p, np.float64) - np.asarray(y, np.float64))))


def _accuracy(y, p, threshold: float = 0.5):
    return float(np.mean(class_index(p, threshold) == np.asarray(y)))


def _logloss(y, p):
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 1:
        p = np.column_stack([1 - p, p])
    p = _clip_probabilities(p)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def _auc(y, p):
    """ROC AUC: binary on P(class 1); multiclass as the mean one-vs-rest AUC."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] > 2:
        present = [k for k in range(p.shape[1]) if 0 < np.sum(y == k) < len(y)]
        return float(np.mean([roc_auc_score(y == k, p[:, k]) for k in present]))
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, positive_probability(p)))


@dataclass(frozen=True)
class Metric:
    """One of Kaggle's evaluation metrics: how to score, which tasks it fits, which way is better."""

    name: str
    tasks: tuple[str, ...]
    greater_is_better: bool
    function: Callable[..., float]
    description: str
    target_domain: Literal["any", "positive", "non_negative"] = "any"  # values the metric takes logs of
    uses_threshold: bool = False  # scores labels: a binary prediction is cut at a threshold first

    @property
    def needs_positive_target(self) -> bool:
        return self.target_domain == "positive"

    def __call__(self, y_true, predicted, threshold: float | np.ndarray = 0.5) -> float:
        """The score; `threshold` is the binary decision cut, which only label metrics use."""
        if self.uses_threshold:
            return self.function(y_true, predicted, threshold)
        return self.function(y_true, predicted)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("log_rmse", ("regression",), False, _log_rmse, "RMSE of log values (House Prices)", "positive"),
    Metric("rmsle", ("regression",), False, _rmsle, "RMSE of log(1 + value)", "non_negative"),
    Metric("rmse", ("regression",), False, _rmse, "root mean squared error"),
    Metric("mae", ("regression",), False, _mae, "mean absolute error"),
    Metric("accuracy", ("binary", "multiclass"), True, _accuracy, "share of rows given the right label",
           uses_threshold=True),
    Metric("auc", ("binary", "multiclass"), True, _auc, "area under the ROC curve (multiclass: one-vs-rest mean)"),
    Metric("logloss", ("binary", "multiclass"), False, _logloss, "log loss of the predicted probabilities"),
)}


def forward(values: np.ndarray, transform: str) -> np.ndarray:
    """A regression target into target space."""
    values = np.asarray(values, dtype=np.float64)
    return {"none": lambda v: v, "log": np.log, "log1p": np.log1p}[transform](values)


def inverse(values: np.ndarray, transform: str) -> np.ndarray:
    """Target space back to the target's own units; overflow-safe."""
    values = np.asarray(values, dtype=np.float64)
    if transform == "log":
        return np.exp(np.clip(values, None, 50.0))
    if transform == "log1p":
        return np.expm1(np.clip(values, None, 50.0))
    return values


class Scorer:
    """(target-space truth, target-space prediction) -> the competition's metric; `name` keys curves.

    Regression predictions go back through the inverse transform first; classification truth is
    the class index and predictions are probabilities (accuracy at threshold 0.5 / argmax)."""

    def __init__(self, metric: Metric, transform: str = "none"):
        self.metric, self.transform, self.name = metric, transform, metric.name

    def __call__(self, y: np.ndarray, predicted: np.ndarray) -> float:
        if "regression" in self.metric.tasks:
            return self.metric(inverse(y, self.transform), inverse(predicted, self.transform))
        return self.metric(y, predicted)
