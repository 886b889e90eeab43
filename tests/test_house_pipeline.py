"""The House Prices pipeline through real `dvc repro` in a throw-away copy, tiny settings, the mirror."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from helpers import base_name, mlflow_client
from pipeline.files import rounded  # metrics files hold 10 digits, MLflow every bit
from pipeline.tabular.config import load_competition
from pipeline.tabular.upload import Layout, validate

pytestmark = pytest.mark.slow

TINY = {
    "competitions.house-prices.blend.models": ["linear", "elastic_net"],
    "competitions.house-prices.models.linear.epochs": 3,
    "competitions.house-prices.models.linear.lr": 0.05,
    "competitions.house-prices.models.elastic_net.max_iter": 300,
    "competitions.house-prices.cv.folds": 3,
}


def _ran(output: str) -> list[str]:
    return sorted(line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage"))


def _runs(experiment: str = "house-prices"):
    client = mlflow_client()
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000) if exp else []


def test_dvc_repro_builds_a_valid_submission_and_reruns_only_what_changed(repo_copy, mirror):
    repo_copy.set_params(**TINY)
    first = repo_copy.dvc("repro", "house_prices_submission")
    assert _ran(first.stdout) == ["house_prices_blend", "house_prices_download", "house_prices_preprocess",
                                  "house_prices_submission", "house_prices_train@elastic_net",
                                  "house_prices_train@linear"]
    root = repo_copy.path
    house = load_competition("house-prices", root / "params.yaml")
    # checked against the mirror's sample submission, not the copy the pipeline downloaded
    layout = dataclasses.replace(Layout.of(house, root), sample=mirror / house.files["sample_submission"].name)
    assert layout.submission == root / "data" / "submission.csv"
    submission = validate(layout.submission, house, layout)
    assert len(submission) == 1459 and (submission["SalePrice"] > 0).all()

    cv = json.loads((root / "metrics" / "house-prices" / "cv.json").read_text())
    assert set(cv["weights"]) == {"linear", "elastic_net"}
    assert 0.08 < cv["oof_log_rmse_without_outliers"] < cv["oof_log_rmse"] < 0.5
    shown = repo_copy.dvc("metrics", "show", "--json").stdout
    assert "oof_log_rmse_without_outliers" in shown and "cv_linear.json" in shown
    oof = pd.read_csv(root / "data" / "interim" / "house-prices" / "oof_linear.csv")
    assert oof["prediction"].notna().all() and sorted(oof["fold"].unique()) == [1, 2, 3]

    runs = _runs()
    names = sorted(base_name(r) for r in runs)
    assert names.count("cv:linear") == 1 and names.count("fit:elastic_net") == 1
    assert {f"cv:linear:fold{k}" for k in (1, 2, 3)} <= set(names)
    cv_run = next(r for r in runs if base_name(r) == "cv:linear")
    assert cv_run.data.tags["dvc_stage"] == "house_prices_train@linear"
    assert cv_run.data.tags["device"] == "cpu" and cv_run.data.params["seed"] == "42"
    assert "valid_log_rmse_mean" in cv_run.data.metrics
    assert cv_run.data.params["model.lr"] == "0.05" and cv_run.data.params["model.type"] == "linear"
    fold_run = next(r for r in runs if base_name(r) == "cv:linear:fold1")
    assert fold_run.data.tags["mlflow.parentRunId"] == cv_run.info.run_id
    assert fold_run.data.params == cv_run.data.params  # fold runs line up in the compare view too
    history = mlflow_client().get_metric_history(fold_run.info.run_id, "valid_log_rmse")
    assert [m.step for m in history] == [1, 2, 3]
    per_fold = mlflow_client().get_metric_history(cv_run.info.run_id, "fold_valid_log_rmse")
    assert sorted(m.step for m in per_fold) == [1, 2, 3]
    assert sorted(rounded(m.value) for m in per_fold) == sorted(v["valid_log_rmse"] for v in json.loads(
        (root / "metrics" / "house-prices" / "cv_linear.json").read_text())["folds"].values())
    net_run = next(r for r in runs if base_name(r) == "cv:elastic_net:fold1")
    assert "model.device" not in net_run.data.params and net_run.data.tags["device"] == "cpu"
    iterations = [m.step for m in mlflow_client().get_metric_history(net_run.info.run_id, "objective")]
    assert iterations[0] == 1 and iterations == sorted(iterations) and len(iterations) > 10
    record = json.loads((root / "runs" / "house-prices" / "cv_linear.json").read_text())
    assert record["run_id"] == cv_run.info.run_id

    assert _ran(repo_copy.dvc("repro", "house_prices_submission").stdout) == []  # nothing changed: nothing runs

    repo_copy.set_params(**{"competitions.house-prices.models.linear.lr": 0.04})
    changed = repo_copy.dvc("repro", "house_prices_submission").stdout
    assert _ran(changed) == ["house_prices_blend", "house_prices_submission", "house_prices_train@linear"]

    # Back to the old value: DVC must not restore from its run cache without logging a run.
    repo_copy.set_params(**{"competitions.house-prices.models.linear.lr": 0.05})
    back = repo_copy.dvc("repro", "house_prices_submission").stdout
    assert "house_prices_train@linear" in _ran(back) and "run-cache" not in back
    assert sorted(base_name(r) for r in _runs()).count("cv:linear") == 3
    assert len({r.info.run_name for r in _runs()}) == len(_runs())  # every run name unique
