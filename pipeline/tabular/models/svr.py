"""Support vector machines: `svr`, the kernel regression top House Prices solutions blend in,
and `svm`, which a competition of any task can name.

SVR's epsilon-insensitive, linear-beyond-epsilon loss lets a few badly priced houses pull the
fit far less than squared error does, and the RBF kernel adds smooth interactions the
linear models lack. For classification `svm` is scikit-learn's SVC with Platt-scaled
probabilities. scikit-learn is imported inside the methods (start-up stays cheap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.params import require
from pipeline.tabular.tasks import REGRESSION, Task
from pipeline.tabular.tasks import TASKS as ALL_TASKS

from . import ClipsToTrainingRange, class_probabilities, class_targets


@dataclass
class SVRParams:
    """Support vector regression: epsilon-insensitive, robust to outliers."""

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


class SVR(ClipsToTrainingRange):
    """`type: svr`: scikit-learn's SVR, optionally after standard or robust feature scaling.

    With `clip`, features are clipped to the range of the training rows before predicting: a
    house bigger than any the model saw (the partial-sale outliers, left out of training) is
    priced like the biggest it saw instead of by extrapolation.

    No steps, so no curves: the stage logs its final train and valid scores.
    """

    Params = SVRParams
    TASKS = ("regression",)

    def __init__(self, params, n_features: int, seed: int):
        self.params, self.n_features = params, n_features
        self.model = None

    def _estimator(self):
        from sklearn.svm import SVR as _SVR

        p = self.params
        return _SVR(kernel=p.kernel, C=p.C, epsilon=p.epsilon, gamma=p.gamma, degree=p.degree, coef0=p.coef0,
                    cache_size=500)

    def _make(self):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import RobustScaler, StandardScaler

        scaler = {"standard": StandardScaler, "robust": RobustScaler}.get(self.params.scale)
        return make_pipeline(scaler(), self._estimator()) if scaler else make_pipeline(self._estimator())

    def fit(self, X: np.ndarray, y: np.ndarray, curves=None, score=None, progress: bool = False
            ) -> dict[str, list[float]]:
        x = np.asarray(X, np.float64)
        self._remember_range(x)
        self.model = self._make().fit(x, np.asarray(y, np.float64))
        return {}

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(self._clipped(np.asarray(X, np.float64))), dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {"model": self.model, **self._range_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model = state["model"]
        self._load_range(state)


@dataclass
class SVMParams(SVRParams):
    """A support vector machine for any task: SVC for classification, SVR (as `svr`) for
    regression. Defaults are scikit-learn's, not svr's House Prices tuning; `epsilon` is SVR's."""

    type: Literal["svm"]
    C: float = 1.0
    epsilon: float = 0.1
    gamma: float | Literal["scale", "auto"] = "scale"  # scale: 1 / (n_features · variance of X)
    degree: int = 3
    coef0: float = 0.0

    def validate(self, where: str) -> None:
        require(self.C > 0, f"{where}.C", f"must be > 0, got {self.C}")
        require(self.epsilon >= 0, f"{where}.epsilon", f"must be >= 0, got {self.epsilon}")
        require(isinstance(self.gamma, str) or self.gamma > 0, f"{where}.gamma",
                f"must be > 0, 'scale' or 'auto', got {self.gamma}")
        require(self.degree >= 1, f"{where}.degree", f"must be >= 1, got {self.degree}")


class SVM(SVR):
    """`type: svm`: for a classification task scikit-learn's SVC, its probabilities by Platt
    scaling fitted on 5-fold out-of-fold decision values (CalibratedClassifierCV with
    ensemble=False: what scikit-learn 1.9 asks for instead of the deprecated
    SVC(probability=True); unshuffled stratified folds, so no seed); for regression exactly
    `svr`. Scaling and `clip` as `svr`; no curves."""

    Params = SVMParams
    TASKS = ALL_TASKS

    def __init__(self, params, n_features: int, seed: int, task: Task = REGRESSION):
        super().__init__(params, n_features, seed)
        self.task = task

    def _estimator(self):
        if not self.task.is_classification:
            return super()._estimator()
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        p = self.params
        svc = SVC(kernel=p.kernel, C=p.C, gamma=p.gamma, degree=p.degree, coef0=p.coef0, cache_size=500)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=5, ensemble=False)

    def fit(self, X: np.ndarray, y: np.ndarray, curves=None, score=None, progress: bool = False
            ) -> dict[str, list[float]]:
        return super().fit(X, class_targets(y, self.task) if self.task.is_classification else y)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not self.task.is_classification:
            return super().predict(X)
        proba = self.model.predict_proba(self._clipped(np.asarray(X, np.float64)))
        return class_probabilities(proba, self.task, self.model.classes_)
