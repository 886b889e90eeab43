"""The classification blend: log-loss weights on probabilities, and a decision threshold chosen on
out-of-fold rows that moves from 0.5 only on clear evidence."""

from __future__ import annotations

import numpy as np

from pipeline.tabular.blend import best_threshold, fit_weights, out_of_fold_blend
from pipeline.tabular.evaluation import CVParams, fold_ids


def _calibrated(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    return p, (rng.uniform(size=n) < p).astype(np.int64)


def test_calibrated_probabilities_keep_the_threshold_near_half():
    cuts = [best_threshold(*_calibrated(seed=seed)) for seed in range(10)]
    assert all(abs(cut - 0.5) < 0.05 for cut in cuts), cuts  # noise moves it a little, if at all
    assert cuts.count(0.5) >= 5


def test_probabilities_shifted_by_a_bias_move_the_threshold():
    p, y = _calibrated()
    shifted = np.clip(p + 0.25, 0, 1)  # a model that says 0.75 where the truth is 0.5
    cut = best_threshold(shifted, y)
    assert 0.65 < cut < 0.85
    assert np.mean((shifted >= cut) == y) > np.mean((shifted >= 0.5) == y) + 0.05


def test_log_loss_weights_favour_the_informative_model():
    p, y = _calibrated(seed=1)
    noise = np.random.default_rng(2).uniform(0.02, 0.98, len(y))
    weights = fit_weights(np.column_stack([noise, p]), y, "optimize", classification=True)
    assert weights[1] > 0.9 and abs(weights.sum() - 1) < 1e-9 and (weights >= 0).all()


def test_multiclass_weights_blend_class_blocks_into_probabilities():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 600)
    good = np.full((600, 3), 0.1)
    good[np.arange(600), y] = 0.8
    flat = np.full((600, 3), 1 / 3)
    stacked = np.stack([flat, good], axis=-1)  # (rows, classes, models)
    folds = fold_ids(600, CVParams(folds=3), strata=y)
    blended, thresholds = out_of_fold_blend(stacked, y, folds, np.ones(600, bool), "optimize", classification=True)
    assert blended.shape == (600, 3) and np.allclose(blended.sum(axis=1), 1)
    assert np.mean(blended.argmax(axis=1) == y) == 1.0 and (thresholds == 0.5).all()


def test_stratified_folds_hold_each_class_in_the_same_share():
    y = np.array([0] * 90 + [1] * 10)
    folds = fold_ids(100, CVParams(folds=5, seed=4), strata=y)
    assert [int(np.sum(y[folds == k])) for k in range(5)] == [2, 2, 2, 2, 2]
    assert sorted(np.bincount(folds)) == [20] * 5
