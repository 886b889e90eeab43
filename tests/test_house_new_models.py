"""The `lightgbm` (constant or linear leaves) and `svr` tabular model types on small synthetic data:
fit, curves, save/load, clipping, params."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import ParamError
from pipeline.tabular import models
from pipeline.tabular.evaluation import CVParams, fold_ids
from pipeline.tabular.tasks import METRICS, Scorer
from pipeline.tabular.train import cross_validate, fit_all

LOG_PRICES = Scorer(METRICS["log_rmse"], "log")  # targets are log prices: scored as prices, as House Prices is


def _data(n=300, p=5, seed=0):
    """Log prices with an interaction a linear model cannot fit: trees and RBF kernels can."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    y = 12 + 0.1 * X[:, 0] + 0.3 * np.tanh(2 * X[:, 1] * X[:, 2]) + rng.normal(scale=0.02, size=n)
    return X, y


LIGHTGBM = {"type": "lightgbm", "n_estimators": 200, "learning_rate": 0.1, "num_leaves": 4,
            "min_child_samples": 5, "colsample_bytree": 1.0, "curve_every": 20}
SVR = {"type": "svr", "C": 10.0, "epsilon": 0.01, "gamma": 0.2}
LINEAR_TREES = {**LIGHTGBM, "linear_tree": True, "linear_lambda": 0.1, "clip": True}


@pytest.mark.parametrize("config", [LIGHTGBM, LINEAR_TREES, SVR], ids=["lightgbm", "linear_tree", "svr"])
def test_learns_the_interaction_beyond_a_linear_model(config):
    X, y = _data()
    ids = fold_ids(len(y), CVParams(folds=4))
    rows = np.ones(len(y), bool)
    linear = cross_validate(models.model_params({"type": "elastic_net", "alpha": 1e-4}, "m"), X, y, ids, rows,
                            LOG_PRICES, 0, curves=False, progress=False)
    result = cross_validate(models.model_params(config, "m"), X, y, ids, rows, LOG_PRICES, 0, progress=False)
    ours = np.mean([f.valid_score for f in result.folds])
    assert ours < 0.7 * np.mean([f.valid_score for f in linear.folds])
    assert not np.isnan(result.oof).any()


@pytest.mark.parametrize("config", [LIGHTGBM, LINEAR_TREES, SVR], ids=["lightgbm", "linear_tree", "svr"])
def test_saved_state_predicts_the_same(config):
    X, y = _data()
    params = models.model_params(config, "m")
    fitted, _ = fit_all(params, X, y, np.ones(len(y), bool), LOG_PRICES, seed=3)
    fresh = models.create(params, X.shape[1], seed=3)
    fresh.load_state(fitted.state())
    assert np.array_equal(fresh.predict(X[:20]), fitted.predict(X[:20]))


def test_lightgbm_curves_every_n_trees_fall_and_end_at_the_model():
    X, y = _data()
    model = models.create(models.model_params(LIGHTGBM, "m"), X.shape[1], seed=0)
    score = LOG_PRICES
    history = model.fit(X[:250], y[:250], {"train": (X[:250], y[:250]), "valid": (X[250:], y[250:])}, score)
    assert set(history) == {"step", "train_log_rmse", "valid_log_rmse"}
    assert len(history["train_log_rmse"]) == 200 // 20  # one point per 20 trees
    assert history["step"][:2] == [20.0, 40.0] and history["step"][-1] == 200.0  # x = number of trees
    assert history["valid_log_rmse"][-1] < history["valid_log_rmse"][0]
    assert history["train_log_rmse"][-1] == pytest.approx(score(y[:250], model.predict(X[:250])), rel=1e-6)
    assert history["valid_log_rmse"][-1] == pytest.approx(score(y[250:], model.predict(X[250:])), rel=1e-6)


def test_lightgbm_same_seed_same_predictions_other_seed_differs():
    X, y = _data()
    params = models.model_params({**LIGHTGBM, "subsample": 0.7, "colsample_bytree": 0.6}, "m")
    a, b, c = (models.create(params, X.shape[1], seed=s) for s in (1, 1, 2))
    for model in (a, b, c):
        model.fit(X, y)
    assert np.array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_linear_leaves_follow_a_slope_that_constant_leaves_can_only_step():
    """Price rising steadily with size: 20 4-leaf trees with lines in their leaves fit it closer
    than the same trees with constants, out of fold (noise: 0.01)."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(400, 3)).astype(np.float32)
    y = 12 + 0.4 * X[:, 0] + rng.normal(scale=0.01, size=400)
    ids, rows = fold_ids(len(y), CVParams(folds=4)), np.ones(len(y), bool)
    few = {"n_estimators": 20, "learning_rate": 0.3}
    scores = {}
    for name, config in (("constant", {**LIGHTGBM, **few}), ("linear", {**LINEAR_TREES, **few})):
        result = cross_validate(models.model_params(config, "m"), X, y, ids, rows, LOG_PRICES, 0,
                                curves=False, progress=False)
        scores[name] = np.mean([f.valid_score for f in result.folds])
    assert scores["linear"] < 0.75 * scores["constant"], scores  # measured: 0.016 against 0.025


@pytest.mark.parametrize("clip", [True, False])
def test_clip_prices_a_house_beyond_the_training_range_like_the_largest_seen(clip):
    """Linear leaves extrapolate: with `clip`, a size far beyond training is priced as the largest
    size seen (as the partial-sale outliers left out of training must be); without, it keeps rising."""
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, size=(300, 2)).astype(np.float32)
    y = 12 + 0.5 * X[:, 0] + rng.normal(scale=0.01, size=300)
    model = models.create(models.model_params({**LINEAR_TREES, "clip": clip}, "m"), 2, seed=0)
    model.fit(X, y)
    edge = np.array([[X[:, 0].max(), 0.5]], np.float32)
    beyond = np.array([[5.0, 0.5]], np.float32)
    if clip:
        assert model.predict(beyond)[0] == pytest.approx(model.predict(edge)[0], abs=1e-12)
    else:
        assert model.predict(beyond)[0] > model.predict(edge)[0] + 0.5  # the leaf's line goes on


@pytest.mark.parametrize("config, param", [
    ({**LIGHTGBM, "learning_rate": 0}, "learning_rate"),
    ({**LIGHTGBM, "num_leaves": 1}, "num_leaves"),
    ({**LIGHTGBM, "subsample": 1.5}, "subsample"),
    ({**LIGHTGBM, "colsample_bytree": 0}, "colsample_bytree"),
    ({**LIGHTGBM, "objective": "poisson"}, "objective"),
    ({**LIGHTGBM, "leaves": 4}, "leaves"),
    ({**LIGHTGBM, "objective": "huber", "huber_delta": 0}, "huber_delta"),
    ({**LINEAR_TREES, "linear_lambda": -1}, "linear_lambda"),
    ({**LINEAR_TREES, "linear_tree": "yes"}, "linear_tree"),
    ({**SVR, "C": 0}, "C"),
    ({**SVR, "gamma": -1}, "gamma"),
    ({**SVR, "kernel": "sigmoidish"}, "kernel"),
    ({**SVR, "scale": "minmax"}, "scale"),
])
def test_bad_params_name_the_param(config, param):
    with pytest.raises(ParamError, match=rf"competitions\.house-prices\.models\.x\.{param}"):
        models.model_params(config, "competitions.house-prices.models.x")
