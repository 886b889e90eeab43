"""Blend the models' predictions with weights chosen on out-of-fold predictions only.

Regression blends target-space predictions by squared error; classification blends
probabilities by log loss (the same weight for every class), and a binary task scored by
accuracy also gets its decision threshold from out-of-fold predictions.

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
    """`competitions.<key>.blend`: which models' predictions to blend, and how to weigh them."""

    models: list[str] = field(default_factory=list)
    method: Literal["mean", "optimize"] = "optimize"

    def validate(self, where: str) -> None:
        require(len(self.models) >= 1, f"{where}.models", "must name at least one model")
        require(len(set(self.models)) == len(self.models), f"{where}.models", f"has duplicates: {self.models}")


def fit_weights(predictions: np.ndarray, target: np.ndarray, method: str, classification: bool = False) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise the squared error, or the log loss of
    blended probabilities for classification (or equal weights)."""
    n_models = predictions.shape[-1]  # models on the last axis: (rows, models) or (rows, classes, models)
    equal = np.full(n_models, 1.0 / n_models)
    if method == "mean" or n_models == 1:
        return equal
    if not np.all(np.isfinite(target)):
        raise ValueError("blend targets must be finite")
    if classification:
        return _logloss_weights(predictions, target.astype(np.int64), equal)

    def loss(w):
        residual = predictions @ w - target
        return float(residual @ residual) / len(target)

    def grad(w):
        return 2.0 * predictions.T @ (predictions @ w - target) / len(target)

    # Squared errors of log prices are ~1e-2: tolerances far below that, or SLSQP stops at the start.
    return _on_simplex(loss, grad, equal, ftol=1e-14)


def _logloss_weights(predictions: np.ndarray, classes: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Weights of probability columns (n, models) or class blocks (n, classes, models)."""
    probabilities = predictions if predictions.ndim == 3 else np.stack([1 - predictions, predictions], axis=1)
    picked = probabilities[np.arange(len(classes)), classes, :]  # (n, models): each model's P(true class)

    def loss(w):
        return float(-np.mean(np.log(np.clip(picked @ w, 1e-15, None))))

    def grad(w):
        return -(picked / np.clip(picked @ w, 1e-15, None)[:, None]).mean(axis=0)

    return _on_simplex(loss, grad, start, ftol=1e-12)


def _on_simplex(loss, grad, start: np.ndarray, ftol: float) -> np.ndarray:
    """Minimise `loss` over non-negative weights summing to 1 (SLSQP from `start`)."""
    from scipy.optimize import minimize  # imported here: scipy.optimize costs ~1 s at start-up

    result = minimize(loss, start, jac=grad, method="SLSQP", bounds=[(0.0, 1.0)] * len(start),
                      constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
                      options={"ftol": ftol, "maxiter": 1000})
    weights = np.clip(result.x, 0.0, None)
    return weights / weights.sum()


def combine(predictions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted sum over the last axis (models): numbers, probabilities or class blocks."""
    return predictions @ weights


def best_threshold(probability: np.ndarray, classes: np.ndarray) -> float:
    """The P(class 1) cut for accuracy, chosen on these (out-of-fold) rows: 0.5, the best cut for
    calibrated probabilities (the blend minimises log loss), unless another cut is clearly better
    here. A cut that flips n rows' labels must win at least 3 * sqrt(n) more of them than it loses
    (a sign test at three standard errors, strict because ~800 cuts are tried): picking the best
    cut by accuracy alone follows noise, and on Titanic cost 0.005 of accuracy over 13 fold seeds
    (docs/competitions.md)."""
    probability, truth = np.asarray(probability, np.float64), np.asarray(classes) == 1
    at_half = probability >= 0.5
    order = np.unique(probability)
    best, best_gain = 0.5, 0.0
    for cut in (order[:-1] + order[1:]) / 2:
        predicted = probability >= cut
        flipped = predicted != at_half
        if not flipped.any():
            continue
        gain = int(np.sum(predicted[flipped] == truth[flipped])) - int(np.sum(at_half[flipped] == truth[flipped]))
        if gain >= 3 * np.sqrt(flipped.sum()) and gain > best_gain:
            best, best_gain = float(cut), gain
    return best


def out_of_fold_blend(predictions: np.ndarray, target: np.ndarray, fold_ids: np.ndarray,
                      fit_mask: np.ndarray, method: str, classification: bool = False,
                      tune_threshold: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Blend each fold with weights (and, when asked, a binary threshold) fitted on the other
    folds' `fit_mask` rows only. Returns the blend and each row's threshold (0.5 unless tuned)."""
    blended = np.full(predictions.shape[:-1], np.nan)
    thresholds = np.full(len(target), 0.5)
    for fold in np.unique(fold_ids):
        valid = fold_ids == fold
        rows = ~valid & fit_mask
        weights = fit_weights(predictions[rows], target[rows], method, classification)
        blended[valid] = combine(predictions[valid], weights)
        if tune_threshold:
            thresholds[valid] = best_threshold(combine(predictions[rows], weights), target[rows])
    return blended, thresholds
