"""Fit a competition's models: k-fold cross-validation with out-of-fold predictions, and the final fit.

Training rows flagged as outliers (when `competitions.<key>.drop_outliers`) are left out of
every fit but still predicted out of fold, so every row is scored exactly once. Scores are the
competition's metric (`Scorer`); a classifier's out-of-fold predictions are probabilities.
"""

from __future__ import annotations

import ctypes
import os
import signal
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from . import models
from .tasks import REGRESSION, Scorer, Task


@dataclass
class FoldResult:
    fold: int
    n_train: int
    n_valid: int
    train_score: float  # the competition's metric on the rows fitted on
    valid_score: float  # ... and on the held-out fold
    history: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class CVResult:
    oof: np.ndarray  # out-of-fold prediction (target space; probabilities for classes) of every row
    folds: list[FoldResult]


def _fit_fold(params, X, y, valid, train_mask, score, task, seed, fold, curves, groups, progress) -> tuple:
    """One fold: fit on `train_mask` rows outside it, predict it; (FoldResult, fold predictions).
    With `groups`, each side gets group statistics from this fold's fitted rows only."""
    fit_rows = ~valid & train_mask
    X_fit, X_valid = X[fit_rows], X[valid]
    if groups is not None:
        extra_fit, extra_valid = groups.encode(fit_rows, groups.train_codes[valid], seed)
        X_fit, X_valid = np.hstack([X_fit, extra_fit]), np.hstack([X_valid, extra_valid])
    model = models.create(params, X_fit.shape[1], seed, task)
    sets = {"train": (X_fit, y[fit_rows]), "valid": (X_valid, y[valid])} if curves else None
    history = model.fit(X_fit, y[fit_rows], sets, score, progress=progress)
    predicted = model.predict(X_valid)
    return FoldResult(fold, int(fit_rows.sum()), int(valid.sum()), score(y[fit_rows], model.predict(X_fit)),
                      score(y[valid], predicted), history), predicted


def _end_with_parent(parent: int) -> None:
    """In a fold worker: die when the stage that forked it does (Linux), so a killed stage leaves
    no fold training on as an orphan."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the stage died before the line above
        os._exit(1)


def cross_validate(params, X: np.ndarray, y: np.ndarray, fold_ids: np.ndarray, train_mask: np.ndarray,
                   score: Scorer, seed: int, curves: bool = True, progress: bool = True,
                   workers: int = 1, task: Task = REGRESSION, groups=None) -> CVResult:
    """Train one model per fold on `train_mask` rows outside the fold; predict the fold.

    `workers` > 1 fits folds in that many forked processes (`cv.workers`; 0: one per core), so a
    2-core machine fits two folds at once. Each fold's model is seeded by `seed + fold` alone,
    so the results are the same for any number of workers.
    """
    n_folds = int(fold_ids.max()) + 1
    jobs = [(params, X, y, fold_ids == fold, train_mask, score, task, seed + fold, fold, curves, groups)
            for fold in range(n_folds)]
    # disable=None: a bar on a terminal, nothing in a log file (tqdm checks stderr is a tty)
    bar = tqdm(total=n_folds, desc=f"{params.type} folds", unit="fold", disable=None if progress else True,
               leave=False)
    results = []
    if workers == 0:  # `cv.workers: 0`: one per core this process may run on
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with bar:
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # fork: the workers inherit the imported libraries instead of importing them again;
            # their own bars (epochs, trees) stay off so the fold bar is readable
            pool = ProcessPoolExecutor(min(workers, n_folds), mp_context=multiprocessing.get_context("fork"),
                                       initializer=_end_with_parent, initargs=(os.getpid(),))
            try:
                for result in pool.map(_fit_fold, *zip(*jobs), [False] * n_folds):
                    results.append(result)
                    bar.update(1)
            except BaseException:  # stopped (a signal, an error): end the other folds, don't wait for them
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.kill()
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        else:
            for job in jobs:
                results.append(_fit_fold(*job, progress))
                bar.update(1)
    oof = task.empty_predictions(len(y))
    for fold, (_, predicted) in enumerate(results):
        oof[fold_ids == fold] = predicted
    return CVResult(oof, [r for r, _ in results])


def fitted_features(X: np.ndarray, train_mask: np.ndarray, seed: int, groups=None) -> np.ndarray:
    """The rows the final fit learns from, with their out-of-fold group statistics when `groups`
    (the test's come from every fitted row: `groups.encode`)."""
    X_fit = X[train_mask]
    if groups is None:
        return X_fit
    return np.hstack([X_fit, groups.encode(train_mask, groups.train_codes[:0], seed)[0]])


def fit_all(params, X: np.ndarray, y: np.ndarray, train_mask: np.ndarray, score: Scorer, seed: int,
            progress: bool = True, task: Task = REGRESSION):
    """The final fit on every training row (outliers left out when asked); returns (model, history)."""
    model = models.create(params, X.shape[1], seed, task)
    history = model.fit(X[train_mask], y[train_mask], {"train": (X[train_mask], y[train_mask])}, score,
                        progress=progress)
    return model, history
