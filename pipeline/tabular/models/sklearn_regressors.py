"""House models from scikit-learn: kernel ridge and gradient boosting.

Kept apart from the registry (models.py) so that only stages training these import
scikit-learn (its ensembles take ~1 s to import), and none of them imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from pipeline.errors import ParamError

from . import CurveSets, Scorer

CURVE_POINTS = 40  # points per staged curve: one every n_trees / 40 trees


@dataclass
class SklearnParams:
    """A scikit-learn regressor; `options` go to its constructor unchanged."""

    type: Literal["kernel_ridge", "gradient_boosting"]
    options: dict[str, Any] = field(default_factory=dict)


class Sklearn:
    Params = SklearnParams

    def __init__(self, params: SklearnParams, n_features: int, seed: int):
        self.params = params
        options = dict(params.options)
        if params.type == "gradient_boosting":
            from sklearn.ensemble import GradientBoostingRegressor as make

            options.setdefault("random_state", seed)
        else:
            from sklearn.kernel_ridge import KernelRidge as make
        try:
            self.model = make(**options)
            self.model._validate_params()
        except (TypeError, ValueError) as exc:
            raise ParamError(f"params.yaml: bad options for {params.type}: {exc}") from exc

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        """Fit; for gradient boosting also a bar per tree on stderr and staged curves:
        each set's score after 1, k, 2k... trees (`step` = number of trees)."""
        X = np.asarray(X, dtype=np.float64)
        if not hasattr(self.model, "staged_predict"):
            self.model.fit(X, y)
            return {}
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
            staged = self.model.staged_predict(np.asarray(xx, dtype=np.float64))
            wanted = set(steps)
            history[f"{name}_log_rmse"] = [score(yy, pred) for k, pred in enumerate(staged, 1) if k in wanted]
        return history

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(np.asarray(X, dtype=np.float64)), dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {"model": self.model}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model = state["model"]
