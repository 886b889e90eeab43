"""A tracking service shared by stage processes: mlflow is imported and its store opened once.

Importing mlflow and opening a SQLite store costs a stage process 3-4 s (mlflow's package, SQLAlchemy's
mappers, alembic), more than most house stages spend working. The first stage that logs starts
this small server on a Unix socket; it and every later stage send their few calls to it as JSON
lines and get answers back, synchronously, so a failing store still fails the stage at once, with
the same one-line `TrackingError`. Why this and not `mlflow server`: docs/tracking.md.

* Private: the socket lives in the user's private folder (`pipeline/private.py`:
  `$TMPDIR/pipeline-<uid>/`, `/tmp/...` when `$TMPDIR` is too long for a socket path), mode 0700,
  checked at every connection; its log, lock and pid files are opened without following links.
  Both ends check the other's uid with SO_PEERCRED: the server drops a connection from
  another uid; the client refuses a server of another uid, or a listener that is not a tracking
  service for that socket (its /proc command line), before it sends anything.
* Bounded: every client call (connecting, starting a server, each request) gives up after
  `PIPELINE_TRACKING_TIMEOUT` seconds (default 30) with one `TrackingError` line.
* Liveness never trusts a pid alone: the `.pid` file counts only while that pid's command line is
  this service for this socket (a reused pid is some other program).
* A server killed mid-session (`kill -9`, the OOM killer): the client starts a fresh one, hands it
  its open runs and repeats the call when repeating is harmless (the request never arrived, or it
  logs, tags, ends or copies an artifact); a `start_run` that may have run is an error naming the
  dead server's pid and its log (the `.log` beside the socket, every server's lines after its own
  header).
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
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from pipeline import REPO_ROOT, private
from pipeline.errors import PipelineError, TrackingError
from pipeline.tracking.backend import OPS, TrackingBackend

TIMEOUT_VARIABLE = "PIPELINE_TRACKING_TIMEOUT"
TIMEOUT_DEFAULT = 30.0  # seconds: starting a server (mlflow's import, under load) or one call
IDLE_DEFAULT = 300.0
PROTOCOL = "pipeline-tracking/2"  # what a server answers to hello
MODULE = "pipeline.tracking.service"
LOG_LIMIT = 1 << 20  # a log past 1 MiB is started afresh by the next server
_URI_VARIABLE = "PIPELINE_TRACKING_SERVICE_URI"
_CODE = tuple(sorted(Path(__file__).parent.glob("*.py")))  # the tracking package: its version
_NAME = 20 + len(".sock.") + 7  # a socket's name: its key, and the pid suffix a server binds under first
assert _NAME <= private.SOCKET_ROOM  # the private folder leaves room for it under 107 bytes
# Calls that do no harm when they run twice: repeated on a fresh server after the old one died
# with the call in flight. start_run is not among them: it would open a second run.
_REPEATABLE = frozenset({"log_batch", "log_artifact", "set_tags", "end_run"})


def enabled() -> bool:
    return os.environ.get("PIPELINE_TRACKING_SERVICE", "1").strip().lower() not in ("0", "false", "no", "off")


def call_timeout() -> float:
    """Seconds a client waits for the service: `PIPELINE_TRACKING_TIMEOUT`, default 30."""
    raw = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return TIMEOUT_DEFAULT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise TrackingError(f"{TIMEOUT_VARIABLE}={raw!r} is not a number of seconds > 0")
    return value


def own_uid() -> int:
    return os.geteuid()


def service_dir() -> Path:
    """Where the sockets live: the user's private folder (`private.location()`, not made here)."""
    return private.location()


def private_dir(folder: Path) -> Path:
    """Make `folder` (mode 0700) or check that it is the user's alone (`private.ensure`): another
    user could listen on, or replace, a socket in any other; that is a `TrackingError` line."""
    try:
        return private.ensure(folder)
    except TrackingError:
        raise
    except PipelineError as exc:
        raise TrackingError(str(exc)) from None


def socket_path(uri: str, root: Path) -> Path:
    """Where the server for this store, repo and settings listens (same inputs, same server)."""
    key = hashlib.sha256()
    for part in (uri, str(root), sys.executable,
                 *sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("MLFLOW_")),
                 *(p.read_bytes().hex() for p in _CODE)):
        key.update(part.encode() + b"\0")
    return service_dir() / f"{key.hexdigest()[:20]}.sock"


