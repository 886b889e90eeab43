"""Fit house models: k-fold cross-validation with out-of-fold predictions, and the final fit.

Training rows flagged as outliers (when `house.outliers.drop_from_training`) are left out of
every fit but still predicted out of fold, so every row is scored exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from . import models
from .evaluation import log_rmse, to_price


@dataclass
class FoldResult:
    fold: int
    n_train: int
    n_valid: int
    train_log_rmse: float
    valid_log_rmse: float
    history: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class CVResult:
    oof: np.ndarray  # out-of-fold prediction (target space) of every training row
    folds: list[FoldResult]


def scorer(log_target: bool):
    """(target, predicted target) -> log-RMSE of prices."""
    return lambda y, pred: log_rmse(to_price(y, log_target), to_price(pred, log_target))


def cross_validate(params, X: np.ndarray, y: np.ndarray, fold_ids: np.ndarray, train_mask: np.ndarray,
                   log_target: bool, seed: int, curves: bool = True, progress: bool = True) -> CVResult:
    """Train one model per fold on `train_mask` rows outside the fold; predict the fold."""
    score = scorer(log_target)
    oof = np.full(len(y), np.nan)
    results = []
    n_folds = int(fold_ids.max()) + 1
    # disable=None: a bar on a terminal, nothing in a log file (tqdm checks stderr is a tty)
    for fold in tqdm(range(n_folds), desc=f"{params.type} folds", unit="fold", disable=None if progress else True,
                     leave=False):
        valid = fold_ids == fold
        fit_rows = ~valid & train_mask
        model = models.create(params, X.shape[1], seed + fold)
        sets = {"train": (X[fit_rows], y[fit_rows]), "valid": (X[valid], y[valid])} if curves else None
        history = model.fit(X[fit_rows], y[fit_rows], sets, score, progress=progress)
        oof[valid] = model.predict(X[valid])
        results.append(FoldResult(fold, int(fit_rows.sum()), int(valid.sum()),
                                  score(y[fit_rows], model.predict(X[fit_rows])), score(y[valid], oof[valid]),
                                  history))
    return CVResult(oof, results)


def fit_all(params, X: np.ndarray, y: np.ndarray, train_mask: np.ndarray, log_target: bool, seed: int,
            progress: bool = True):
    """The final fit on every training row (outliers left out when asked); returns (model, history)."""
    model = models.create(params, X.shape[1], seed)
    score = scorer(log_target)
    history = model.fit(X[train_mask], y[train_mask], {"train": (X[train_mask], y[train_mask])}, score,
                        progress=progress)
    return model, history
