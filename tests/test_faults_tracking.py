"""Faults of the MLflow store: a server that is down or hangs, a SQLite file that is damaged,
locked, read-only or deleted, runs left RUNNING by a killed process, and a tracking service that
hangs or dies (docs/faults.md, cases 3 and 4; issue 18).

The stage under test is a tiny `rnn train` in a throw-away copy of the repo: it reads its
corpus before it opens its MLflow run, so every failure here is the store's.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import free_port, mlflow_client
from sandbox import copy_repo

from pipeline import tracking
from pipeline.errors import TrackingError
from pipeline.tracking import service
from pipeline.tracking.connect import set_http_defaults

EXPERIMENT = "tm-gru-concise"
TINY = {
    "rnn.train.hidden": 8,
    "rnn.train.batch_size": 2,
    "rnn.train.num_steps": 4,
    "rnn.train.epochs": 1,
    "rnn.train.num_chars": 3,
    "rnn.train.device": "cpu",
    "rnn.corpora.timemachine.max_tokens": 200,
}
OUTPUTS = (f"models/rnn/{EXPERIMENT}.pt", f"models/rnn/{EXPERIMENT}.samples.txt",
           f"metrics/rnn/{EXPERIMENT}.json", f"plots/rnn/{EXPERIMENT}.csv", f"runs/rnn/{EXPERIMENT}.json")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """One repo copy with the Time Machine downloaded, shared by this module's stage runs."""
    if not os.environ.get("PIPELINE_DATA_MIRROR"):
        pytest.skip("no dataset mirror")
    copy = copy_repo(tmp_path_factory.mktemp("faults-tracking") / "repo")
    copy.set_params(**TINY)
    copy.run("python", "cli.py", "download", "timemachine")
    return copy


def _train(repo, uri: str, timeout: int = 120, **extra_env: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP_REQUEST")}
    env.update(extra_env, MLFLOW_TRACKING_URI=uri)
    for name in OUTPUTS:
        (repo.path / name).unlink(missing_ok=True)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "cli.py", "rnn", "train", EXPERIMENT], cwd=repo.path, env=env,
                            capture_output=True, text=True, timeout=timeout, check=False)
    return result, time.monotonic() - started


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert lines[-1].startswith("error: "), result.stderr
    return lines[-1]


def _nothing_written(repo) -> None:
    left = [name for name in OUTPUTS if (repo.path / name).exists()]
    assert not left, left
    temps = [p for d in ("models", "metrics", "plots", "runs") for p in (repo.path / d).rglob("*.tmp")]
    assert not temps, temps


def test_tracking_server_down_fails_fast_and_never_shows_the_password(monkeypatch):
    for key in tracking.HTTP_DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    port = free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://user:s3cret@127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(TrackingError) as caught, tracking.start_run("rnn", "x"):
        pytest.fail("a run started on a server that is down")
    assert time.monotonic() - started < 30
    assert f"MLflow store http://127.0.0.1:{port} failed" in str(caught.value)
    assert "s3cret" not in str(caught.value)


@pytest.mark.slow
def test_tracking_server_that_hangs_times_out_within_30_seconds(repo):
    with socket.socket() as server:  # accepts connections (the kernel's backlog) and never answers
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]
        result, seconds = _train(repo, f"http://127.0.0.1:{port}", timeout=90)
    line = _one_error_line(result)
    assert f"127.0.0.1:{port}" in line
    assert seconds < 30, seconds
    _nothing_written(repo)


def test_http_defaults_bound_requests_but_user_settings_win(monkeypatch):
    for key in tracking.HTTP_DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    set_http_defaults("sqlite:///x.db")
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # a database store is left alone
    set_http_defaults("https://mlflow.example.invalid")
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "60"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == tracking.HTTP_DEFAULTS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]


@pytest.mark.slow
def test_corrupted_store_is_refused_and_left_as_it_was(repo, tmp_path):
    store = tmp_path / "mlflow.db"
    damaged = b"this is not a database\n" * 100
    store.write_bytes(damaged)
    result, _ = _train(repo, f"sqlite:///{store}")
    line = _one_error_line(result)
    assert str(store) in line and "not a SQLite database" in line
    assert store.read_bytes() == damaged
    _nothing_written(repo)


@pytest.fixture(scope="module")
def template_store(tmp_path_factory) -> Path:
    """A SQLite store holding one finished run (made once: creating MLflow's tables takes seconds)."""
    import mlflow

    store = tmp_path_factory.mktemp("template") / "mlflow.db"
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    run = client.create_run(client.create_experiment("rnn"), run_name="earlier")
    client.set_terminated(run.info.run_id)
    return store


def _store_from(template: Path, tmp_path: Path, monkeypatch) -> Path:
    store = tmp_path / "copied" / "mlflow.db"
    store.parent.mkdir()
    store.write_bytes(template.read_bytes())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    return store


@pytest.mark.slow
def test_truncated_store_is_a_clear_error_not_a_new_store(template_store, tmp_path, monkeypatch):
    store = _store_from(template_store, tmp_path, monkeypatch)
    store.write_bytes(store.read_bytes()[:3000])  # cut mid-page: the header is intact, the tables are not
    with pytest.raises(TrackingError, match=f"MLflow store sqlite:///{store} failed"), tracking.start_run("rnn", "x"):
        pytest.fail("a run started on a truncated store")
    assert len(store.read_bytes()) == 3000