def peer_credentials(conn: socket.socket) -> tuple[int, int] | None:
    """(pid, uid) of the process at the other end of a Unix socket; None where the OS has no SO_PEERCRED
    (then the private folder alone keeps other users out)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    return pid, uid


def command_line(pid: int) -> list[str] | None:
    """The argv of a process: None when it is gone, [] while it has none (a zombie, a kernel thread,
    or an exec under way: Popen returns before the new program's command line is readable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [os.fsdecode(part) for part in raw.split(b"\0")[:-1]]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def _gone(pid: int) -> bool:
    """Exited, or exiting: a killed server's threads may hold its sockets open a moment longer."""
    if not Path("/proc/self/cmdline").exists():  # no /proc (not Linux)
        from pipeline.tracking.store import alive

        return not alive(pid)
    argv = command_line(pid)
    return argv is None or (not argv and _zombie(pid))


def is_service(pid: int, path: Path) -> bool:
    """Whether `pid` is a live tracking service for the socket `path`. A pid alone proves nothing:
    after its server died, the system may have given it to any program."""
    if not Path("/proc/self/cmdline").exists():  # no /proc (not Linux): the pid is all there is
        from pipeline.tracking.store import alive

        return alive(pid)
    for _ in range(50):
        argv = command_line(pid)
        if argv:
            return MODULE in argv and str(path) in argv
        if argv is None or _zombie(pid):
            return False
        time.sleep(0.01)  # an exec under way; a kernel thread stays empty
    return False


def _describe(pid: int) -> str:
    argv = command_line(pid)
    return f"pid {pid} ({' '.join(argv)[:80]})" if argv else f"pid {pid}"


class _Lost(Exception):
    """The connection closed under a call; `delivered`: the request had been sent whole."""

    def __init__(self, delivered: bool):
        super().__init__("connection lost")
        self.delivered = delivered


# ---------------------------------------------------------------- client


class ServiceClient(TrackingBackend):
    """The stage side: one connection per process, the same operations as `MlflowStore`."""

    def __init__(self, uri: str, root: Path):
        self.uri, self.root = uri, root
        self.path = socket_path(uri, root)
        self.log = self.path.with_suffix(".log")
        self.timeout = call_timeout()
        self.expected_uid = own_uid()  # whom the server must run as (a seam for tests)
        self.server_pid: int | None = None
        self.open_runs: list[str] = []  # started here, not ended: a fresh server adopts them
        self.hung: str | None = None  # why the service stopped answering: later calls fail at once
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
        if self.hung:  # the stage is failing on it already: its clean-up (end_run FAILED) waits no longer
            raise TrackingError(self.hung)
        request = json.dumps({"op": op, "args": args}).encode() + b"\n"
        if self._conn is None:
            self._connect()
        try:
            reply = self._exchange(request)
        except _Lost as lost:
            dead = self.server_pid
            if lost.delivered and op not in _REPEATABLE:
                raise TrackingError(f"the tracking service for {_safe(self.uri)} (pid {dead}) died during "
                                    f"{op}, which may have run: see pid {dead}'s lines in {self.log}") from None
            self._connect()
            print(f"note: the tracking service (pid {dead}) died; a fresh one (pid {self.server_pid}) "
                  "carries on with this stage's runs", file=sys.stderr, flush=True)
            try:
                reply = self._exchange(request)
            except _Lost:
                raise TrackingError(f"the tracking service for {_safe(self.uri)} (pid {self.server_pid}) "
                                    f"died too during {op}; see {self.log}") from None
        if "error" in reply:
            if reply.get("kind") == "tracking":
                raise TrackingError(reply["error"])
            raise RuntimeError(f"tracking service: {reply['error']}")
        result = reply.get("result")
        if op == "start_run":
            self.open_runs.append(result["run_id"])
        elif op == "end_run" and args["run_id"] in self.open_runs:
            self.open_runs.remove(args["run_id"])
        return result

    def _exchange(self, request: bytes) -> dict:
        """Send one request and read its answer, within the timeout; `_Lost` when the server went."""
        try:
            self._conn.sendall(request)
        except TimeoutError:
            raise self._hung() from None
        except OSError:  # EPIPE, ECONNRESET: the server is gone and never read it
            self.close()
            raise _Lost(delivered=False) from None
        try:
            line = self._reader.readline()
        except TimeoutError:
            raise self._hung() from None
        except OSError:
            line = b""
        if not line:
            self.close()
            raise _Lost(delivered=True)
        try:
            return json.loads(line)
        except ValueError:
            self.close()
            raise TrackingError(f"{self.path}: {_describe(self.server_pid or 0)} answered something that is "
                                f"not the tracking service's protocol; see {self.log}") from None

    def _hung(self) -> TrackingError:
        pid = self.server_pid
        self.close()
        self.hung = (f"the tracking service for {_safe(self.uri)} (pid {pid}) did not answer within "
                     f"{self.timeout:g} s: it or its store hangs (a stopped process? `kill -CONT {pid}` or "
                     f"`kill {pid}`); see {self.log}; {TIMEOUT_VARIABLE} sets the limit")
        return TrackingError(self.hung)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._reader = None

    def prestart(self) -> None:
        """Start the server in the background if none runs or starts, and return at once: the
        first stage of a `dvc repro` then finds it ready, or nearly, when it opens its run."""
        private_dir(self.path.parent)
        with self._locked(deadline=0):  # held: another process is starting it
            if not self.path.exists() and self._starting() is None:
                self._spawn()

    def _connect(self) -> None:
        """Connect to the running server, or start one and wait until it listens: all within the timeout."""
        deadline = time.monotonic() + self.timeout
        private_dir(self.path.parent)
        with self._locked(deadline):  # one client starts a server, the others wait for it
            for attempt in range(3):
                if self._try_connect(deadline):
                    return
                if attempt < 2:
                    self._wait_for(self._starting() or self._spawn(), deadline)
        raise TrackingError(f"could not start the tracking service for {_safe(self.uri)}; see {self.log}")

    @contextmanager
    def _locked(self, deadline: float) -> Iterator[None]:
        lock = self.path.with_suffix(".lock")
        with os.fdopen(self._private_open(lock, os.O_RDWR | os.O_CREAT), "r+") as fh:
            if not private.lock_until(fh, deadline, pause=0.02):
                raise TrackingError(f"another process has held {lock} for over {self.timeout:g} s "
                                    f"(a tracking service that does not start?); see {self.log}")
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _try_connect(self, deadline: float) -> bool:
        """Connect and check whom we talk to before sending anything; False when no server listens
        or the one there is quitting."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(max(deadline - time.monotonic(), 0.05))
        try:
            conn.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            return False
        except TimeoutError:  # a full backlog: the server does not accept
            conn.close()
            raise TrackingError(f"the tracking service on {self.path} did not accept a connection within "
                                f"{self.timeout:g} s; see {self.log}") from None
        pid = self._check_peer(conn)
        if pid is not None and _gone(pid):  # a server dying (killed), its listener not yet closed
            conn.close()
            return False
        conn.settimeout(self.timeout)
        self._conn, self._reader, self.server_pid = conn, conn.makefile("rb"), pid
        hello = json.dumps({"op": "hello", "args": {"pid": os.getpid(), "open_runs": self.open_runs}})
        try:
            reply = self._exchange(hello.encode() + b"\n")
        except _Lost:  # a server quitting (idle) as we connected
            return False
        result = reply.get("result")
        if result == "replaced":  # its SQLite file was deleted or replaced: it quits
            self.close()
            return False
        if not (isinstance(result, dict) and result.get("service") == PROTOCOL
                and (pid is None or result.get("pid") == pid)):
            self.close()
            raise TrackingError(f"{self.path}: {_describe(pid or 0)} did not answer the tracking service's "
                                "handshake: refusing to send runs to it; stop it, or remove the socket")
        self.server_pid = result["pid"]
        return True

    def _check_peer(self, conn: socket.socket) -> int | None:
        """The server's pid, once its uid is ours and it is a tracking service for this socket (or was:
        one that is exiting)."""
        credentials = peer_credentials(conn)
        if credentials is None:
            return None
        pid, uid = credentials
        if uid != self.expected_uid:
            conn.close()
            raise TrackingError(f"{self.path} is served by uid {uid} ({_describe(pid)}), not by you (uid "
                                f"{self.expected_uid}): refusing to send runs to it; remove the socket")
        if not is_service(pid, self.path) and not _gone(pid):  # is_service waits out an exit under way
            conn.close()
            raise TrackingError(f"{self.path} is held by {_describe(pid)}, which is not the tracking service: "
                                "refusing to send runs to it; stop that process, or remove the socket")
        return pid

    def _starting(self) -> int | None:
        """The pid of a server started earlier that is still starting (alive, not listening yet)."""
        try:
            pid = int(self.path.with_suffix(".pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if is_service(pid, self.path) and not self.path.exists() else None

    def _spawn(self) -> int:
        self.path.unlink(missing_ok=True)  # a socket left by a server that died
        with os.fdopen(self._private_open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a") as out:
            if out.tell() > LOG_LIMIT:
                out.truncate(0)
            # the URI goes by environment, not argv: `ps` shows argv to every user, passwords too
            server = subprocess.Popen(
                [sys.executable, "-m", MODULE, str(self.path), str(self.root)],
                env={**os.environ, _URI_VARIABLE: self.uri}, cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)  # outlives this stage; not killed with its process group
        _CHILDREN.append(server)  # reaped when it ends, if this process still runs then
        private.write_new(self.path.with_suffix(".pid"), str(server.pid).encode())
        return server.pid

    @staticmethod
    def _private_open(path: Path, flags: int) -> int:
        try:
            return private.open_file(path, flags)
        except TrackingError:
            raise
        except PipelineError as exc:
            raise TrackingError(str(exc)) from None

    def _wait_for(self, pid: int, deadline: float) -> None:
        while not self.path.exists():
            _reap()
            if not is_service(pid, self.path):
                self._forget(self.path, pid)
                lines = self.log.read_text(errors="replace").strip().splitlines() if self.log.exists() else []
                raise TrackingError(f"the tracking service for {_safe(self.uri)} exited at start: "
                                    f"{(lines or ['no output'])[-1]}; see {self.log}")
            if time.monotonic() > deadline:
                ours = any(child.pid == pid for child in _CHILDREN)
                if ours:  # started here and stuck: leave nothing behind that the next stage waits on
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    self._forget(self.path, pid)
                raise TrackingError(f"the tracking service for {_safe(self.uri)} (pid {pid}) did not start within "
                                    f"{self.timeout:g} s{' (stopped it)' if ours else ''}; see {self.log}; "
                                    f"{TIMEOUT_VARIABLE} sets the limit")
            time.sleep(0.02)

    @staticmethod
    def _forget(path: Path, pid: int) -> None:
        """Remove the .pid file of socket `path` if it names `pid`, a server that is gone."""
        pidfile = path.with_suffix(".pid")
        try:
            if pidfile.read_text().strip() == str(pid):
                pidfile.unlink()
        except (OSError, ValueError):
            pass


_CHILDREN: list[subprocess.Popen] = []


def _reap() -> None:
    """Collect servers started here that exited (no zombie lingers under a long stage)."""
    for child in list(_CHILDREN):
        if child.poll() is not None:
            _CHILDREN.remove(child)


def _safe(uri: str) -> str:
    from pipeline.tracking.uri import safe_uri

    return safe_uri(uri)


# ---------------------------------------------------------------- server


class Server:
    """Serves one store to any number of clients of its own uid, one thread each, calls one at a time."""

    OPS = OPS  # what a client may call: the TrackingBackend operations, nothing else

    def __init__(self, path: Path, uri: str, idle: float):
        from pipeline.tracking.store import MlflowStore

        self.path, self.idle = path, idle
        self.store = MlflowStore(uri)
        # a creation lock held elsewhere fails the call naming the lock before the client's own wait ends
        self.store.lock_wait = 0.8 * call_timeout()
        self.expected_uid = own_uid()  # whom clients must run as (a seam for tests)
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
            self.store.client(lock_wait=0)  # the lock held elsewhere: the first call waits for it, bounded
        except PipelineError as exc:  # reported to the clients, call by call
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
                credentials = peer_credentials(conn)
                if credentials is not None and credentials[1] != self.expected_uid:
                    print(f"refused a connection of uid {credentials[1]} (pid {credentials[0]})", flush=True)
                    conn.close()
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
        except (OSError, ValueError):  # the client went, or sent what is not JSON
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
                open_runs.update(args.get("open_runs") or ())  # a client whose server died: its runs now ours
                print(f"client pid {args.get('pid')} connected ({len(open_runs)} open runs)", flush=True)
                return {"result": {"service": PROTOCOL, "pid": os.getpid()}}
            if op not in self.OPS:
                return {"error": f"unknown call {op!r}", "kind": "internal"}
            try:
                result = getattr(self.store, op)(**args)
            except PipelineError as exc:  # TrackingError, or the private folder's
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
    print(f"== tracking service pid {os.getpid()} starting {time.strftime('%Y-%m-%d %H:%M:%S')}", flush=True)
    server = None
    try:
        server = Server(path, uri, idle=float(os.environ.get("PIPELINE_TRACKING_IDLE", IDLE_DEFAULT)))
        os.chdir(root)  # MLflow resolves a new experiment's artifact folder (./mlruns) against it
        server.warm_up()
        server.serve()
    finally:  # a failed start leaves no .pid (nor socket) naming a dead server
        if server is not None:
            server._retire()
        else:
            ServiceClient._forget(path, os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
