"""The tracking service (pipeline/tracking/service.py): stage processes log through one shared
server instead of importing mlflow each, and what they log is what in-process logging writes.
It answers its own user only, never makes a stage wait unbounded, works under any TMPDIR, never
takes a reused pid for itself, and survives a `kill -9` between calls (issue 18)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from helpers import mlflow_client

from pipeline import REPO_ROOT, tracking
from pipeline.errors import TrackingError
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
    return int(_socket().with_suffix(".pid").read_text())


def _socket() -> Path:
    """Where this test's store is served: the path stage processes compute too."""
    return service.socket_path(os.environ["MLFLOW_TRACKING_URI"], _store().parent)


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


# ---- issue 18: a private, bounded service


@pytest.fixture
def tmpdir_env(monkeypatch):
    """Point TMPDIR (and this process's tempfile) at a folder; stage processes inherit it."""
    def point(folder: Path) -> Path:
        monkeypatch.setenv("TMPDIR", str(folder))
        monkeypatch.setattr(tempfile, "tempdir", None)
        return folder
    return point


@pytest.fixture
def short_tmp(tmpdir_env):
    """A TMPDIR short enough for the socket to live in it (pytest's own tmp_path may be too long)."""
    import shutil

    folder = tmpdir_env(Path(tempfile.mkdtemp(prefix="t18-", dir="/tmp")))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _try_start_run(client: service.ServiceClient) -> dict:
    return client.start_run("rnn", "x", tags={}, params={})


def test_the_socket_folder_must_be_private_to_its_user(short_tmp):
    client = service.ServiceClient(os.environ["MLFLOW_TRACKING_URI"], short_tmp)
    folder = short_tmp / f"pipeline-{os.geteuid()}"  # the user's one private folder (pipeline/private.py)
    assert client.path.parent == folder
    folder.mkdir()
    folder.chmod(0o777)  # world-writable: anyone could listen there, or swap the socket
    with pytest.raises(TrackingError, match=f"^{folder} has mode 0777: other users may enter it; .*mode 0700"):
        _try_start_run(client)
    assert not list(folder.iterdir())  # refused before starting or sending anything
    folder.chmod(0o700)
    if os.geteuid() == 0:
        os.chown(folder, 65534, 65534)  # another user's folder
        with pytest.raises(TrackingError, match=f"^{folder} belongs to uid 65534, not to you \\(uid 0\\)"):
            _try_start_run(client)
    folder.rmdir()
    (short_tmp / "elsewhere").mkdir(mode=0o700)
    folder.symlink_to(short_tmp / "elsewhere")  # a link could be turned to any folder later
    with pytest.raises(TrackingError, match=f"^{folder} is not a folder"):
        _try_start_run(client)
    folder.unlink()
    assert service.private_dir(folder) == folder and folder.stat().st_mode & 0o777 == 0o700


def _serve_in_thread(server: service.Server) -> threading.Thread:
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.path.exists():
        assert time.monotonic() < deadline, "the server did not listen"
        time.sleep(0.01)
    return thread


def test_client_and_server_each_refuse_a_peer_of_another_uid(short_tmp, capsys):
    """With the expected uid faked (a listener of another user needs root: see the next test)."""
    uri = os.environ["MLFLOW_TRACKING_URI"]
    client = service.ServiceClient(uri, short_tmp)
    server = service.Server(service.private_dir(client.path.parent) / client.path.name, uri, idle=60)
    thread = _serve_in_thread(server)
    try:
        me = os.geteuid()
        client.expected_uid = me + 1
        with pytest.raises(TrackingError, match=f"^{client.path} is served by uid {me} .*not by you "
                                                f"\\(uid {me + 1}\\): refusing to send runs to it"):
            _try_start_run(client)

        server.expected_uid = me + 1
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(10)
            conn.connect(str(server.path))
            try:
                conn.sendall(b'{"op": "hello", "args": {}}\n')
                answer = conn.recv(100)
            except (BrokenPipeError, ConnectionResetError):  # closed before, or with our hello unread
                answer = b""
            assert answer == b""  # dropped unanswered
        assert f"refused a connection of uid {me} (pid {os.getpid()})" in capsys.readouterr().out
    finally:
        server.quitting = True
        with socket.socket(socket.AF_UNIX) as wake:  # its accept() returns now, not at its next 1 s poll
            wake.connect(str(server.path))
        thread.join(10)


