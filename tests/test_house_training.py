"""K-fold discipline, the metric, the models and the blender, on small data the tests make."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from pipeline import REPO_ROOT
from pipeline.errors import ParamError
from pipeline.tabular import models
from pipeline.tabular.blend import fit_weights, out_of_fold_blend
from pipeline.tabular.evaluation import CVParams, fold_ids
from pipeline.tabular.tasks import METRICS, Scorer
from pipeline.tabular.train import cross_validate

log_rmse = METRICS["log_rmse"]
LOG_PRICES = Scorer(log_rmse, "log")  # targets are log prices: scored as prices, as House Prices is
PRICES = Scorer(log_rmse, "none")  # targets are prices


def _data(n=120, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    y = 12 + X @ rng.normal(scale=0.3, size=p) + rng.normal(scale=0.05, size=n)
    return X, y


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_row_validated_exactly_once(shuffle):
    ids = fold_ids(103, CVParams(folds=5, shuffle=shuffle, seed=3))
    assert sorted(np.bincount(ids).tolist()) == [20, 20, 21, 21, 21]
    X, y = _data(103)
    result = cross_validate(models.model_params({"type": "elastic_net", "alpha": 0.001}, "m"), X, y, ids,
                            np.ones(103, bool), score=LOG_PRICES, seed=0, progress=False)
    assert not np.isnan(result.oof).any()
    assert sum(f.n_valid for f in result.folds) == 103


def test_unshuffled_folds_are_contiguous_blocks_like_the_original_recipe():
    assert fold_ids(10, CVParams(folds=5, shuffle=False)).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_same_seed_same_folds_and_scores():
    X, y = _data()
    params = models.model_params({"type": "mlp", "hidden": [8], "dropout": 0.1, "lr": 0.01, "epochs": 3,
                                  "batch_size": 16}, "m")
    runs = []
    for _ in range(2):
        ids = fold_ids(len(y), CVParams(seed=7))
        runs.append((ids, cross_validate(params, X, y, ids, np.ones(len(y), bool), LOG_PRICES, seed=1,
                                              progress=False)))
    (ids_a, a), (ids_b, b) = runs
    assert np.array_equal(ids_a, ids_b)
    assert [f.valid_score for f in a.folds] == [f.valid_score for f in b.folds]
    # folds fitted two at a time in forked workers: the very same models and curves
    parallel = cross_validate(params, X, y, ids_a, np.ones(len(y), bool), LOG_PRICES, seed=1, progress=False,
                              workers=2)
    assert np.array_equal(parallel.oof, a.oof)
    assert [f.history for f in parallel.folds] == [f.history for f in a.folds]
    per_core = cross_validate(params, X, y, ids_a, np.ones(len(y), bool), LOG_PRICES, seed=1, progress=False,
                              workers=0)  # `cv.workers: 0`, the default: one per core
    assert np.array_equal(per_core.oof, a.oof) and [f.history for f in per_core.folds] == [f.history for f in a.folds]
    assert not np.array_equal(fold_ids(len(y), CVParams(seed=8)), ids_a)


def test_excluded_rows_are_not_trained_on_but_still_predicted():
    X, y = _data()
    mask = np.ones(len(y), bool)
    mask[:2] = False
    y_bad = y.copy()
    y_bad[:2] = 1e6  # wild targets: if they were trained on, the others' predictions would move
    ids = fold_ids(len(y), CVParams())
    params = models.model_params({"type": "elastic_net", "alpha": 0.001}, "m")
    clean = cross_validate(params, X, y, ids, mask, PRICES, 0, progress=False)
    poisoned = cross_validate(params, X, y_bad, ids, mask, PRICES, 0, progress=False)
    assert np.allclose(clean.oof, poisoned.oof)
    assert not np.isnan(poisoned.oof[:2]).any()


def test_log_rmse_clips_predictions_to_one():
    assert log_rmse(np.array([1.0, np.e]), np.array([-5.0, np.e])) == pytest.approx(0.0)
    assert log_rmse(np.array([100.0]), np.array([100.0 * np.e])) == pytest.approx(1.0)


def test_elastic_net_matches_scikit_learn():
    from sklearn.linear_model import ElasticNet as SkElasticNet

    X, y = _data(200, 10)
    for l1_ratio in (1.0, 0.5):
        ours = models.create(models.model_params({"type": "elastic_net", "alpha": 0.01, "l1_ratio": l1_ratio,
                                                  "tol": 1e-10, "max_iter": 50000}, "m"), 10, 0)
        ours.fit(X, y)
        theirs = SkElasticNet(alpha=0.01, l1_ratio=l1_ratio, tol=1e-10, max_iter=100000).fit(X.astype(float), y)
        assert np.allclose(ours.weight, theirs.coef_, atol=1e-5)
        assert np.allclose(ours.predict(X), theirs.predict(X.astype(float)), atol=1e-5)


def test_weight_decay_shrinks_the_torch_linear_model():
    X, y = _data(60, 20)
    norms = []
    for decay in (0.0, 5.0):
        m = models.create(models.model_params({"type": "linear", "lr": 0.05, "epochs": 60, "weight_decay": decay,
                                               "optimizer": "sgd", "batch_size": 60}, "m"), 20, 0)
        m.fit(X, y - y.mean())
        norms.append(float(m.net[0].weight.detach().norm()))
    assert norms[1] < norms[0] / 2


def test_bad_model_params_name_the_param():
    where = "competitions.house-prices.models.x"
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.models\.x\.lr"):
        models.model_params({"type": "mlp", "hidden": [4], "lr": -1}, where)
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.models\.x\.type"):
        models.model_params({"type": "forest"}, where)
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.models\.x\.epochs"):
        models.model_params({"type": "linear", "epochs": "many"}, where)
    with pytest.raises(ParamError, match="kernel_ridge"):
        models.create(models.model_params({"type": "kernel_ridge", "options": {"kernal": "rbf"}}, "k"), 3, 0)


def test_blend_weights_are_a_convex_combination_that_beats_each_model():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    good, noisy = y + rng.normal(scale=0.1, size=400), y + rng.normal(scale=0.3, size=400)
    P = np.column_stack([good, noisy])
    w = fit_weights(P, y, "optimize")
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all() and w[0] > w[1]
    blended = P @ w
    assert np.mean((blended - y) ** 2) < np.mean((good - y) ** 2)
    assert fit_weights(P, y, "mean").tolist() == [0.5, 0.5]


def test_blender_never_sees_a_validation_rows_target_while_fitting_that_fold():
    rng = np.random.default_rng(1)
    n = 200
    y = rng.normal(size=n)
    P = np.column_stack([y + rng.normal(scale=s, size=n) for s in (0.1, 0.2, 0.4)])
    folds = fold_ids(n, CVParams(folds=5, seed=0))
    mask = np.ones(n, bool)
    base, _ = out_of_fold_blend(P, y, folds, mask, "optimize")
    for fold in range(5):
        poisoned = y.copy()
        poisoned[folds == fold] = rng.normal(scale=100, size=(folds == fold).sum())  # the fold's targets change
        again, _ = out_of_fold_blend(P, poisoned, folds, mask, "optimize")
        inside = folds == fold
        assert np.allclose(again[inside], base[inside])  # ...so its blended predictions must not
        assert not np.allclose(again[~inside], base[~inside])  # (the other folds did use those rows)


def test_model_curves_have_steps_iterations_and_trees():
    """Iterative models log real curves: FISTA per (log-spaced) iteration, boosting per number of trees."""
    X, y = _data(150, 8)
    sets, score = {"train": (X[:100], y[:100]), "valid": (X[100:], y[100:])}, LOG_PRICES
    net = models.create(models.model_params({"type": "elastic_net", "alpha": 0.001}, "m"), 8, 0)
    curve = net.fit(X[:100], y[:100], sets, score)
    assert curve["step"][0] == 1 and curve["step"] == sorted(curve["step"]) and len(curve["step"]) > 5
    assert curve["objective"][-1] < curve["objective"][0]
    assert len(curve["valid_log_rmse"]) == len(curve["step"])
    boost = models.create(models.model_params({"type": "gradient_boosting",
                                               "options": {"n_estimators": 80, "max_depth": 2}}, "m"), 8, 0)
    curve = boost.fit(X[:100], y[:100], sets, score)
    assert curve["step"][0] == 1 and curve["step"][-1] == 80 and len(curve["step"]) == 41
    assert curve["train_log_rmse"][-1] < curve["train_log_rmse"][0] / 2  # more trees fit the training rows
    assert curve["valid_log_rmse"][-1] == pytest.approx(score(y[100:], boost.predict(X[100:])))


def test_registry_and_non_torch_models_do_not_import_torch():
    """A stage imports only what its model uses: validating params or training a NumPy or
    scikit-learn model never imports torch (a second of start-up per stage)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from pipeline.tabular import config, models; "
            "config.load_competition('house-prices'); "
            "X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32); "
            "[models.create(models.model_params(v, 'm'), 3, 0).fit(X, X.sum(1)) for v in "
            "({'type': 'elastic_net'}, {'type': 'gradient_boosting', 'options': {'n_estimators': 5}})]; "
            "print('torch' in sys.modules, 'mlflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__import__("pipeline").REPO_ROOT).stdout.split()
    assert out == ["False", "False"]


