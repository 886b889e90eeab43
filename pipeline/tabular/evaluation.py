"""The k-fold split and the out-of-fold scores, kept apart so every model and the blender share them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.params import require, require_seed

from . import validation
from .tasks import METRICS, Metric, inverse


@dataclass
class CVParams:
    """`competitions.<key>.cv`: k-fold cross-validation settings (stratified for classification)."""

    folds: int = 5
    shuffle: bool = True
    seed: int = 42
    workers: int = 1  # processes fitting folds at once (results do not depend on it)
    scheme: str = "auto"  # how rows are dealt to folds (auto, random, stratified, group:COL, time:COL)

    def validate(self, where: str) -> None:
        require(self.folds >= 2, f"{where}.folds", f"must be >= 2, got {self.folds}")
        require(self.workers >= 0, f"{where}.workers", f"must be >= 0 (0: one per CPU core), got {self.workers}")
        require_seed(self.seed, f"{where}.seed")
        validation.check_scheme(self.scheme, f"{where}.scheme")


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


def standard_errors(scored: dict[str, float], fold_scores: list[dict[str, float]], metric: str,
                    n_test: int = 0) -> dict[str, float]:
    """How far each out-of-fold score may be from what another sample would give: `<score>_se`, the
    spread of its fold scores / sqrt(k); for accuracy also `oof_accuracy_test_se`, the binomial error
    of an accuracy measured on the `n_test` rows of the test (the leaderboard's own noise, at best)."""
    k = len(fold_scores)

    def fold_values(name: str) -> list[float]:  # a fold without outliers: its clean score is its score
        return [f.get(name, f.get(name.removesuffix("_without_outliers"))) for f in fold_scores]

    result = {f"{name}_se": float(np.std(fold_values(name), ddof=1) / np.sqrt(k)) if k > 1
              else float("nan") for name in scored}
    if metric == "accuracy" and n_test > 0:
        accuracy = scored["oof_accuracy"]
        result["oof_accuracy_test_se"] = float(np.sqrt(accuracy * (1 - accuracy) / n_test))
    return result


def fold_summary(folds, metric: str) -> dict[str, float]:
    """The cv stage's per-fold headline: mean and spread of the held-out fold scores, mean train score."""
    valid = [f.valid_score for f in folds]
    return {f"valid_{metric}_mean": float(np.mean(valid)), f"valid_{metric}_std": float(np.std(valid)),
            f"train_{metric}_mean": float(np.mean([f.train_score for f in folds]))}


def fold_ids(n_rows: int, params: CVParams, strata: np.ndarray | None = None,
             where: str = "cv", blocks: np.ndarray | None = None, ordered: bool = False) -> np.ndarray:
    """The fold (0..k-1) that validates each row, by `params` (pipeline/tabular/validation.py
    deals rows, or whole blocks of rows, to folds)."""
    return validation.fold_ids(n_rows, params.folds, params.seed, params.shuffle, strata, blocks, ordered, where)