@pytest.mark.skipif(os.geteuid() != 0 or not hasattr(socket, "SO_PEERCRED"), reason="needs root (setuid) and Linux")
def test_a_listener_running_as_another_real_user_gets_nothing(short_tmp):
    client = service.ServiceClient(os.environ["MLFLOW_TRACKING_URI"], short_tmp)
    service.private_dir(client.path.parent)
    ready, report = os.pipe()
    child = os.fork()
    if child == 0:  # bound by root in root's folder, listening as nobody: SO_PEERCRED says nobody
        try:
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(str(client.path))
            os.setgid(65534)
            os.setuid(65534)
            listener.listen(1)
            os.write(report, b"listening\n")
            listener.settimeout(20)
            conn, _ = listener.accept()
            conn.settimeout(2)
            try:
                data = conn.recv(1000)
            except TimeoutError:
                data = b"(silence)"
            os.write(report, b"received " + (data or b"nothing") + b"\n")
        finally:
            os._exit(0)
    os.close(report)
    with os.fdopen(ready, "rb") as lines:
        assert lines.readline() == b"listening\n"
        with pytest.raises(TrackingError, match="is served by uid 65534 .*not by you \\(uid 0\\)"):
            _try_start_run(client)
        assert lines.readline() == b"received nothing\n"  # not even a hello
    os.waitpid(child, 0)


def test_a_listener_placed_at_the_socket_path_before_the_service_gets_no_runs(tmp_path):
    path = _socket()
    path.parent.mkdir(mode=0o700, exist_ok=True)
    received: list[bytes] = []

    def impostor(listener: socket.socket) -> None:
        """Answers every line as the service once did, and records what it was sent."""
        conn, _ = listener.accept()
        conn.settimeout(10)
        data = b""
        try:
            while chunk := conn.recv(65536):
                data += chunk
                conn.sendall(b'{"result": "ok"}\n' * chunk.count(b"\n"))
        except OSError:
            pass
        received.append(data)
        conn.close()

    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        listener.listen(4)
        thread = threading.Thread(target=impostor, args=(listener,), daemon=True)
        thread.start()
        proc = _stage("service", tmp_path)
        err = proc.communicate(timeout=120)[1]
        thread.join(15)
    path.unlink(missing_ok=True)
    assert proc.returncode != 0
    assert f"{path} is held by pid {os.getpid()} (" in err and "which is not the tracking service: refusing" in err
    assert received == [b""]  # no hello, no params, no metrics


@pytest.mark.slow
def test_any_tmpdir_works_even_one_too_long_for_a_socket_path(tmp_path, tmpdir_env):
    long_tmp = tmpdir_env(tmp_path / ("t" * 60) / ("u" * 60))
    long_tmp.mkdir(parents=True)
    assert len(os.fsencode(long_tmp)) > 120
    first = _finish(_stage("service", tmp_path))  # inherits TMPDIR
    path = _socket()
    assert len(os.fsencode(path)) + 8 <= 107 and path.parent == Path("/tmp", f"pipeline-{os.geteuid()}")
    assert service.is_service(_server_pid(), path)
    assert mlflow_client().get_run(first["run_id"]).info.status == "FINISHED"


def test_a_server_that_fails_to_start_leaves_no_pid_file_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_TRACKING_IDLE", "soon")  # the server's own setting: it exits at start
    client = service.ServiceClient(os.environ["MLFLOW_TRACKING_URI"], _store().parent)
    with pytest.raises(TrackingError, match="exited at start: ValueError: could not convert string to float: 'soon'"):
        _try_start_run(client)
    assert not client.path.with_suffix(".pid").exists() and not client.path.exists()


