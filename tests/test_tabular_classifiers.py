"""Every classification-capable model type on small synthetic binary and 3-class tasks: it learns,
predicts probabilities in the shape tasks.py promises, saves and loads, and keys its curves by the
competition's metric; regression-only types are refused by name."""

from __future__ import annotations

import functools
import pickle

import numpy as np
import pytest
from sklearn.datasets import make_classification

from pipeline.errors import ParamError
from pipeline.tabular import models
from pipeline.tabular.tasks import METRICS, Scorer, Task

BINARY, MULTICLASS = Task("binary", 2), Task("multiclass", 3)
LOGLOSS = Scorer(METRICS["logloss"])

# Small enough for seconds; gradient boosting's and lightgbm's regression losses are there on
# purpose: a classification task must set them aside, not fail.
CONFIGS = {
    "linear": {"type": "linear", "epochs": 20, "lr": 0.05, "batch_size": 32, "device": "cpu"},
    "mlp": {"type": "mlp", "hidden": [16], "epochs": 20, "lr": 0.01, "batch_size": 32, "device": "cpu"},
    "elastic_net": {"type": "elastic_net", "alpha": 0.01, "l1_ratio": 0.5, "tol": 1e-6},
    "gradient_boosting": {"type": "gradient_boosting", "options": {"n_estimators": 30, "loss": "huber", "alpha": 0.9}},
    "lightgbm": {"type": "lightgbm", "n_estimators": 30, "objective": "huber", "curve_every": 5,
                 "min_child_samples": 5},
    "svm": {"type": "svm", "scale": "standard"},
}
HAS_CURVES = {"linear", "mlp", "elastic_net", "gradient_boosting", "lightgbm"}


@functools.cache
def data(n_classes: int):
    """(train X, train y, held-out X, held-out y): 200 rows to fit, 100 to score."""
    X, y = make_classification(300, 8, n_informative=5, n_classes=n_classes, n_clusters_per_class=1,
                               random_state=0)
    X = X.astype(np.float32)
    return X[:200], y[:200], X[200:], y[200:]


@functools.cache
def fitted(kind: str, task: Task):
    """A model of type `kind` fitted on `task`'s data (float labels, as a CSV column may give),
    with train/valid curves scored by log loss; and its history."""
    X, y, Xv, yv = data(task.n_classes)
    model = models.create(models.model_params(CONFIGS[kind], f"competitions.t.models.{kind}"), X.shape[1], 0, task)
    history = model.fit(X, y.astype(np.float64), {"train": (X, y), "valid": (Xv, yv)}, LOGLOSS)
    return model, history


@pytest.mark.parametrize("kind", CONFIGS)
def test_binary_probabilities_beat_the_majority_class(kind):
    *_, Xv, yv = data(2)
    p = fitted(kind, BINARY)[0].predict(Xv)
    assert p.shape == (len(yv),) and p.dtype == np.float64
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    majority = max(np.mean(yv), 1 - np.mean(yv))
    accuracy = METRICS["accuracy"](yv, p)
    assert accuracy > max(0.75, majority + 0.15), (accuracy, majority)


@pytest.mark.parametrize("kind", CONFIGS)
def test_multiclass_rows_are_probabilities_that_beat_chance(kind):
    *_, Xv, yv = data(3)
    p = fitted(kind, MULTICLASS)[0].predict(Xv)
    assert p.shape == (len(yv), 3) and p.dtype == np.float64
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert METRICS["accuracy"](yv, p) > 1 / 3 + 0.3


@pytest.mark.parametrize("task", [BINARY, MULTICLASS], ids=["binary", "multiclass"])
@pytest.mark.parametrize("kind", CONFIGS)
def test_a_saved_classifier_loads_and_predicts_the_same(kind, task):
    model = fitted(kind, task)[0]
    *_, Xv, _ = data(task.n_classes)
    params = models.model_params(CONFIGS[kind], "m")
    loaded = models.create(params, Xv.shape[1], 0, task)
    loaded.load_state(pickle.loads(pickle.dumps(model.state())))
    np.testing.assert_array_equal(loaded.predict(Xv), model.predict(Xv))


@pytest.mark.parametrize("task", [BINARY, MULTICLASS], ids=["binary", "multiclass"])
@pytest.mark.parametrize("kind", sorted(HAS_CURVES))
def test_curves_are_keyed_by_the_metric_and_end_at_the_final_score(kind, task):
    model, history = fitted(kind, task)
    *_, Xv, yv = data(task.n_classes)
    assert {"train_logloss", "valid_logloss"} <= set(history)
    assert not any("log_rmse" in key for key in history)
    assert history["valid_logloss"][-1] == pytest.approx(LOGLOSS(yv, model.predict(Xv)), rel=1e-6)


@pytest.mark.parametrize("kind", ["kernel_ridge", "spline_net", "svr"])
def test_regression_only_types_are_refused_for_classification_naming_the_param(kind):
    where = "competitions.titanic.models.m"
    with pytest.raises(ParamError, match=rf"'{where}\.type' is {kind}, a regression-only model type.*binary"):
        models.check_task({"type": kind}, BINARY, where)
    params = models.model_params({"type": kind}, where)
    with pytest.raises(ParamError, match=rf"'{where}\.type'.*classification types: .*svm"):
        models.create(params, 8, 0, MULTICLASS)


def test_classification_types_pass_the_task_check():
    for kind in CONFIGS:
        models.check_task({"type": kind}, BINARY, "m")
        models.check_task({"type": kind}, MULTICLASS, "m")


@pytest.mark.parametrize("kind", ["gradient_boosting", "svm"])
def test_a_fold_missing_a_class_still_predicts_every_class(kind):
    """scikit-learn's classifiers see only the classes of the rows they fit on."""
    X, y, Xv, _ = data(3)
    keep = y != 2
    model = models.create(models.model_params(CONFIGS[kind], "m"), X.shape[1], 0, MULTICLASS)
    model.fit(X[keep], y[keep])
    p = model.predict(Xv)
    assert p.shape == (len(Xv), 3) and (p[:, 2] == 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)


def test_svm_is_svr_for_regression():
    X, _, Xv, _ = data(2)
    y = X[:, 0] * 2.0 + X[:, 1]
    knobs = {"kernel": "rbf", "C": 5.0, "epsilon": 0.05, "gamma": 0.1, "scale": "standard"}
    predictions = []
    for kind in ("svm", "svr"):
        model = models.create(models.model_params({"type": kind, **knobs}, "m"), X.shape[1], 0)
        model.fit(X, y)
        predictions.append(model.predict(Xv))
    np.testing.assert_array_equal(*predictions)