@pytest.mark.slow
def test_locked_store_is_a_clear_error_then_works_and_keeps_earlier_runs(template_store, tmp_path, monkeypatch):
    store = _store_from(template_store, tmp_path, monkeypatch)
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding a write transaction
    started = time.monotonic()
    try:
        with pytest.raises(TrackingError, match="database is locked"), tracking.start_run("rnn", "x"):
            pytest.fail("a run started on a locked store")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert time.monotonic() - started < 60
    with tracking.start_run("rnn", "after"):
        pass
    runs = mlflow_client().search_runs([mlflow_client().get_experiment_by_name("rnn").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]


@pytest.mark.slow
def test_deleted_store_is_said_out_loud_and_a_new_one_works(template_store, tmp_path, monkeypatch, capsys):
    store = _store_from(template_store, tmp_path, monkeypatch)
    store.unlink()  # deleted between two stage runs
    with tracking.start_run("rnn", "next"):
        pass
    assert f"note: MLflow store {store} does not exist; creating a new, empty one" in capsys.readouterr().err
    assert [r.info.run_name.split("@")[0] for r in mlflow_client().search_runs(
        [mlflow_client().get_experiment_by_name("rnn").experiment_id])] == ["next"]


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_runs_left_running_by_a_dead_process_on_this_host_end_as_killed():
    client = mlflow_client()
    experiment_id = client.create_experiment("house-prices")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        host = socket.gethostname()
        ns = tracking.pid_namespace()
        owners = {"dead": (host, _dead_pid(), ns), "alive": (host, sleeper.pid, ns),
                  "elsewhere": ("other-host", _dead_pid(), ns), "container": (host, _dead_pid(), "pid:[1]"),
                  "untagged": None}
        ids = {}
        for name, owner in owners.items():
            tags = {} if owner is None else {tracking.HOST_TAG: owner[0], tracking.PID_TAG: str(owner[1]),
                                             tracking.PID_NS_TAG: owner[2]}
            ids[name] = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
        with tracking.start_run("house-prices", "next") as run:
            assert run.data.tags[tracking.PID_TAG] == str(os.getpid())
        status = {name: client.get_run(run_id).info.status for name, run_id in ids.items()}
        assert status == {"dead": "KILLED", "alive": "RUNNING", "elsewhere": "RUNNING", "container": "RUNNING",
                          "untagged": "RUNNING"}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_store_errors_are_pipeline_errors(tmp_path, monkeypatch):
    store = tmp_path / "bad.db"
    store.write_bytes(b"garbage" * 10)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    with pytest.raises(TrackingError, match="not a SQLite database"), tracking.start_run("rnn", "x"):
        pass
    assert Path(store).read_bytes() == b"garbage" * 10


@pytest.mark.slow  # SQLite's 20 s busy timeout, idle
def test_store_locked_mid_run_is_a_tracking_error_and_the_run_ends_failed(template_store, tmp_path, monkeypatch):
    store = _store_from(template_store, tmp_path, monkeypatch)
    with pytest.raises(TrackingError, match="database is locked"), tracking.start_run("rnn", "mid-run") as run:
        holder = sqlite3.connect(store, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            tracking.log_metrics({"perplexity": 1.5})
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert mlflow_client().get_run(run.info.run_id).info.status == "FAILED"


@pytest.mark.slow
def test_a_tracking_service_that_hangs_fails_the_stage_within_its_timeout(repo, tmp_path, monkeypatch):
    store = tmp_path / "hung" / "mlflow.db"
    store.parent.mkdir()
    uri = f"sqlite:///{store}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # the MLFLOW_* settings pick the server: the stage's
    for key in [k for k in os.environ if k.startswith("MLFLOW_HTTP_REQUEST")]:
        monkeypatch.delenv(key)
    client = service.ServiceClient(uri, store.parent)  # the server the stage would use, started here
    client.end_run(client.start_run("rnn", "warm", tags={}, params={})["run_id"], "FINISHED")
    client.close()
    pid = int(client.path.with_suffix(".pid").read_text())
    os.kill(pid, signal.SIGSTOP)  # hung: it accepts (the kernel's backlog) and never answers
    try:
        result, seconds = _train(repo, uri, timeout=90, PIPELINE_TRACKING_TIMEOUT="10")
    finally:
        os.kill(pid, signal.SIGCONT)
    line = _one_error_line(result)
    assert f"(pid {pid}) did not answer within 10 s" in line and str(client.path.with_suffix(".log")) in line
    # one wait, not one per call: the run's clean-up (end_run FAILED) does not wait again
    assert 10 < seconds < 2 * 10, seconds
    _nothing_written(repo)


@pytest.mark.slow
def test_read_only_store_keeps_the_real_cause(repo, tmp_path, monkeypatch):
    store = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    with tracking.start_run("rnn", "earlier"):  # its experiment made and tagged, as the pipeline leaves it
        pass
    if os.geteuid() == 0:  # root writes any file whatever its mode: make it immutable instead
        if subprocess.run(["chattr", "+i", str(store)], capture_output=True, check=False).returncode != 0:
            pytest.skip("running as root where chattr +i is not allowed: cannot make a file read-only")
    else:
        store.chmod(0o444)
    before = store.read_bytes()
    try:
        result, _ = _train(repo, f"sqlite:///{store}")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(store)], check=True)
    line = _one_error_line(result)
    assert f"MLflow store sqlite:///{store} failed: (sqlite3.OperationalError) attempt to write a readonly " \
           f"database (check that you may write {store} and its folder)" in line
    assert "autoflush" not in line
    assert store.read_bytes() == before
    _nothing_written(repo)
