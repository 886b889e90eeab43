"""The `spline_net` tabular model type (elastic net + B-spline bases) and the SVR's `clip`:
fit, shapes beyond a straight line, no extrapolation past the training range, save/load, params."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from pipeline import REPO_ROOT
from pipeline.errors import ParamError
from pipeline.tabular import models
from pipeline.tabular.evaluation import CVParams, fold_ids
from pipeline.tabular.tasks import METRICS, Scorer
from pipeline.tabular.train import cross_validate, fit_all

SPLINE = {"type": "spline_net", "alpha": 0.0002, "knots": 6, "min_unique": 20}
SVR = {"type": "svr", "C": 10.0, "epsilon": 0.01, "gamma": 0.05}
LOG_RMSE = Scorer(METRICS["log_rmse"], "log")  # targets are log prices, scored as House Prices is


def _data(n=400, seed=0):
    """Log prices curved in two continuous features, linear in a third, plus 0/1 dummies:
    an additive model fits the curves, a straight line cannot."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    dummies = (rng.random(size=(n, 4)) < 0.3).astype(float)
    y = (12 + 0.3 * np.tanh(2 * x[:, 0]) + 0.1 * x[:, 1] ** 2 + 0.05 * x[:, 2] + 0.1 * dummies[:, 0]
         + rng.normal(scale=0.02, size=n))
    return np.hstack([x, dummies]).astype(np.float32), y


def _cv_score(config, X, y):
    ids = fold_ids(len(y), CVParams(folds=4))
    result = cross_validate(models.model_params(config, "m"), X, y, ids, np.ones(len(y), bool), LOG_RMSE,
                            0, curves=False, progress=False)
    assert not np.isnan(result.oof).any()
    return float(np.mean([f.valid_score for f in result.folds]))


def test_splines_fit_the_curves_a_straight_elastic_net_cannot():
    X, y = _data()
    straight = _cv_score({"type": "elastic_net", "alpha": 0.0002}, X, y)
    additive = _cv_score(SPLINE, X, y)
    assert additive < 0.5 * straight
    assert additive < 0.05  # near the noise (0.02): a straight line is at ~0.1


def test_only_continuous_columns_get_a_basis():
    X, y = _data()
    model = models.create(models.model_params(SPLINE, "m"), X.shape[1], 0)
    model.fit(X, y)
    assert model.continuous.tolist() == [0, 1, 2]  # the 0/1 dummies have 2 values, not > min_unique
    assert model.n_basis() == 3 * (6 + 3 - 2)  # knots + degree - 1 B-splines, less the constant one each
    few = models.create(models.model_params({**SPLINE, "min_unique": 1000}, "m"), X.shape[1], 0)
    few.fit(X, y)
    assert few.n_basis() == 0  # no column qualifies: the plain elastic net
    assert np.isfinite(few.predict(X)).all()


@pytest.mark.parametrize("config", [SPLINE, {**SVR, "clip": True}], ids=["spline_net", "svr"])
def test_clip_prices_beyond_the_training_range_like_its_edge(config):
    X, y = _data()
    model = models.create(models.model_params(config, "m"), X.shape[1], 0)
    model.fit(X, y)
    far, edge = X[:5].copy(), X[:5].copy()
    far[:, 0], edge[:, 0] = 50.0, X[:, 0].max()  # a feature 50 sd out, as a partial-sale mansion's area
    assert np.allclose(model.predict(far), model.predict(edge))
    unclipped = models.create(models.model_params({**config, "clip": False}, "m"), X.shape[1], 0)
    unclipped.fit(X, y)
    assert not np.allclose(unclipped.predict(far), unclipped.predict(edge))


@pytest.mark.parametrize("config", [SPLINE, {**SVR, "clip": True}], ids=["spline_net", "svr"])
def test_saved_state_predicts_the_same(config):
    X, y = _data()
    params = models.model_params(config, "m")
    fitted, _ = fit_all(params, X, y, np.ones(len(y), bool), LOG_RMSE, seed=3)
    fresh = models.create(params, X.shape[1], seed=3)
    fresh.load_state(pickle.loads(pickle.dumps(fitted.state())))  # as the fit stage saves it
    rows = X[:20].copy()
    rows[0, 0] = 50.0
    assert np.array_equal(fresh.predict(rows), fitted.predict(rows))


