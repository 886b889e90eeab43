"""The k-fold split and the out-of-fold scores, kept apart so every model and the blender share them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import ParamError
from pipeline.params import require

from .tasks import METRICS, Metric, inverse


@dataclass
class CVParams:
    """`competitions.<key>.cv`: k-fold cross-validation settings (stratified for classification)."""

    folds: int = 5
    shuffle: bool = True
    seed: int = 42
    workers: int = 1  # processes fitting folds at once (results do not depend on it)

    def validate(self, where: str) -> None:
        require(self.folds >= 2, f"{where}.folds", f"must be >= 2, got {self.folds}")
        require(self.workers >= 1, f"{where}.workers", f"must be >= 1, got {self.workers}")


def scores(metric: Metric, transform: str, truth: np.ndarray, predicted: np.ndarray, outliers: np.ndarray,
           threshold: float | np.ndarray = 0.5) -> dict[str, float]:
    """The competition's metric over all rows (and over the rows not flagged as outliers, when
    some are); classification adds the other probability and label scores, so a run shows
    log loss and accuracy whichever one Kaggle ranks by. `predicted` is in target space."""
    clean = ~np.asarray(outliers, bool)
    if "regression" in metric.tasks:
        values = inverse(predicted, transform)
        result = {f"oof_{metric.name}": metric(truth, values)}
        if not clean.all():
            result[f"oof_{metric.name}_without_outliers"] = metric(truth[clean], values[clean])
        return result
    result = {f"oof_{metric.name}": metric(truth, predicted, threshold)}
    for other in ("accuracy", "logloss", "auc"):
        if other != metric.name and (other != "auc" or np.ndim(predicted) == 1):
            result[f"oof_{other}"] = METRICS[other](truth, predicted, threshold)
    return result


def fold_summary(folds, metric: str) -> dict[str, float]:
    """The cv stage's per-fold headline: mean and spread of the held-out fold scores, mean train score."""
    valid = [f.valid_score for f in folds]
    return {f"valid_{metric}_mean": float(np.mean(valid)), f"valid_{metric}_std": float(np.std(valid)),
            f"train_{metric}_mean": float(np.mean([f.train_score for f in folds]))}


def fold_ids(n_rows: int, params: CVParams, strata: np.ndarray | None = None,
             where: str = "cv") -> np.ndarray:
    """The fold (0..k-1) that validates each row: every row is validated exactly once.

    Unshuffled folds are contiguous blocks (the original recipe); shuffled ones come from a
    seeded permutation, so the same seed gives the same folds. With `strata` (the class of each
    row, for classification) folds are stratified: each class's rows, in the seeded order, are
    dealt to the folds in turn, so every fold holds each class in about the same share.
    """
    if n_rows < params.folds:  # a fold with no row to validate: the param is wrong, not the data
        raise ParamError(f"params.yaml: '{where}.folds' is {params.folds}, more folds than the {n_rows} rows "
                         f"to split: use 2..{n_rows}")
    order = np.random.default_rng(params.seed).permutation(n_rows) if params.shuffle else np.arange(n_rows)
    ids = np.empty(n_rows, dtype=np.int64)
    if strata is None:
        for fold, chunk in enumerate(np.array_split(order, params.folds)):
            ids[chunk] = fold
        return ids
    strata = np.asarray(strata)[order]
    dealt = 0
    for label in np.unique(strata):
        rows = order[strata == label]
        ids[rows] = (np.arange(len(rows)) + dealt) % params.folds  # the next class starts where this one ended
        dealt += len(rows)
    return ids
