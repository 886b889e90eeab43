"""Growing past one laptop: a PostgreSQL-backed MLflow tracking server, parallel `dvc exp` sweeps
(each experiment its own MLflow run), and sharing data through a DVC remote (see docs/team.md)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import base_name, free_port
from pipeline import tracking, ui
from pipeline.commands import app
from pipeline.errors import TrackingError

SWEEP = {"competitions.house-prices.blend.models": ["elastic_net"],
         "competitions.house-prices.models.elastic_net.max_iter": 200, "competitions.house-prices.cv.folds": 2}


# ---- PostgreSQL-backed tracking server (the `postgres` fixture is in conftest.py)


@pytest.mark.slow
def test_tracking_server_backed_by_postgresql_stores_the_project_runs(postgres, tmp_path, monkeypatch):
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    try:
        # SQLAlchemy 2.1 reads plain postgresql:// as psycopg 3; the project pins psycopg2-binary
        backend = postgres.replace("postgresql://", "postgresql+psycopg2://", 1)
        server = ui.start_server(backend, port, timeout=240, stdout=log, stderr=subprocess.STDOUT)
    except TrackingError as exc:
        log.close()
        raise AssertionError(f"{exc}:\n{(tmp_path / 'server.log').read_text()[-3000:]}") from exc
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server.token)  # it answers its token only
        monkeypatch.setenv("DVC_STAGE", "rnn_train@tm-gru-concise")
        with tracking.start_run("rnn", "tm-gru-concise", params={"model": {"cell": "gru"}, "train": {"lr": 0.005}},
                                tags={"device": "cpu", "seed": 0, "corpus": "timemachine", "cell": "gru"}) as run:
            tracking.log_history({"perplexity": [9.0, 3.0, 1.2]})
            tracking.log_metrics({"perplexity": 1.2})
            record = tmp_path / "run.json"
            tracking.write_run_record(record, run)

        import mlflow

        got = mlflow.MlflowClient(f"http://127.0.0.1:{port}").get_run(run.info.run_id)
        assert got.data.params == {"model.cell": "gru", "train.lr": "0.005"}
        assert got.data.metrics["perplexity"] == pytest.approx(1.2)
        assert got.data.tags["stage"] == "rnn_train" and got.data.tags["dataset"] == "timemachine"
        assert json.loads(record.read_text())["tracking_uri"] == f"http://127.0.0.1:{port}"
        table = CliRunner().invoke(app, ["runs", "-e", "rnn", "-p", "model.cell", "-m", "perplexity",
                                         "--format", "csv"])
        assert table.exit_code == 0 and "tm-gru-concise" in table.output and ",gru,1.2" in table.output

        import psycopg2  # the run is in PostgreSQL itself, not in some local file

        with psycopg2.connect(postgres) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT name, status FROM runs WHERE run_uuid = %s", (run.info.run_id,))
            name, status = cursor.fetchone()
            assert (base_name(name), status) == ("tm-gru-concise", "FINISHED")
            cursor.execute("SELECT step, value FROM metrics WHERE run_uuid = %s AND key = 'perplexity'",
                           (run.info.run_id,))
            assert sorted(cursor.fetchall()) == [(0, 1.2), (1, 9.0), (2, 3.0), (3, 1.2)]
    finally:
        ui.stop(server)
        log.close()


# ---- parallel sweeps: dvc exp run --queue + dvc queue start --jobs N


@pytest.mark.slow
def test_queued_sweep_runs_each_experiment_as_its_own_mlflow_run(repo_copy, mirror, monkeypatch):
    # No MLFLOW_TRACKING_URI: queued experiments run in temporary copies under .dvc/tmp/exps, and
    # must still log to the repo's own default store (pipeline.tracking.default_store).
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    repo_copy.set_params(**SWEEP)
    repo_copy.dvc("repro", "house_prices_preprocess")
    repo_copy.run("git", "add", "-A")
    repo_copy.run("git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-qm", "baseline")
    baseline = repo_copy.run("git", "rev-parse", "HEAD").stdout.strip()

    alphas = {0.001: None, 0.002: None}
    for alpha in alphas:
        queued = repo_copy.dvc("exp", "run", "--queue", "-S",
                               f"competitions.house-prices.models.elastic_net.alpha={alpha}",
                               "house_prices_train@elastic_net")
        alphas[alpha] = queued.stdout.split("Queued experiment '")[1].split("'")[0]
    finished = False
    try:
        repo_copy.dvc("queue", "start", "--jobs", "2")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status = repo_copy.dvc("queue", "status").stdout
            if not any(word in status for word in ("Queued", "Running")):
                finished = True  # idle workers exit by themselves
                break
            time.sleep(3)
        else:
            pytest.fail(f"the queue did not finish in 10 minutes:\n{status}")
    finally:
        if not finished:
            repo_copy.dvc("queue", "stop", "--kill", check=False, timeout=120)

    shown = json.loads(repo_copy.dvc("exp", "show", "--json").stdout)
    experiments = {e["name"]: e for commit in shown for e in commit.get("experiments") or []}
    assert set(experiments) == set(alphas.values()), status
    for alpha, name in alphas.items():
        assert experiments[name]["executor"]["state"] == "success", status
        data = experiments[name]["revs"][0]["data"]
        params = data["params"]["params.yaml"]["data"]["competitions"]["house-prices"]["models"]["elastic_net"]
        assert params["alpha"] == alpha
        assert data["metrics"]["metrics/house-prices/cv_elastic_net.json"]["data"]["valid_log_rmse_mean"] > 0

    import mlflow

    store = repo_copy.path / "mlflow.db"
    assert store.is_file(), "queued runs did not reach the repo's default store"
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("house-prices")
    runs = [r for r in client.search_runs([experiment.experiment_id]) if base_name(r) == "cv:elastic_net"]
    by_exp = {r.data.tags["dvc_exp_name"]: r for r in runs}
    assert len(runs) == 2 and set(by_exp) == set(alphas.values())
    for alpha, name in alphas.items():
        run = by_exp[name]
        assert run.data.params["model.alpha"] == str(alpha) and run.info.status == "FINISHED"
        assert run.data.tags["dvc_exp"] == "true" and run.data.tags["git_commit"] == baseline
        assert run.data.tags["dvc_stage"] == "house_prices_train@elastic_net"
        assert "valid_log_rmse_mean" in run.data.metrics


def test_default_store_of_a_queued_experiment_is_the_real_repos(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    executor = repo / ".dvc" / "tmp" / "exps" / "tmpabc123"
    executor.mkdir(parents=True)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setattr(tracking.uri, "REPO_ROOT", executor)
    monkeypatch.setattr(tracking.uri, "DEFAULT_STORE", executor / "mlflow.db")
    monkeypatch.setenv("DVC_ROOT", str(repo))
    assert tracking.tracking_uri() == f"sqlite:///{repo / 'mlflow.db'}"
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "elsewhere"))  # not our parent: ignored
    assert tracking.tracking_uri() == f"sqlite:///{executor / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri() == "http://127.0.0.1:5000"


# ---- sharing data and models through a DVC remote


def _digests(*folders: Path) -> dict[str, str]:
    return {str(p.relative_to(folders[0].parents[2])): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_dvc_push_and_pull_round_trip_through_a_local_remote(repo_copy, mirror, tmp_path):
    repo_copy.dvc("repro", "house_prices_preprocess")
    root = repo_copy.path
    outputs = [root / "data" / "raw" / "house-prices", root / "data" / "processed" / "house-prices"]
    before = _digests(*outputs)
    assert len(before) >= 6

    remote = tmp_path / "remote"
    repo_copy.dvc("remote", "add", "--default", "team", str(remote))
    stages = ("house_prices_download", "house_prices_preprocess")  # only these ran: push what they made
    repo_copy.dvc("push", *stages)
    assert sum(1 for p in remote.rglob("*") if p.is_file()) >= len(before)

    shutil.rmtree(root / ".dvc" / "cache")
    for folder in outputs:
        shutil.rmtree(folder)
    repo_copy.dvc("pull", *stages)
    assert _digests(*outputs) == before
    assert "up to date" in repo_copy.dvc("status", "house_prices_preprocess").stdout
