"""Blend the models' predictions with weights chosen on out-of-fold predictions only.

The headline CV score of the blend is itself out of fold: the weights that predict fold k
are fitted on the other folds' rows, so no validation target ever reaches the blender
while it fits that fold. The final weights (for the test set) use every training row's
out-of-fold prediction; the test set never takes part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pipeline.params import require


@dataclass
class BlendParams:
    """`house.blend`: which models' predictions to blend, and how to weigh them."""

    models: list[str] = field(default_factory=list)
    method: Literal["mean", "optimize"] = "optimize"

    def validate(self, where: str) -> None:
        require(len(self.models) >= 1, f"{where}.models", "must name at least one model")
        require(len(set(self.models)) == len(self.models), f"{where}.models", f"has duplicates: {self.models}")


def fit_weights(predictions: np.ndarray, target: np.ndarray, method: str) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise the squared error (or equal weights)."""
    from scipy.optimize import minimize  # imported here: scipy.optimize costs ~1 s at start-up

    n_models = predictions.shape[1]
    equal = np.full(n_models, 1.0 / n_models)
    if method == "mean" or n_models == 1:
        return equal
    if not np.all(np.isfinite(target)):
        raise ValueError("blend targets must be finite")

    def loss(w):
        residual = predictions @ w - target
        return float(residual @ residual) / len(target)

    def grad(w):
        return 2.0 * predictions.T @ (predictions @ w - target) / len(target)

    # Squared errors of log prices are ~1e-2: tolerances far below that, or SLSQP stops at the start.
    result = minimize(loss, equal, jac=grad, method="SLSQP", bounds=[(0.0, 1.0)] * n_models,
                      constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
                      options={"ftol": 1e-14, "maxiter": 1000})
    weights = np.clip(result.x, 0.0, None)
    return weights / weights.sum()


def out_of_fold_blend(predictions: np.ndarray, target: np.ndarray, fold_ids: np.ndarray,
                      fit_mask: np.ndarray, method: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Blend each fold with weights fitted on the other folds' `fit_mask` rows only."""
    blended = np.full(len(target), np.nan)
    per_fold = []
    for fold in np.unique(fold_ids):
        valid = fold_ids == fold
        rows = ~valid & fit_mask
        weights = fit_weights(predictions[rows], target[rows], method)
        blended[valid] = predictions[valid] @ weights
        per_fold.append(weights)
    return blended, per_fold