@pytest.mark.slow
def test_a_pid_file_naming_an_unrelated_live_process_is_not_trusted(tmp_path):
    path = _socket()
    path.parent.mkdir(mode=0o700, exist_ok=True)
    sleeper = subprocess.Popen(["sleep", "120"])  # what a reused pid names: some other program
    try:
        path.with_suffix(".pid").write_text(str(sleeper.pid))
        started = time.monotonic()
        _finish(_stage("service", tmp_path))
        assert time.monotonic() - started < 30  # was: 90 s waiting for `sleep` to listen, then an error
        assert _server_pid() != sleeper.pid and service.is_service(_server_pid(), path)
        assert not service.is_service(sleeper.pid, path) and sleeper.poll() is None  # left alone
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_timeout_setting_is_checked(monkeypatch):
    for bad in ("soon", "0", "-5", "inf", "nan"):
        monkeypatch.setenv("PIPELINE_TRACKING_TIMEOUT", bad)
        with pytest.raises(TrackingError, match=f"^PIPELINE_TRACKING_TIMEOUT='{bad}' is not a number of seconds > 0$"):
            service.ServiceClient(os.environ["MLFLOW_TRACKING_URI"], REPO_ROOT)
    monkeypatch.setenv("PIPELINE_TRACKING_TIMEOUT", "2.5")
    assert service.ServiceClient(os.environ["MLFLOW_TRACKING_URI"], REPO_ROOT).timeout == 2.5
    monkeypatch.delenv("PIPELINE_TRACKING_TIMEOUT")
    assert service.call_timeout() == 30.0


# A stage that opens a run, logs, and waits for a line on stdin between steps (the test acts there).
HOLD = """
import json, sys
from pipeline import tracking
tracking.use_service()
print("starting", flush=True)
with tracking.start_run("rnn", "hold") as run:
    tracking.log_metrics({"before": 1.0})
    print(json.dumps({"run_id": run.info.run_id}), flush=True)
    sys.stdin.readline()
    tracking.log_metrics({"after": 2.0})
    print("logged", flush=True)
    sys.stdin.readline()
"""


def _hold_stage():
    return subprocess.Popen([sys.executable, "-c", HOLD], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.slow
def test_a_service_killed_between_calls_is_replaced_and_adopts_the_stages_runs(tmp_path):
    stage = _hold_stage()
    try:
        assert stage.stdout.readline() == "starting\n"
        run_id = json.loads(stage.stdout.readline())["run_id"]
        old = _server_pid()
        os.kill(old, signal.SIGKILL)  # while the stage trains
        _wait_until(lambda: not _alive(old))
        stage.stdin.write("\n")
        stage.stdin.flush()
        line = stage.stdout.readline()
        assert line == "logged\n", line + (stage.stderr.read() if not line else "")  # the training goes on
        new = _server_pid()
        assert new != old and service.is_service(new, _socket())
        stage.kill()  # the fresh server ends the run it adopted, as the old one would have
        stage.wait(timeout=30)
        _wait_until(lambda: mlflow_client().get_run(run_id).info.status != "RUNNING")
        run = mlflow_client().get_run(run_id)
        assert run.info.status == "KILLED" and run.data.metrics == {"before": 1.0, "after": 2.0}
        assert f"note: the tracking service (pid {old}) died; a fresh one (pid {new}) carries on" in stage.stderr.read()
    finally:
        stage.kill()
        stage.wait()


@pytest.mark.slow
def test_a_service_killed_during_start_run_is_an_error_naming_its_log(tmp_path):
    _finish(_stage("service", tmp_path))  # the server is up, the store made
    old, log = _server_pid(), _socket().with_suffix(".log")
    holder = sqlite3.connect(_store(), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # start_run will wait on the database inside the server
    try:
        stage = _hold_stage()
        assert stage.stdout.readline() == "starting\n"
        _wait_until(lambda: f"client pid {stage.pid} connected" in log.read_text())
        time.sleep(1)  # its start_run, sent just after the hello, is in the server
        os.kill(old, signal.SIGKILL)
        _, err = stage.communicate(timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert stage.returncode != 0
    assert f"(pid {old}) died during start_run, which may have run: see pid {old}'s lines in {log}" in err
    assert f"== tracking service pid {old} starting" in log.read_text()