def test_svr_saved_before_clip_existed_still_loads():
    X, y = _data()
    params = models.model_params(SVR, "m")
    fitted, _ = fit_all(params, X, y, np.ones(len(y), bool), LOG_RMSE, seed=0)
    fresh = models.create(params, X.shape[1], seed=0)
    fresh.load_state({"model": fitted.state()["model"]})  # an older pickle: no training range
    assert np.array_equal(fresh.predict(X[:5]), fitted.predict(X[:5]))


def _house_features(raw_root):
    """The preprocess stage's train features, made in `raw_root` from the verified mirror (a clean
    clone has no data/processed/): (competition, X, y in log space, mask of the non-outlier rows)."""
    from pipeline.datasets import download, mirror_from
    from pipeline.tabular.config import load_competition
    from pipeline.tabular.data import load
    from pipeline.tabular.stages import fit_preprocessor
    from pipeline.tabular.tasks import forward

    house = load_competition("house-prices")
    download(house.key, raw_root, mirror_from())
    raw = load(house, raw_root / house.key)
    module, feature_params = house.features_module(), house.feature_params()
    X = fit_preprocessor(house, raw).transform(raw.train).to_numpy(np.float32)
    target = raw.train[house.target]
    outliers = np.asarray(module.outliers(raw.train, target, feature_params), bool)
    return house, X, forward(target.to_numpy(np.float64), house.target_transform), ~outliers


@pytest.mark.slow  # ~4 s: download from the mirror, the features, 2 x 3 folds
@pytest.mark.usefixtures("mirror")
def test_spline_net_on_the_real_features_beats_the_elastic_net(tmp_path):
    """The shipped spline_net against the shipped elastic_net, 3 folds of the preprocessed features."""
    house, X, y, mask = _house_features(tmp_path / "raw")
    assert X.shape == (1460, X.shape[1]) and mask.sum() == 1458  # the two partial-sale outliers
    score = Scorer(house.metric_spec, house.target_transform)
    ids = fold_ids(len(y), CVParams(folds=3, seed=0))
    scores = {}
    for name in ("elastic_net", "spline_net"):
        result = cross_validate(house.model(name), X, y, ids, mask, score, 0, curves=False,
                                progress=False)
        scores[name] = float(np.sqrt(np.mean((result.oof - y)[mask] ** 2)))
    assert scores["spline_net"] < scores["elastic_net"] - 0.001, scores
    assert 0.09 < scores["spline_net"] < 0.12, scores


def test_spline_net_imports_neither_torch_nor_at_registry_time_scikit_learn():
    code = ("import sys, numpy as np; from pipeline.tabular import models; "
            "p = models.model_params({'type': 'spline_net'}, 'm'); "
            "assert 'sklearn' not in sys.modules; "
            "X = np.random.default_rng(0).normal(size=(60, 3)); "
            "models.create(p, 3, 0).fit(X, X.sum(1)); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


@pytest.mark.parametrize("config, param", [
    ({**SPLINE, "alpha": 0}, "alpha"),
    ({**SPLINE, "l1_ratio": 1.5}, "l1_ratio"),
    ({**SPLINE, "knots": 1}, "knots"),
    ({**SPLINE, "degree": 0}, "degree"),
    ({**SPLINE, "min_unique": 1}, "min_unique"),
    ({**SPLINE, "spline_weight": 0}, "spline_weight"),
    ({**SPLINE, "tol": 0}, "tol"),
    ({**SPLINE, "knot": 5}, "knot"),
    ({**SVR, "clip": "yes"}, "clip"),
])
def test_bad_params_name_the_param(config, param):
    with pytest.raises(ParamError, match=rf"competitions\.house-prices\.models\.x\.{param}"):
        models.model_params(config, "competitions.house-prices.models.x")


def test_every_registered_model_type_lives_in_the_models_folder_the_stages_depend_on():
    """Adding a model type needs no dvc.yaml edit: its module sits in pipeline/tabular/models/, a
    dep of every stage that trains or loads models (tests/test_stage_deps.py traces the rest)."""
    import yaml

    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    folder = REPO_ROOT / "pipeline" / "tabular" / "models"
    for target in models.MODEL_TYPES.values():
        assert (folder / f"{target.partition(':')[0]}.py").is_file(), target
    for stem in ("house_prices", "titanic"):  # every competition's stage block, from one template
        for stage in (stages[f"{stem}_train"]["do"], stages[f"{stem}_submission"]):
            assert "pipeline/tabular/models" in stage["deps"], stem
