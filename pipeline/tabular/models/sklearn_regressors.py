"""Models from scikit-learn: kernel ridge (regression only) and gradient boosting (any task).

Kept apart from the registry (models.py) so that only stages training these import
scikit-learn (its ensembles take ~1 s to import), and none of them imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from pipeline.errors import ParamError
from pipeline.tabular.tasks import REGRESSION, Task
from pipeline.tabular.tasks import TASKS as ALL_TASKS

from . import CurveSets, Scorer, class_probabilities, class_targets, curve_key

CURVE_POINTS = 40  # points per staged curve: one every n_trees / 40 trees
# GradientBoostingRegressor's losses, and its options the classifier lacks (alpha: huber/quantile)
REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "quantile")
REGRESSION_ONLY_OPTIONS = ("alpha",)


@dataclass
class SklearnParams:
    """A scikit-learn model; `options` go to its constructor unchanged (but see GradientBoosting
    for a classification task)."""

    type: Literal["kernel_ridge", "gradient_boosting"]
    options: dict[str, Any] = field(default_factory=dict)


class Sklearn:
    """What both types share: the estimator built from `options` (a bad option fails naming the
    type), float64 rows, the fitted estimator pickled as the state."""

    Params = SklearnParams

    def __init__(self, params: SklearnParams, n_features: int, seed: int, task: Task = REGRESSION):
        self.params, self.task = params, task
        try:
            self.model = self._make(dict(params.options), seed)
            self.model._validate_params()
        except (TypeError, ValueError) as exc:
            raise ParamError(f"params.yaml: bad options for {params.type}: {exc}") from exc

    def _make(self, options: dict[str, Any], seed: int):
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:
        x = np.asarray(X, dtype=np.float64)
        if self.task.is_classification:
            return class_probabilities(self.model.predict_proba(x), self.task, self.model.classes_)
        return np.asarray(self.model.predict(x), dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {"model": self.model}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model = state["model"]


class KernelRidge(Sklearn):
    """`type: kernel_ridge`: scikit-learn's KernelRidge. No steps, so no curves."""

    TASKS = ("regression",)

    def _make(self, options: dict[str, Any], seed: int):
        from sklearn.kernel_ridge import KernelRidge

        return KernelRidge(**options)

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        self.model.fit(np.asarray(X, dtype=np.float64), y)
        return {}


class GradientBoosting(Sklearn):
    """`type: gradient_boosting`: GradientBoostingRegressor, or GradientBoostingClassifier for a
    classification task. The classifier takes the same options, except that a regression `loss`
    (squared_error, huber...) gives way to its default log_loss and `alpha` is left out, so one
    options block serves both tasks. `random_state` defaults to the seed."""

    TASKS = ALL_TASKS

    def _make(self, options: dict[str, Any], seed: int):
        options.setdefault("random_state", seed)
        if not self.task.is_classification:
            from sklearn.ensemble import GradientBoostingRegressor

            return GradientBoostingRegressor(**options)
        from sklearn.ensemble import GradientBoostingClassifier

        if options.get("loss") in REGRESSION_LOSSES:
            del options["loss"]
        for name in REGRESSION_ONLY_OPTIONS:
            options.pop(name, None)
        return GradientBoostingClassifier(**options)

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        """Fit with a bar per tree on stderr; with `curves` and `score`, staged curves: each
        set's score after 1, k, 2k... trees (`step` = number of trees)."""
        X = np.asarray(X, dtype=np.float64)
        if self.task.is_classification:
            y = class_targets(y, self.task)
        n_trees = self.model.n_estimators
        with tqdm(total=n_trees, desc="gradient boosting", unit="tree", leave=False,
                  disable=None if progress else True) as bar:
            def monitor(i, *_):  # called after each tree; returning False goes on
                bar.update(1)
                return False

            self.model.fit(X, y, monitor=monitor)
        if not (curves and score):
            return {}
        every = max(1, n_trees // CURVE_POINTS)
        steps = sorted({1, *range(every, n_trees + 1, every), self.model.n_estimators_})
        history: dict[str, list[float]] = {"step": [float(s) for s in steps]}
        for name, (xx, yy) in curves.items():
            staged = self._staged(np.asarray(xx, dtype=np.float64))
            wanted = set(steps)
            history[curve_key(name, score)] = [score(yy, pred) for k, pred in enumerate(staged, 1) if k in wanted]
        return history

    def _staged(self, x: np.ndarray):
        """Predictions after each tree, as `predict` gives them."""
        if not self.task.is_classification:
            return self.model.staged_predict(x)
        return (class_probabilities(proba, self.task, self.model.classes_)
                for proba in self.model.staged_predict_proba(x))
