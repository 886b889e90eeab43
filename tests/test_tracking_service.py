"""The tracking service (pipeline/tracking/service.py): stage processes log through one shared
server instead of importing mlflow each, and what they log is what in-process logging writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import mlflow_client

from pipeline import REPO_ROOT, tracking
from pipeline.tracking import service

# A stand-in stage: opens a run with params, a nested run with a curve, logs a metric and an
# artifact, then prints what it imported. argv: "hold" makes it wait inside the run for a kill.
STAGE = """
import json, sys, time
from pathlib import Path
from pipeline import tracking
tracking.use_service(sys.argv[1] == "service")
artifact = Path(sys.argv[2])
with tracking.start_run("house-prices", "cv:probe", params={"model": {"lr": 0.01, "hidden": [64]}, "seed": 3},
                        tags={"stage": "cv", "model": "probe"}) as run:
    with tracking.start_run("house-prices", "cv:probe:fold1", nested=True, params={"seed": 3}):
        tracking.log_history({"valid_log_rmse": [0.3, 0.2, 0.15]}, steps=[10, 20, 30])
    tracking.log_metrics({"valid_log_rmse_mean": 0.15})
    tracking.set_tags({"note": "probe"})
    artifact.write_text("curve")
    tracking.log_artifact(artifact)
    print(json.dumps({"run_id": run.info.run_id, "mlflow_imported": "mlflow" in sys.modules}), flush=True)
    if len(sys.argv) > 3:
        time.sleep(600)
