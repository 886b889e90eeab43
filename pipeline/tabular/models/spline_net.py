"""An additive model: the elastic net on the features plus a B-spline basis of each continuous one.

The plain elastic net fits price ~ a straight line in every (Box-Cox'd, z-scored) number. Prices
are not straight in living area, age, lot or basement size; a cubic B-spline basis per
continuous column (a generalised additive model, fitted by the same lasso-type objective)
lets the fit bend where the data says so, and the L1 penalty keeps only the bends that pay.
On the House Prices features it beats the straight elastic net by ~0.003 log-RMSE out of fold.

Beyond the training rows' range a linear model extrapolates without limit, and the partial-sale
outliers (left out of training) lie beyond it: their living area is larger than any house it
was fitted on. So the spline terms extrapolate flat (`extrapolation="constant"`), and with
`clip` every feature is clipped to the range seen in training before predicting, as trees do.
That costs nothing on ordinary houses and keeps the model from pricing a 5,600 sq ft partial
sale like a mansion.

Knots, ranges and basis scales come from the features of the rows the model is fitted on
(never from prices); scikit-learn is imported inside the methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.params import require

from . import ClipsToTrainingRange, CurveSets, Scorer


@dataclass
class SplineNetParams:
    """An additive model (the `SplineNet` below): the elastic net on the features plus a
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


class SplineNet(ClipsToTrainingRange):
    """`type: spline_net`: scikit-learn's ElasticNet on [features, weighted spline bases].

    No steps (coordinate descent on a precomputed Gram matrix, ~0.05 s a fit), so no curves:
    the stage logs its final train and valid scores.
    """

    Params = SplineNetParams
    TASKS = ("regression",)

    def __init__(self, params: SplineNetParams, n_features: int, seed: int):
        self.params, self.n_features = params, n_features
        self.continuous: np.ndarray = np.zeros(0, dtype=np.int64)  # columns with a spline basis
        self.spline = None
        self.basis_mean = self.basis_scale = None
        self.model = None

    def _design(self, X: np.ndarray) -> np.ndarray:
        """Features (clipped to the training range when asked) and their scaled spline bases."""
        x = self._clipped(np.asarray(X, np.float64))
        if not len(self.continuous):
            return x
        basis = (self.spline.transform(x[:, self.continuous]) - self.basis_mean) / self.basis_scale
        return np.hstack([x, self.params.spline_weight * basis])

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        from sklearn.linear_model import ElasticNet
        from sklearn.preprocessing import SplineTransformer

        p = self.params
        x = np.asarray(X, np.float64)
        self._remember_range(x)
        self.continuous = np.flatnonzero([len(np.unique(col)) > p.min_unique for col in x.T])
        if len(self.continuous):
            self.spline = SplineTransformer(n_knots=p.knots, degree=p.degree, knots="quantile",
                                            extrapolation="constant", include_bias=False)
            basis = self.spline.fit_transform(x[:, self.continuous])
            self.basis_mean = basis.mean(0)
            std = basis.std(0)
            self.basis_scale = np.where(std > 0, std, 1.0)  # a basis column empty in training stays 0
        self.model = ElasticNet(alpha=p.alpha, l1_ratio=p.l1_ratio, max_iter=p.max_iter, tol=p.tol,
                                precompute=True, selection="cyclic")
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():  # max_iter is a param: hitting it is the user's choice
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(self._design(x), np.asarray(y, np.float64))
        return {}

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(self._design(X)), dtype=np.float64)

    def n_basis(self) -> int:
        """Spline basis columns added to the features (0 before fitting or with no continuous column)."""
        return 0 if self.spline is None or not len(self.continuous) else len(self.basis_mean)

    def state(self) -> dict[str, Any]:
        return {**self._range_state(), "continuous": self.continuous, "spline": self.spline,
                "basis_mean": self.basis_mean, "basis_scale": self.basis_scale, "model": self.model}

    def load_state(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
