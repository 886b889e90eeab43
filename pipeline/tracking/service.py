"""A tracking service shared by stage processes: mlflow is imported and its store opened once.

Importing mlflow and opening a SQLite store costs a stage process 3-4 s (mlflow's package, SQLAlchemy's
mappers, alembic), more than most house stages spend working. The first stage that logs starts
this small server on a Unix socket (`$TMPDIR/pipeline-mlflow-<uid>-<key>.sock`); it and every
later stage send their few calls to it as JSON lines and get answers back, synchronously, so a
failing store still fails the stage at once, with the same one-line `TrackingError`.

* One server per store URI, repo, MLflow settings and version of this code (all in the key); it
  exits after `PIPELINE_TRACKING_IDLE` seconds (default 300) without a connection.
* A client that disconnects with runs still open (a stage killed by SIGKILL, the OOM killer) has
  those runs ended KILLED at once.
* A SQLite file deleted or replaced since the server opened it is never written through a stale
  handle: the server says so, stops listening and exits, and the client starts a fresh one.
* `PIPELINE_TRACKING_SERVICE=0` turns it off: every process then imports mlflow itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pipeline import REPO_ROOT
from pipeline.errors import TrackingError
from pipeline.tracking.backend import OPS, TrackingBackend

START_TIMEOUT = 90.0  # seconds a client waits for a new server (mlflow's import, under load)
IDLE_DEFAULT = 300.0
_URI_VARIABLE = "PIPELINE_TRACKING_SERVICE_URI"
_CODE = tuple(sorted(Path(__file__).parent.glob("*.py")))  # the tracking package: its version


def enabled() -> bool:
    return os.environ.get("PIPELINE_TRACKING_SERVICE", "1").strip().lower() not in ("0", "false", "no", "off")


def socket_path(uri: str, root: Path) -> Path:
    """Where the server for this store, repo and settings listens (same inputs, same server)."""
    key = hashlib.sha256()
    for part in (uri, str(root), sys.executable,
                 *sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("MLFLOW_")),
                 *(p.read_bytes().hex() for p in _CODE)):
        key.update(part.encode() + b"\0")
    return Path(tempfile.gettempdir()) / f"pipeline-mlflow-{os.getuid()}-{key.hexdigest()[:20]}.sock"


# ---------------------------------------------------------------- client


class ServiceClient(TrackingBackend):
    """The stage side: one connection per process, the same operations as `MlflowStore`."""

    def __init__(self, uri: str, root: Path):
        self.uri, self.root = uri, root
        self.path = socket_path(uri, root)
        self._conn: socket.socket | None = None
        self._reader = None

    # ---- the TrackingBackend operations (backend.py), each one call to the server

    def start_run(self, experiment: str, name: str, tags: dict[str, str], params: dict[str, str],
                  parent_run_id: str | None = None, owner_pid: int | None = None,
                  source: str = "cli.py") -> dict[str, str]:
        return self.call("start_run", experiment=experiment, name=name, tags=tags, params=params,
                         parent_run_id=parent_run_id, owner_pid=owner_pid, source=source)

    def log_batch(self, run_id: str, metrics: list[list]) -> None:
        return self.call("log_batch", run_id=run_id, metrics=metrics)

    def log_artifact(self, run_id: str, path: str, artifact_path: str | None = None) -> None:
        return self.call("log_artifact", run_id=run_id, path=path, artifact_path=artifact_path)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        return self.call("set_tags", run_id=run_id, tags=tags)

    def end_run(self, run_id: str, status: str) -> None:
        return self.call("end_run", run_id=run_id, status=status)

    # ---- the connection

    def call(self, op: str, **args: Any) -> Any:
        if self._conn is None:
            self._connect()
        try:
            self._conn.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
            line = self._reader.readline()
        except OSError as exc:
            line, err = b"", exc
        else:
            err = None
        if not line:
            self.close()
            raise TrackingError(f"the tracking service for {_safe(self.uri)} stopped answering"
                                f"{f' ({err})' if err else ''}; see {self.path.with_suffix('.log')}")
        reply = json.loads(line)
        if "error" in reply:
            if reply.get("kind") == "tracking":
                raise TrackingError(reply["error"])
            raise RuntimeError(f"tracking service: {reply['error']}")
        return reply.get("result")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._reader = None

    def prestart(self) -> None:
        """Start the server in the background if none runs or starts, and return at once: the
        first stage of a `dvc repro` then finds it ready, or nearly, when it opens its run."""
        with self.path.with_suffix(".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            if not self.path.exists() and self._starting() is None:
                self._spawn()

    def _connect(self) -> None:
        """Connect to the running server, or start one and wait until it listens."""
        with self.path.with_suffix(".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # one client starts a server, the others wait for it
            for attempt in range(4):
                if self._try_connect() and self._hello():
                    return
                if attempt < 3:
                    self._wait_for(self._starting() or self._spawn())
        raise TrackingError(f"could not start the tracking service for {_safe(self.uri)}; "
                            f"see {self.path.with_suffix('.log')}")

    def _try_connect(self) -> bool:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            return False
        self._conn, self._reader = conn, conn.makefile("rb")
        return True

    def _hello(self) -> bool:
        """False when the server is quitting: its SQLite file was deleted or replaced, or it was idle."""
        try:
            if self.call("hello", pid=os.getpid()) == "ok":
                return True
        except TrackingError:  # a server quitting (idle) as we connected
            pass
        self.close()
        return False

    def _starting(self) -> int | None:
        """The pid of a server started earlier that is still starting (alive, not listening yet)."""
        try:
            pid = int(self.path.with_suffix(".pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _running(pid) and not self.path.exists() else None

    def _spawn(self) -> int:
        self.path.unlink(missing_ok=True)  # a socket left by a server that died
        log = self.path.with_suffix(".log")
        log.unlink(missing_ok=True)
        with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            # the URI goes by environment, not argv: `ps` shows argv to every user, passwords too
            server = subprocess.Popen(
                [sys.executable, "-m", "pipeline.tracking.service", str(self.path), str(self.root)],
                env={**os.environ, _URI_VARIABLE: self.uri}, cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)  # outlives this stage; not killed with its process group
        self.path.with_suffix(".pid").write_text(str(server.pid))
        _CHILDREN.append(server)  # reaped when it ends, if this process still runs then
        return server.pid

    def _wait_for(self, pid: int) -> None:
        log = self.path.with_suffix(".log")
        deadline = time.monotonic() + START_TIMEOUT
        while not self.path.exists():
            if not _running(pid):
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise TrackingError(f"the tracking service for {_safe(self.uri)} exited at start: {tail[0]}")
            if time.monotonic() > deadline:
                raise TrackingError(f"the tracking service for {_safe(self.uri)} did not start within "
                                    f"{START_TIMEOUT:.0f} s; see {log}")
            time.sleep(0.02)


_CHILDREN: list[subprocess.Popen] = []


def _running(pid: int) -> bool:
    """Alive: our own child that has not exited (not a zombie), or any other live process."""
    from pipeline.tracking.store import alive

    for child in _CHILDREN:
        if child.pid == pid:
            return child.poll() is None
    return alive(pid)


def _safe(uri: str) -> str:
    from pipeline.tracking.uri import safe_uri

    return safe_uri(uri)


# ---------------------------------------------------------------- server


class Server:
    """Serves one store to any number of clients, one thread each, calls one at a time."""

    OPS = OPS  # what a client may call: the TrackingBackend operations, nothing else

    def __init__(self, path: Path, uri: str, idle: float):
        from pipeline.tracking.store import MlflowStore

        self.path, self.idle = path, idle
        self.store = MlflowStore(uri)
        self.lock = threading.Lock()
        self.clients = 0
        self.last_seen = time.monotonic()
        self.quitting = False
        self.socket_inode = -1

    def warm_up(self) -> None:
        """Import what every call needs before listening, so a client that connects is served at once."""
        import mlflow  # noqa: F401
        from mlflow.entities import Metric, Param, RunTag  # noqa: F401

        try:
            self.store.client()
        except TrackingError as exc:  # reported to the clients, call by call
            print(f"store not ready: {exc}", flush=True)

    def serve(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        listener.bind(str(tmp))
        os.chmod(tmp, 0o600)
        listener.listen(64)
        os.replace(tmp, self.path)  # appears only once it accepts connections
        self.socket_inode = self.path.stat().st_ino
        listener.settimeout(1.0)
        print(f"serving {_safe(self.store.uri)} on {self.path}", flush=True)
        try:
            while not self.quitting:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    if self.clients == 0 and time.monotonic() - self.last_seen > self.idle:
                        break
                    continue
                with self.lock:
                    self.clients += 1
                threading.Thread(target=self._client, args=(conn,), daemon=True).start()
        finally:
            self._retire()
            listener.close()  # a client caught connecting in between sees EOF at hello and retries
        while self.clients:  # let the calls in flight finish
            time.sleep(0.1)

    def _retire(self) -> None:
        """Stop listening and leave no trace a client would take for a live or starting server."""
        self.quitting = True
        for path in (self.path, self.path.with_suffix(".pid")):
            try:
                mine = path.stat().st_ino == self.socket_inode if path == self.path else \
                    path.read_text().strip() == str(os.getpid())
                if mine:
                    path.unlink()
            except (FileNotFoundError, ValueError):
                pass

    def _client(self, conn: socket.socket) -> None:
        open_runs: set[str] = set()
        try:
            with conn, conn.makefile("rb") as reader:
                for line in reader:
                    request = json.loads(line)
                    conn.sendall(json.dumps(self._answer(request, open_runs)).encode() + b"\n")
        except OSError:
            pass
        finally:
            with self.lock:
                for run_id in open_runs:  # the client died mid-run: SIGKILL, the OOM killer
                    try:
                        self.store.end_run(run_id=run_id, status="KILLED")
                    except TrackingError:
                        pass
                self.clients -= 1
                self.last_seen = time.monotonic()

    def _answer(self, request: dict, open_runs: set[str]) -> dict:
        op, args = request.get("op"), request.get("args") or {}
        with self.lock:
            if op == "hello":
                if self.store.replaced():
                    self._retire()  # the client starts a fresh server
                    return {"result": "replaced"}
                return {"result": "ok"}
            if op not in self.OPS:
                return {"error": f"unknown call {op!r}", "kind": "internal"}
            try:
                result = getattr(self.store, op)(**args)
            except TrackingError as exc:
                return {"error": str(exc), "kind": "tracking"}
            except Exception as exc:  # noqa: BLE001 - a bug: the stage shows it, the server goes on
                return {"error": f"{type(exc).__name__}: {exc}", "kind": "internal"}
        if op == "start_run":
            open_runs.add(result["run_id"])
        elif op == "end_run":
            open_runs.discard(args.get("run_id"))
        return {"result": result}


def main(argv: list[str]) -> int:
    path, root, uri = Path(argv[0]), argv[1], os.environ.pop(_URI_VARIABLE)
    idle = float(os.environ.get("PIPELINE_TRACKING_IDLE", IDLE_DEFAULT))
    server = Server(path, uri, idle)
    os.chdir(root)  # MLflow resolves a new experiment's artifact folder (./mlruns) against it
    server.warm_up()
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