"""


def _stage(mode: str, tmp_path: Path, *extra: str, **kwargs):
    artifact = tmp_path / f"{mode}-{time.monotonic_ns()}" / "curve.txt"
    artifact.parent.mkdir()
    return subprocess.Popen([sys.executable, "-c", STAGE, mode, str(artifact), *extra],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _finish(proc) -> dict:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _server_pid() -> int:
    path = service.socket_path(os.environ["MLFLOW_TRACKING_URI"], _store().parent)
    return int(path.with_suffix(".pid").read_text())


def _store() -> Path:
    return Path(os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"))


def _content(run_id: str) -> dict:
    client = mlflow_client()
    run = client.get_run(run_id)
    children = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}'")
    child = children[0]
    ignore = {"pid", "mlflow.source.name", "mlflow.runName"}
    return {
        "name": run.info.run_name.split("@")[0], "status": run.info.status, "params": run.data.params,
        "metrics": run.data.metrics, "tags": {k: v for k, v in run.data.tags.items() if k not in ignore},
        "artifacts": [a.path for a in client.list_artifacts(run_id)],
        "child": (child.info.run_name.split("@")[0], child.data.params,
                  [(m.step, m.value) for m in client.get_metric_history(child.info.run_id, "valid_log_rmse")]),
    }


@pytest.mark.slow
def test_stages_share_one_server_log_the_same_runs_and_never_import_mlflow(tmp_path):
    first = _finish(_stage("service", tmp_path))
    pid = _server_pid()
    second = _finish(_stage("service", tmp_path))
    assert _server_pid() == pid  # the second stage reused the first one's server
    in_process = _finish(_stage("in-process", tmp_path))
    assert not first["mlflow_imported"] and not second["mlflow_imported"]
    assert in_process["mlflow_imported"]

    logged = _content(second["run_id"])
    assert logged == _content(in_process["run_id"])  # same params, metrics, tags, curve, artifact
    assert logged["params"] == {"model.lr": "0.01", "model.hidden": "[64]", "seed": "3"}
    assert logged["child"][2] == [(10, 0.3), (20, 0.2), (30, 0.15)]
    assert logged["artifacts"] == ["curve.txt"] and logged["status"] == "FINISHED"
    names = sorted(r.info.run_name for r in mlflow_client().search_runs(
        [mlflow_client().get_experiment_by_name("house-prices").experiment_id], "tags.model = 'probe'"))
    assert names[1:] == [f"{names[0]} (2)", f"{names[0]} (3)"]  # unique: `cv:probe@<commit>`, (2), (3)


@pytest.mark.slow
def test_a_stage_killed_by_sigkill_has_its_runs_ended_killed_at_once(tmp_path):
    proc = _stage("service", tmp_path, "hold")
    line = proc.stdout.readline()
    run_id = json.loads(line)["run_id"]
    assert mlflow_client().get_run(run_id).info.status == "RUNNING"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while mlflow_client().get_run(run_id).info.status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mlflow_client().get_run(run_id).info.status == "KILLED"


@pytest.mark.slow
def test_a_store_deleted_under_a_running_server_is_never_written_through_a_stale_handle(tmp_path):
    first = _finish(_stage("service", tmp_path))
    old_server = _server_pid()
    _store().unlink()  # deleted between two stages, while the server still holds it open
    proc = _stage("service", tmp_path)
    second = _finish(proc)
    assert _server_pid() != old_server  # the old server quit; a new one made a new store
    runs = mlflow_client().search_runs([mlflow_client().get_experiment_by_name("house-prices").experiment_id])
    assert second["run_id"] in {r.info.run_id for r in runs}
    assert first["run_id"] not in {r.info.run_id for r in runs}
    deadline = time.monotonic() + 20
    while _alive(old_server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(old_server)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


def test_the_service_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("PIPELINE_TRACKING_SERVICE", "0")
    assert not service.enabled()
    tracking.use_service()
    try:
        with tracking.start_run("rnn", "off") as run:
            pass
    finally:
        tracking.use_service(False)
    assert mlflow_client().get_run(run.info.run_id).info.status == "FINISHED"


def test_a_second_top_level_run_inside_a_run_is_a_mistake_caught_before_the_store_is_touched():
    with tracking.start_run("rnn", "outer"), pytest.raises(RuntimeError, match="still active"), \
            tracking.start_run("rnn", "inner"):
        pass


@pytest.mark.slow
def test_a_password_in_the_uri_reaches_neither_the_process_list_nor_the_server_log(monkeypatch):
    from helpers import free_port

    from pipeline.errors import TrackingError

    uri = f"http://user:s3cret@127.0.0.1:{free_port()}"  # a server that is down
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracking.use_service()
    try:
        with pytest.raises(TrackingError) as caught, tracking.start_run("rnn", "x"):
            pass
    finally:
        tracking.use_service(False)
    assert "s3cret" not in str(caught.value)
    path = service.socket_path(uri, REPO_ROOT)
    server = int(path.with_suffix(".pid").read_text())
    assert b"s3cret" not in Path(f"/proc/{server}/cmdline").read_bytes()  # what `ps` shows every user
    assert "s3cret" not in path.with_suffix(".log").read_text()
    assert path.with_suffix(".log").stat().st_mode & 0o077 == 0


def test_the_store_the_client_and_the_server_offer_exactly_the_backends_operations(tmp_path):
    import inspect

    from pipeline.tracking.backend import OPS, TrackingBackend
    from pipeline.tracking.store import MlflowStore

    assert OPS == ("start_run", "log_batch", "log_artifact", "set_tags", "end_run")
    assert set(OPS) == TrackingBackend.__abstractmethods__
    assert service.Server.OPS == OPS

    def shape(method) -> list[tuple]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]

    for cls in (MlflowStore, service.ServiceClient):
        assert issubclass(cls, TrackingBackend) and not cls.__abstractmethods__
        for op in OPS:
            assert op in vars(cls), f"{cls.__name__} does not implement {op}"
            assert shape(getattr(cls, op)) == shape(getattr(TrackingBackend, op)), (cls.__name__, op)

    # the client forwards the operations and nothing else; the server answers nothing else
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = service.ServiceClient(uri, tmp_path)
    assert not hasattr(client, "end_stale_runs") and not hasattr(client, "client")
    server = service.Server(tmp_path / "unused.sock", uri, idle=1)
    assert server._answer({"op": "end_stale_runs", "args": {}}, set()) == {
        "error": "unknown call 'end_stale_runs'", "kind": "internal"}
