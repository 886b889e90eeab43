"""The runs view: the project's runs through a real `mlflow server` on loopback (REST API and the
compare view's calls), and `cli.py runs` (table, csv, json, sorting, fitting the width)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
from helpers import base_name, free_port, get_json, log_project_runs
from typer.testing import CliRunner

from pipeline import REPO_ROOT, runs_view, tracking, ui
from pipeline.commands import app
from pipeline.errors import TrackingError


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {
        "Content-Type": "application/json", "Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` on 127.0.0.1 (a free port), SQLite backend in a temp folder; stopped at the end.
    It answers its token only: MLFLOW_TRACKING_TOKEN holds it meanwhile (MlflowClient sends it)."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (folder / "server.log").open("wb")
    process = ui.start_server(f"sqlite:///{folder / 'server.db'}", port, timeout=180, stdout=log,
                              stderr=subprocess.STDOUT)
    os.environ["MLFLOW_TRACKING_TOKEN"] = process.token
    yield f"http://127.0.0.1:{port}"
    os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
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
        "device": "cpu", "dvc_stage": "house_prices_train@elastic_net", "dvc_exp_name": "brisk-lion", "dvc_exp": "true",
        "mlflow.runName": "cv:elastic_net@brisk-lion"}
    assert tags["git_commit"] == tracking.git_commit() and tags["git_commit_short"] == tags["git_commit"][:8]
    assert {t["key"]: t["value"] for t in by_id[second]["data"]["tags"]}["dvc_exp"] == "false"
    folds = [r for r in found if r["info"]["run_name"].startswith("cv:elastic_net:fold")]
    assert all({t["key"]: t["value"] for t in r["data"]["tags"]}["fold"] in ("1", "2") for r in folds)

    # The compare view (#/compare-runs?runs=[...]) is drawn client-side: its page, then the calls it makes.
    with urllib.request.urlopen(ui.with_token(f"{mlflow_server}/", os.environ["MLFLOW_TRACKING_TOKEN"]),
                                timeout=30) as page:
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
                                   "valid_log_rmse", "--sort", "valid_log_rmse", "--desc", "--format", "json",
                                   "--all-runs"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
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
    assert "device=cpu" in table.stderr  # stage and model: the run names (cv:elastic_net@...) say them
    assert [(r["model.alpha"], r["oof_log_rmse"]) for r in rows] == [("0.01", "0.2"), ("0.02", "0.3")]
    assert all(len(r["run_id"]) == 8 for r in rows)
    assert "dvc_exp" not in rows[0]  # a tag no listed run has: its column is left out of the table

    as_csv = runner.invoke(app, ["runs", "-e", "house-prices", "-p", "model.alpha,seed", "-m", "valid_log_rmse_mean",
                                 "--sort", "valid_log_rmse_mean", "--desc", "--format", "csv", "--all-runs"])
    records = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(records[0])[:4] == ["run_id", "run_name", "status", "start"]
    assert list(records[0])[-3:] == ["params.model.alpha", "params.seed", "metrics.valid_log_rmse_mean"]
    assert [base_name(r["run_name"]) for r in records][:2] == ["cv:elastic_net"] * 2
    assert [r["params.model.alpha"] for r in records][:2] == ["0.02", "0.01"]  # 0.175 before 0.15
    assert all(r["metrics.valid_log_rmse_mean"] == "" for r in records[2:])  # fold runs: no such metric, last

    every = json.loads(runner.invoke(app, ["runs", "--format", "json", "--all-runs"]).stdout)
    assert len(every) == 6 and {r["experiment"] for r in every} == {"house-prices"}
    parents = runner.invoke(app, ["runs", "--format", "json"])  # fold runs are left out unless asked for
    assert len(json.loads(parents.stdout)) == 2
    assert parents.stderr == "4 fold and fit runs not shown: --all-runs shows them\n"

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
    for lr in (0.003, 0.002):  # a user's `-S competitions.house-prices.models.mlp.lr=0.002` beside the default
        _log_cv("mlp", {"type": "mlp", "lr": lr, "epochs": 60, "batch_size": 64, "dropout": 0.2}, 0.12 + lr)
    _log_cv("elastic_net", {"type": "elastic_net", "alpha": 0.0005, "l1_ratio": 1.0, "max_iter": 20000}, 0.118)

    rows = runs_view.search("house-prices")
    # every param not the same in all runs (what csv and json list), model.alpha of the one elastic net too
    assert runs_view.ranked_params(rows)[:3] == ["model.name", "model.type", "model.lr"]
    # what tells runs of one kind apart: the lr of the two cv:mlp runs; not the model-specific
    # params an elastic net has and an mlp has not, nor model.name/type beside the `model` tag
    assert runs_view.telling_params(rows) == (["model.lr"], [])

    table, note = runs_view.runs_report("house-prices", width=100)
    header = table.splitlines()[0].split()
    assert max(len(line) for line in table.splitlines()) <= 100
    assert header[:3] == ["run_id", "run_name", "model.lr"]
    assert header[3] == "valid_log_rmse_mean"  # the held-out score first
    assert "seed" not in header and "model.alpha" not in header
    assert "stage" not in header and "model" not in header  # the run names say them: cv:mlp@...
    assert "status" not in header and "same in every run: status=FINISHED" in note
    assert max(len(line) for line in note.splitlines()) <= 100  # the notes are folded to the width too

    # every cv parent run logs several scores: at 60 columns the held-out one stays, the rest are named
    narrow, narrow_note = runs_view.runs_report("house-prices", width=60, top_level=True)
    assert narrow.splitlines()[0].split()[-1] == "valid_log_rmse_mean"
    assert "more metrics not shown (" in narrow_note and "-m " in narrow_note
    assert max(len(line) for line in narrow_note.splitlines()) <= 60

    out = CliRunner().invoke(app, ["runs", "-e", "house-prices", "--sort", "valid_log_rmse_mean", "--desc",
                                   "--format", "csv"])
    assert out.exit_code == 0, out.output
    records = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [row["metrics.valid_log_rmse_mean"] for row in records] == ["0.123", "0.122", "0.118"]  # --desc: a flag
    assert "params.model.alpha" in records[0]  # csv keeps every param that differs


def test_each_competition_is_judged_by_its_own_metric():
    assert runs_view.experiment_headline("house-prices") == ("oof_log_rmse_without_outliers", "valid_log_rmse_mean")
    assert runs_view.experiment_headline("titanic") == ("oof_accuracy", "valid_accuracy_mean")  # its block's metric
    assert runs_view.experiment_headline("rnn") == ("perplexity",)
    assert runs_view.experiment_headline("nope") == ()


def _log(experiment: str, name: str, params: dict, metrics: dict, tags: dict, monkeypatch, exp_name: str = "",
         folds: int = 0) -> None:
    """A run the way a stage logs one (its params, standard tags, `name@label`), with `folds` nested fold runs."""
    monkeypatch.setenv("DVC_EXP_NAME", exp_name)
    with tracking.start_run(experiment, name, params=params, tags=tags):
        for k in range(1, folds + 1):  # fold k of n rows: its size differs from fold to fold
            with tracking.start_run(experiment, f"{name}:fold{k}", params=params, nested=True,
                                    tags={**tags, "fold": k}):
                tracking.log_metrics({"n_valid": 290 + k, "valid_log_rmse": 0.1 + k / 100})
        tracking.log_metrics(metrics)


@pytest.mark.slow
def test_runs_with_no_options_fit_100_columns_and_show_each_experiments_score_and_what_differs(monkeypatch):
    """What `python cli.py runs -e EXPERIMENT` prints at 100 columns after a `dvc repro` and one
    `dvc exp run -S`: the experiment's headline score, the param that differs, nothing that only
    differs by construction (fold sizes) or is a long list (the blend's weights)."""
    svr = {"cv": {"folds": 2}, "model": {"name": "svr", "type": "svr", "C": 77.0155, "degree": 2}}
    spline = {"cv": {"folds": 2}, "model": {"name": "spline_net", "type": "spline_net", "alpha": 0.00058,
                                            "degree": 3}}
    scores = {"valid_log_rmse_mean": 0.1228, "valid_log_rmse_std": 0.01, "train_log_rmse_mean": 0.07,
              "oof_log_rmse": 0.1233, "oof_log_rmse_without_outliers": 0.1112}
    for exp_name, c, weights in (("", 77.0155, [0.4596650848531928, 0.2580388531, 0.2822960619]),
                                 ("svr-c40", 40.0, [0.4568780179207, 0.2752820538558919, 0.2678399282233])):
        svr["model"]["C"] = c
        _log("house-prices", "cv:svr", svr, {**scores, "oof_log_rmse_without_outliers": 0.1112 - c / 1e5},
             {"stage": "cv", "model": "svr"}, monkeypatch, exp_name, folds=2)
        _log("house-prices", "cv:spline_net", spline, scores, {"stage": "cv", "model": "spline_net"}, monkeypatch,
             exp_name, folds=2)
        _log("house-prices", "blend", {"blend": {"models": ["spline_net", "svr"], "method": "optimize"}},
             {"oof_log_rmse_without_outliers": 0.1053, "valid_log_rmse_mean": 0.1174}, {"stage": "blend",
                                                                                       "model": "spline_net+svr"},
             monkeypatch, exp_name)
        _log("house-prices", "submission", {"blend": {"models": ["spline_net", "svr"], "weights": weights}},
             {"n_rows": 1459}, {"stage": "submission", "model": "spline_net+svr"}, monkeypatch, exp_name)
    for name, cell, impl, ppl in (("tm-gru-scratch", "gru", "scratch", 1.073), ("tm-lstm-concise", "lstm", "concise",
                                                                                 1.068),
                                  ("tm-rnn-concise", "rnn", "concise", 1.249)):
        _log("rnn", name, {"experiment": name, "model": {"cell": cell, "impl": impl, "corpus": "timemachine"},
                           "train": {"epochs": 50, "lr": 0.01}},
             {"perplexity": ppl, "tokens_per_sec": 9000.0, "train_seconds": 20.5}, {"stage": "rnn_train",
                                                                                   "model": f"{cell}-{impl}",
                                                                                   "dataset": "timemachine"},
             monkeypatch)
    for name, form, lam, loss in (("weight_decay/scratch_wd0", "scratch", 0.0, 94.5),
                                  ("weight_decay/concise_wd3", "concise", 3.0, 0.298)):
        _log("regularization", name, {"form": form, "lambda": lam, "n_train": 20},
             {"test_loss": loss, "train_loss": 0.01, "w_norm": 14.1}, {"stage": "weight_decay"}, monkeypatch)
    _log("regularization", "dropout/concise", {"variant": "concise", "dropout": 0.2, "n_train": 60000},
         {"test_loss": 0.39, "test_acc": 0.857, "train_loss": 0.39, "train_acc": 0.85}, {"stage": "dropout"},
         monkeypatch)

    tables = {}
    for experiment in ("house-prices", "rnn", "regularization"):
        out = CliRunner().invoke(app, ["runs", "-e", experiment], env={"COLUMNS": "100"})
        assert out.exit_code == 0, out.output
        assert max(len(line) for line in (out.stdout + out.stderr).splitlines()) <= 100, out.stdout + out.stderr
        tables[experiment] = (parse_table(out.stdout), out.stderr)

    house, note = tables["house-prices"]
    assert list(house[0])[:4] == ["run_id", "run_name", "model.C", "oof_log_rmse_without_outliers"]
    svr_runs = {r["run_name"]: (r["model.C"], r["oof_log_rmse_without_outliers"]) for r in house
                if r["run_name"].startswith("cv:svr@")}
    assert svr_runs["cv:svr@svr-c40"] == ("40.0", "0.1108") and len(svr_runs) == 2
    assert next(v for k, v in svr_runs.items() if k != "cv:svr@svr-c40") == ("77.0155", "0.11043")
    assert not {"n_valid", "model.degree", "model.alpha", "blend.weights", "stage", "model"} & set(house[0])
    assert "n_valid" not in note  # a fold's size is no score
    assert "list params not shown (blend.weights): -p blend.weights" in " ".join(note.split())
    # the README's filter: one model's cv runs; its changed C still shows, though the DVC
    # experiment's tag splits the runs alike
    svr_only = CliRunner().invoke(app, ["runs", "-e", "house-prices", "--filter", "tags.model = 'svr'", "--top-level"],
                                  env={"COLUMNS": "100"})
    assert [(r["run_name"], r["model.C"]) for r in parse_table(svr_only.stdout)] == [
        ("cv:svr@svr-c40", "40.0"), (next(k for k in svr_runs if k != "cv:svr@svr-c40"), "77.0155")]

    rnn = tables["rnn"][0]
    assert list(rnn[0])[:2] == ["run_id", "run_name"] and "perplexity" in rnn[0]
    assert {"model.cell", "model.impl"} <= set(rnn[0])  # what tells the experiments apart
    assert not {"experiment", "model.corpus", "train.epochs"} & set(rnn[0])  # the run name, the dataset, the same
    assert [r["perplexity"] for r in rnn] == ["1.249", "1.068", "1.073"]

    reg = tables["regularization"][0]
    assert {"test_loss", "test_acc"} <= set(reg[0]) and list(reg[0]).index("test_loss") < list(reg[0]).index("test_acc")
    assert {"form", "lambda"} <= set(reg[0])  # what tells the weight-decay runs apart
    assert "n_train" not in reg[0]  # the same within each kind of run

    wide = CliRunner().invoke(app, ["runs", "-e", "rnn", "-p", "model.cell,model.impl", "-m", "perplexity",
                                    "--sort", "perplexity"], env={"COLUMNS": "100"})
    assert max(len(line) for line in wide.stdout.splitlines()) <= 100  # the README's line fits too
    assert [r["perplexity"] for r in parse_table(wide.stdout)] == ["1.068", "1.073", "1.249"]


def test_runs_of_every_experiment_come_in_sections_each_judged_by_its_own_headline(monkeypatch):
    """`cli.py runs` with no -e: one table per experiment with its own headline score first;
    CV folds and final fits only with --all-runs, and stderr says how many were left out."""
    model = {"model": {"name": "lightgbm", "type": "lightgbm", "n_trees": 100}}
    _log("titanic", "cv:lightgbm", model, {"oof_accuracy": 0.8328, "valid_accuracy_mean": 0.8316},
         {"stage": "cv", "model": "lightgbm"}, monkeypatch, folds=2)
    _log("titanic", "fit:lightgbm", model, {"train_accuracy": 0.8676}, {"stage": "fit", "model": "lightgbm"},
         monkeypatch)
    _log("rnn", "tm-gru-scratch", {"model": {"cell": "gru"}}, {"perplexity": 1.073, "tokens_per_sec": 9000.0},
         {"stage": "rnn_train"}, monkeypatch)

    out = CliRunner().invoke(app, ["runs"], env={"COLUMNS": "100"})
    assert out.exit_code == 0, out.output
    assert max(len(line) for line in (out.stdout + out.stderr).splitlines()) <= 100
    rnn, titanic = out.stdout.rstrip("\n").split("\n\n")
    assert rnn.splitlines()[0] == "== rnn: 1 run; headline perplexity, lower is better =="
    assert titanic.splitlines()[0] == "== titanic: 1 run; headline oof_accuracy, higher is better =="
    rows = parse_table("\n".join(titanic.splitlines()[1:]))
    assert [r["run_name"].split("@")[0] for r in rows] == ["cv:lightgbm"]  # no fold, no fit
    assert list(rows[0]).index("oof_accuracy") < list(rows[0]).index("valid_accuracy_mean")  # the headline first
    assert "perplexity" in parse_table("\n".join(rnn.splitlines()[1:]))[0]
    assert out.stderr.splitlines()[-1] == "3 fold and fit runs not shown: --all-runs shows them"
    said = " ".join(out.stderr.split())  # the pipelines with no run yet, and what logs some
    assert "regularization: no runs yet; `dvc repro -f -s reg_polynomial reg_weight_decay reg_dropout reg_init` " \
           "logs them" in said and "house-prices: no runs yet; `dvc repro -f -s house_prices_train" in said
    assert "rnn: no runs yet" not in said and "titanic: no runs yet" not in said

    every = CliRunner().invoke(app, ["runs", "--all-runs"], env={"COLUMNS": "100"})
    assert "== titanic: 4 runs;" in every.stdout and "fold and fit runs" not in every.stderr
    top = CliRunner().invoke(app, ["runs", "-e", "titanic", "--all-runs", "--top-level"], env={"COLUMNS": "100"})
    assert sorted(r["run_name"].split("@")[0] for r in parse_table(top.stdout)) == ["cv:lightgbm", "fit:lightgbm"]


def test_a_scores_direction_is_its_metrics_own(monkeypatch):
    from pipeline.tabular import tasks

    assert not runs_view.higher_is_better("oof_log_rmse_without_outliers") and runs_view.higher_is_better("oof_auc")
    assert runs_view.higher_is_better("valid_accuracy_mean") and not runs_view.higher_is_better("oof_logloss")
    assert not runs_view.higher_is_better("perplexity") and runs_view.higher_is_better("test_acc")
    # a metric whose name says nothing: the registry decides, not a guess from the name
    gini = tasks.Metric("gini", ("binary",), True, lambda y, p: 0.0, "normalised Gini")
    monkeypatch.setitem(tasks.METRICS, "gini", gini)
    assert runs_view.higher_is_better("oof_gini") and runs_view.higher_is_better("valid_gini_mean")
    monkeypatch.setitem(tasks.METRICS, "gini", tasks.Metric("gini", ("binary",), False, gini.function, ""))
    assert not runs_view.higher_is_better("oof_gini")


def test_an_experiment_no_stage_has_logged_to_names_the_command_that_fills_it(monkeypatch):
    _log("titanic", "cv:lightgbm", {"seed": 1}, {"oof_accuracy": 0.83}, {"stage": "cv"}, monkeypatch)

    out = CliRunner().invoke(app, ["runs", "-e", "regularization"], env={"COLUMNS": "100"})
    assert out.exit_code == 0, out.output
    assert max(len(line) for line in out.stdout.splitlines()) <= 100
    said = " ".join(out.stdout.split())
    assert said.startswith("no runs in experiment 'regularization' of sqlite:")
    assert said.endswith(": `dvc repro -f -s reg_polynomial reg_weight_decay reg_dropout reg_init` logs them")
    rnn = CliRunner().invoke(app, ["runs", "-e", "rnn"], env={"COLUMNS": "100"})
    assert "`dvc repro -f -s rnn_train` logs them" in " ".join(rnn.stdout.split())
    with pytest.raises(TrackingError, match="no experiment 'nope' in .*; experiments: Default, titanic"):
        runs_view.runs_report("nope")
