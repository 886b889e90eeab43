"""The runs view: the project's runs through a real `mlflow server` on loopback (REST API and the
compare view's calls), and `cli.py runs` (table, csv, json, sorting, fitting the width)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
from typer.testing import CliRunner

from helpers import base_name, free_port, get_json, log_project_runs
from pipeline import REPO_ROOT, runs_view, tracking, ui
from pipeline.commands import app
from pipeline.errors import TrackingError


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` on 127.0.0.1 (a free port), SQLite backend in a temp folder; stopped at the end."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (folder / "server.log").open("wb")
    process = ui.start_server(f"sqlite:///{folder / 'server.db'}", port, timeout=180, stdout=log,
                              stderr=subprocess.STDOUT)
    yield f"http://127.0.0.1:{port}"
    ui.stop(process)
    log.close()


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of `cli.py runs`'s table, cut at the columns its rule line marks."""
    header, rule, *lines = text.splitlines()
    spans, start = [], 0
    for dashes in rule.split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    names = [header[a:b].strip() for a, b in spans]
    return [{n: line[a:b].strip() for n, (a, b) in zip(names, spans)} for line in lines]


@pytest.mark.slow
def test_the_server_lists_project_runs_with_params_metrics_and_tags_and_the_compare_view_answers(
        mlflow_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    first = log_project_runs((0.14, 0.12), alpha=0.0005, exp_name="brisk-lion")
    second = log_project_runs((0.13, 0.11), alpha=0.001)

    experiment = get_json(f"{mlflow_server}/api/2.0/mlflow/experiments/get-by-name", experiment_name="house-prices")
    experiment_id = experiment["experiment"]["experiment_id"]
    found = _post(f"{mlflow_server}/api/2.0/mlflow/runs/search",
                  {"experiment_ids": [experiment_id], "filter": "tags.stage = 'cv'", "max_results": 100})["runs"]
    by_id = {r["info"]["run_id"]: r for r in found}
    assert {first, second} <= set(by_id) and len(found) == 6  # 2 parents + 2 folds each
    parent = by_id[first]["data"]
    params = {p["key"]: p["value"] for p in parent["params"]}
    metrics = {m["key"]: m["value"] for m in parent["metrics"]}
    tags = {t["key"]: t["value"] for t in parent["tags"]}
    assert params["model.alpha"] == "0.0005" and params["model.name"] == "elastic_net" and params["cv.folds"]
    assert metrics == {"valid_log_rmse_mean": pytest.approx(0.13), "oof_log_rmse": pytest.approx(0.14)}
    assert {k: tags[k] for k in ("pipeline", "stage", "model", "dataset", "device", "dvc_stage", "dvc_exp_name",
                                 "dvc_exp", "mlflow.runName")} == {
        "pipeline": "house-prices", "stage": "cv", "model": "elastic_net", "dataset": "house-prices",
        "device": "cpu", "dvc_stage": "house_cv@elastic_net", "dvc_exp_name": "brisk-lion", "dvc_exp": "true",
        "mlflow.runName": "cv:elastic_net@brisk-lion"}
    assert tags["git_commit"] == tracking.git_commit() and tags["git_commit_short"] == tags["git_commit"][:8]
    assert {t["key"]: t["value"] for t in by_id[second]["data"]["tags"]}["dvc_exp"] == "false"
    folds = [r for r in found if r["info"]["run_name"].startswith("cv:elastic_net:fold")]
    assert all({t["key"]: t["value"] for t in r["data"]["tags"]}["fold"] in ("1", "2") for r in folds)

    # The compare view (#/compare-runs?runs=[...]) is drawn client-side: its page, then the calls it makes.
    with urllib.request.urlopen(f"{mlflow_server}/", timeout=30) as page:
        assert page.status == 200 and b'<div id="root"' in page.read()
    for run_id in (first, second):
        got = get_json(f"{mlflow_server}/ajax-api/2.0/mlflow/runs/get", run_id=run_id)["run"]
        assert got["info"]["experiment_id"] == experiment_id
        assert {p["key"] for p in got["data"]["params"]} >= {"model.alpha", "seed", "cv.folds"}
    fold1 = next(r for r in folds if base_name(r["info"]["run_name"]).endswith("fold1"))
    history = get_json(f"{mlflow_server}/ajax-api/2.0/mlflow/metrics/get-history",
                       run_id=fold1["info"]["run_id"], metric_key="valid_log_rmse")["metrics"]
    assert [m["step"] for m in history] == [1, 2, 3]

    # `cli.py runs` reads the same server: the worst fold is one command.
    out = CliRunner().invoke(app, ["runs", "-e", "house-prices", "--filter", "tags.fold != ''", "-m",
                                   "valid_log_rmse", "--sort", "valid_log_rmse", "--desc", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["metrics.valid_log_rmse"] for r in rows] == pytest.approx([0.14, 0.13, 0.12, 0.11])
    assert rows[0]["run_id"] in {r["info"]["run_id"] for r in folds} and rows[0]["fold"] == "1"
    assert rows[0]["dvc_exp"] == "brisk-lion" and rows[0]["commit"] == tracking.git_commit()[:8]


@pytest.mark.slow
def test_runs_table_csv_json_and_sorting_on_the_default_store(monkeypatch):
    # autouse fixture: MLFLOW_TRACKING_URI is this test's own SQLite file
    runner = CliRunner()
    log_project_runs((0.2, 0.1), alpha=0.01)
    log_project_runs((0.3, 0.05), alpha=0.02)

    table = runner.invoke(app, ["runs", "--experiment", "house-prices", "--top-level", "--sort", "oof_log_rmse"])
    assert table.exit_code == 0, table.output
    rows = parse_table(table.stdout)
    assert list(rows[0])[:2] == ["run_id", "run_name"]
    assert {"model.alpha", "oof_log_rmse", "valid_log_rmse_mean"} <= set(rows[0])
    # columns with one value in every listed run are said once, on stderr, not repeated per row
    assert not {"status", "stage", "model", "commit"} & set(rows[0])
    assert table.stderr.startswith("same in every run: status=FINISHED")
    assert all(f"{k}={v}" in table.stderr for k, v in {"stage": "cv", "model": "elastic_net", "device": "cpu"}.items())
    assert [(r["model.alpha"], r["oof_log_rmse"]) for r in rows] == [("0.01", "0.2"), ("0.02", "0.3")]
    assert all(len(r["run_id"]) == 8 for r in rows)
    assert "dvc_exp" not in rows[0]  # a tag no listed run has: its column is left out of the table

    as_csv = runner.invoke(app, ["runs", "-e", "house-prices", "-p", "model.alpha,seed", "-m", "valid_log_rmse_mean",
                                 "--sort", "valid_log_rmse_mean", "--desc", "--format", "csv"])
    records = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert list(records[0])[:4] == ["run_id", "run_name", "status", "start"]
    assert list(records[0])[-3:] == ["params.model.alpha", "params.seed", "metrics.valid_log_rmse_mean"]
    assert [base_name(r["run_name"]) for r in records][:2] == ["cv:elastic_net"] * 2
    assert [r["params.model.alpha"] for r in records][:2] == ["0.02", "0.01"]  # 0.175 before 0.15
    assert all(r["metrics.valid_log_rmse_mean"] == "" for r in records[2:])  # fold runs: no such metric, last

    every = json.loads(runner.invoke(app, ["runs", "--format", "json"]).output)
    assert len(every) == 6 and {r["experiment"] for r in every} == {"house-prices"}

    bad = subprocess.run([sys.executable, "cli.py", "runs", "-e", "house-prices", "--sort", "perplexity"], check=False,
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error: no listed run has metric 'perplexity'")
    missing = runner.invoke(app, ["runs", "-e", "nope"])
    assert isinstance(missing.exception, TrackingError) and "house-prices" in str(missing.exception)


def test_runs_on_a_missing_default_store_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'absent.db'}")
    with pytest.raises(TrackingError, match="no MLflow store at .*absent.db: run a stage first"):
        runs_view.runs_report()
    assert not (tmp_path / "absent.db").exists()


def test_run_tags_name_the_stage_dataset_commit_and_dvc_experiment(monkeypatch):
    monkeypatch.setenv("DVC_STAGE", "rnn_train@tm-gru-scratch")
    monkeypatch.setenv("DVC_EXP_NAME", "lucky-owl")
    tags = tracking.run_tags("rnn", {"corpus": "timemachine", "device": "cpu"})
    assert tags["stage"] == "rnn_train" and tags["dataset"] == "timemachine"
    assert tags["dvc_exp"] == "true" and tags["dvc_exp_name"] == "lucky-owl"
    assert tags["git_commit_short"] == tags["git_commit"][:8]
    assert tracking.run_tags("house-prices", {"stage": "cv", "dataset": "house-prices"})["stage"] == "cv"
    monkeypatch.delenv("DVC_STAGE")
    monkeypatch.delenv("DVC_EXP_NAME")
    assert "stage" not in tracking.run_tags("x") and tracking.run_tags("x")["dvc_exp"] == "false"


def _log_cv(model: str, model_params: dict, score: float) -> None:
    with tracking.start_run("house-prices", f"cv:{model}", params={"seed": 42, "model": {"name": model, **model_params}},
                            tags={"stage": "cv", "model": model}):
        tracking.log_metrics({"valid_log_rmse_mean": score, "valid_log_rmse_std": score / 10,
                              "train_log_rmse_mean": score / 2})


def test_runs_puts_the_changed_param_first_fits_the_width_and_says_what_it_left_out():
    for lr in (0.003, 0.002):  # a user's `-S house.models.mlp.lr=0.002` beside the default
        _log_cv("mlp", {"type": "mlp", "lr": lr, "epochs": 60, "batch_size": 64, "dropout": 0.2}, 0.12 + lr)
    _log_cv("elastic_net", {"type": "elastic_net", "alpha": 0.0005, "l1_ratio": 1.0, "max_iter": 20000}, 0.118)

    rows = runs_view.search("house-prices")
    ranked = runs_view.ranked_params(rows)
    assert ranked[:3] == ["model.name", "model.type", "model.lr"]  # values differ (all runs, then some)
    assert "seed" not in ranked  # the same in every run

    table, note = runs_view.runs_report("house-prices", width=100)
    header = table.splitlines()[0]
    assert max(len(line) for line in table.splitlines()) <= 100
    # model.name / model.type only restate the `model` column: the changed lr gets the room
    cols = header.split()
    assert cols[:2] == ["run_id", "run_name"] and "model.lr" in cols
    assert all(cols.index("model.lr") < cols.index(echo) for echo in ("model.name", "model.type") if echo in cols)
    assert header.split()[-1] == "valid_log_rmse_mean"
    assert "status" not in header.split() and "same in every run: status=FINISHED" in note
    assert "more differing params not shown" in note and "--format csv" in note
    assert max(len(line) for line in note.splitlines()) <= 100  # the notes are folded to the width too

    wide, wide_note = runs_view.runs_report("house-prices", width=400)
    assert "more differing params not shown" not in wide_note
    assert {"model.lr", "model.alpha", "model.epochs", "model.max_iter"} <= set(wide.splitlines()[0].split())

    # every cv parent run logs several scores: at 60 columns the held-out one stays, the rest are named
    narrow, narrow_note = runs_view.runs_report("house-prices", width=60, top_level=True)
    assert narrow.splitlines()[0].split()[-1] == "valid_log_rmse_mean"
    assert "more metrics not shown (" in narrow_note and "-m " in narrow_note
    assert max(len(line) for line in narrow_note.splitlines()) <= 60

    out = CliRunner().invoke(app, ["runs", "-e", "house-prices", "--sort", "valid_log_rmse_mean", "--desc",
                                   "--format", "csv"])
    assert out.exit_code == 0, out.output
    scores = [row["metrics.valid_log_rmse_mean"] for row in csv.DictReader(io.StringIO(out.stdout))]
    assert scores == ["0.123", "0.122", "0.118"]  # --desc is a flag: it takes no value
