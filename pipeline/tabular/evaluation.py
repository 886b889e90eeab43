"""Kaggle's metric and the k-fold split, kept apart so every model and the blender share them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import ParamError
from pipeline.params import require


@dataclass
class CVParams:
    """`house.cv`: k-fold cross-validation settings."""

    folds: int = 5
    shuffle: bool = True
    seed: int = 42
    workers: int = 1  # processes fitting folds at once (results do not depend on it)

    def validate(self, where: str) -> None:
        require(self.folds >= 2, f"{where}.folds", f"must be >= 2, got {self.folds}")
        require(self.workers >= 1, f"{where}.workers", f"must be >= 1, got {self.workers}")


def log_rmse(prices: np.ndarray, predicted: np.ndarray) -> float:
    """RMSE of log prices (the competition's metric); predictions are clipped to >= 1 first."""
    predicted = np.clip(np.asarray(predicted, dtype=np.float64), 1.0, None)
    return float(np.sqrt(np.mean((np.log(predicted) - np.log(np.asarray(prices, dtype=np.float64))) ** 2)))


def to_price(target: np.ndarray, log_target: bool) -> np.ndarray:
    """Model output (log price or price) back to a price; overflow-safe."""
    target = np.asarray(target, dtype=np.float64)
    return np.exp(np.clip(target, None, 50.0)) if log_target else target


def oof_scores(prices: np.ndarray, oof_target: np.ndarray, log_target: bool,
               outliers: np.ndarray) -> dict[str, float]:
    """Log-RMSE of out-of-fold predictions over all rows and over the rows not flagged as outliers:
    the two scores the cv and blend stages report and a sweep can minimise."""
    predicted, clean = to_price(oof_target, log_target), ~np.asarray(outliers, bool)
    return {"oof_log_rmse": log_rmse(prices, predicted),
            "oof_log_rmse_without_outliers": log_rmse(prices[clean], predicted[clean])}


def fold_ids(n_rows: int, params: CVParams) -> np.ndarray:
    """The fold (0..k-1) that validates each row: every row is validated exactly once.

    Unshuffled folds are contiguous blocks (the original recipe); shuffled ones come from a
    seeded permutation, so the same seed gives the same folds.
    """
    if n_rows < params.folds:  # a fold with no row to validate: the param is wrong, not the data
        raise ParamError(f"params.yaml: 'house.cv.folds' is {params.folds}, more folds than the {n_rows} rows "
                         f"to split: use 2..{n_rows}")
    order = np.random.default_rng(params.seed).permutation(n_rows) if params.shuffle else np.arange(n_rows)
    ids = np.empty(n_rows, dtype=np.int64)
    for fold, chunk in enumerate(np.array_split(order, params.folds)):
        ids[chunk] = fold
    return ids