def test_tracked_params_share_names_across_model_types():
    boost = models.tracked_params("gb", models.model_params(
        {"type": "gradient_boosting", "options": {"learning_rate": 0.05, "n_estimators": 10}}, "m"))
    net = models.tracked_params("mlp", models.model_params({"type": "mlp", "hidden": [4], "lr": 0.01}, "m"))
    assert boost["lr"] == 0.05 and boost["n_trees"] == 10 and boost["type"] == "gradient_boosting"
    assert net["lr"] == 0.01 and net["name"] == "mlp" and "device" in net
    assert "device" not in boost and "options" not in boost


_SLOW_CV = """
import numpy as np
from pipeline.tabular import models
from pipeline.tabular.evaluation import CVParams, fold_ids
from pipeline.tabular.tasks import METRICS, Scorer
from pipeline.tabular.train import cross_validate
X = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
params = models.model_params({"type": "linear", "optimizer": "adam", "lr": 0.01, "weight_decay": 0.0,
                              "batch_size": 64, "epochs": 100000}, "m")
print("start", flush=True)
cross_validate(params, X, X.sum(1) + 12, fold_ids(200, CVParams(folds=4)), np.ones(200, bool),
               Scorer(METRICS["log_rmse"], "log"), 0, progress=False, workers=2)
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_stage_leaves_no_fold_worker_training_on():
    """SIGKILL gives the stage no chance to end its forked fold workers: each asks the kernel
    to kill it with its parent (orphans trained on for minutes at 100% CPU before)."""
    import psutil

    stage = subprocess.Popen([sys.executable, "-c", _SLOW_CV], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert stage.stdout.readline().strip() == "start"
        deadline = time.monotonic() + 60
        while len(workers := psutil.Process(stage.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2
    finally:
        stage.kill()
        stage.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    for process in alive:
        process.kill()
    assert not alive, f"fold workers outlived their stage: {alive}"
