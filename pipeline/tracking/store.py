"""The one place that writes MLflow runs: `MlflowStore` turns the project's few tracking calls
(the `TrackingBackend` operations: start a run, log a batch, log an artifact, tag, end) into
`MlflowClient` calls on one store.

It runs either inside a stage process or inside the tracking service (pipeline/tracking/service.py)
that stage processes share, so importing mlflow and opening the store is paid once per session
instead of once per stage. Everything it returns is plain JSON-able data for that reason.
Store failures (server down or hanging, database locked or damaged) become one `TrackingError`
line without any password (docs/faults.md).
"""

from __future__ import annotations

import errno
import getpass
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.errors import TrackingError
from pipeline.tracking.backend import TrackingBackend
from pipeline.tracking.uri import safe_uri, sqlite_path

# MLflow 3's UI opens an experiment without this tag in its GenAI view (traces, token usage);
# with it, on the runs table, charts and compare view that a training experiment needs.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"
HOST_TAG, PID_TAG, PID_NS_TAG = "host", "pid", "pid_namespace"


def tracking_failure(uri: str, exc: BaseException) -> TrackingError:
    text = _driver_error(exc) or str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    first = re.sub(r"//[^/@\s]+@", "//", first)  # MLflow's message repeats the URL with its password
    path = sqlite_path(uri)
    full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "database or disk is full" in first
    where = getattr(exc, "filename", None) or "the store's database or its artifact folder"
    hint = (f"the disk holding {where} is full: free space there" if full else
            f"check that you may write {path} and its folder" if "readonly database" in first and path else
            "check MLFLOW_TRACKING_URI, that the server is up, and that no other process holds the database")
    return TrackingError(f"MLflow store {safe_uri(uri)} failed: {first[:240]} ({hint})")


def _driver_error(exc: BaseException) -> str | None:
    """The database driver's own error under SQLAlchemy's (and MLflow's) wrapping: SQLAlchemy's text may
    open with a hint of its own ("raised as a result of Query-invoked autoflush ...") that hides it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        orig = getattr(exc, "orig", None)
        if isinstance(orig, BaseException) and str(orig).strip():
            return f"({type(orig).__module__}.{type(orig).__name__}) {str(orig).strip()}"
        exc = exc.__cause__ or exc.__context__
    return None


def _store_exceptions() -> tuple[type[BaseException], ...]:
    """What MLflow's clients raise when the store itself fails (HTTP, SQL, MLflow's own, the OS)."""
    from mlflow.exceptions import MlflowException

    errors: list[type[BaseException]] = [MlflowException, OSError]
    try:
        from sqlalchemy.exc import SQLAlchemyError

        errors.append(SQLAlchemyError)
    except ImportError:  # pragma: no cover - mlflow ships sqlalchemy
        pass
    try:
        from requests.exceptions import RequestException

        errors.append(RequestException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def pid_namespace() -> str:
    """Which pid namespace this process lives in: containers sharing a hostname and a team store
    must not judge each other's pids."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "unknown"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def file_identity(path: Path | None) -> tuple[int, int] | None:
    try:
        st = path.stat() if path else None
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if st else None


class MlflowStore(TrackingBackend):
    """One tracking store (a URI). Methods take and return plain data; errors are TrackingError."""

    def __init__(self, uri: str):
        self.uri = uri
        self._client = None
        self.identity: tuple[int, int] | None = None  # the SQLite file the client was opened on
        self.lock_wait: float | None = None  # seconds to wait for the creation lock (None: the tracking timeout)

    # ---- the store itself

    def client(self, lock_wait: float | None = None):
        """The store's MlflowClient, opened on first use; `lock_wait`: seconds to wait for the
        creation lock this time (default `self.lock_wait`, else `PIPELINE_TRACKING_TIMEOUT`)."""
        if self._client is None:
            with self.errors(), self._creation_lock(self.lock_wait if lock_wait is None else lock_wait):
                self._client = self._open()
                self.identity = file_identity(sqlite_path(self.uri))
        return self._client

    def replaced(self) -> bool:
        """True when the SQLite file this store opened was deleted or replaced since: a client kept
        open on it would write into a file nobody can see any more."""
        path = sqlite_path(self.uri)
        return self._client is not None and path is not None and file_identity(path) != self.identity

    @contextmanager
    def _creation_lock(self, wait: float | None = None) -> Iterator[None]:
        """A file lock around opening a SQLite store: MLflow creates a fresh store's tables on
        first use, and parallel sweep workers starting on one new file would race to create them.
        The lock lives in the user's private folder (`pipeline/private.py`: no other user can
        create, replace or hold it), and the wait for it is bounded like every tracking call
        (`PIPELINE_TRACKING_TIMEOUT`)."""
        if sqlite_path(self.uri) is None:
            yield
            return
        import fcntl

        from pipeline import private
        from pipeline.tracking.service import TIMEOUT_VARIABLE, call_timeout

        limit = call_timeout() if wait is None else wait
        deadline = time.monotonic() + limit
        lock = creation_lock_path(self.uri)
        with os.fdopen(private.open_file(lock, os.O_RDWR | os.O_CREAT), "r+") as fh:
            if not private.lock_until(fh, deadline, pause=0.05):
                raise TrackingError(
                    f"MLflow store {safe_uri(self.uri)}: its creation lock {lock} has been held for "
                    f"over {limit:g} s by {_holders(fh.fileno())} (opening the store, or stuck?); "
                    f"stop that process, or raise {TIMEOUT_VARIABLE}")
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _open(self):
        """An MlflowClient whose store answers (tables made). Workers starting together on a new team
        database (PostgreSQL, MySQL) cannot share a file lock: they race to create the tables, and
        the loser retries and finds them made. SQLite is locked above; an HTTP server is not retried
        (its own timeouts bound a stage's wait)."""
        import mlflow

        def answering():
            client = mlflow.MlflowClient(self.uri)
            client.search_experiments(max_results=1)
            return client

        retries = 0 if self.uri.startswith(("sqlite:", "http:", "https:")) else 4
        for attempt in range(retries):
            try:
                return answering()
            except Exception:  # noqa: BLE001 - MlflowException or the database driver's IntegrityError
                time.sleep(0.5 + attempt)
        return answering()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """A store that fails (server gone, database locked) is a TrackingError line, not a traceback."""
        try:
            yield
        except TrackingError:
            raise
        except _store_exceptions() as exc:
            raise tracking_failure(self.uri, exc) from exc

    # ---- the TrackingBackend operations (backend.py)

    def start_run(self, experiment: str, name: str, tags: dict[str, str], params: dict[str, str],
                  parent_run_id: str | None = None, owner_pid: int | None = None,
                  source: str = "cli.py") -> dict[str, str]:
        """Create a run named `name@label` (unique in its experiment), tagged and with its params."""
        from mlflow.entities import Param

        with self.errors():
            client = self.client()
            experiment_id = self._experiment_id(client, experiment)
            if parent_run_id is None:
                self.end_stale_runs(experiment_id, owner_pid or os.getpid())
            run_name = self._unique_run_name(client, experiment_id, name)
            all_tags = {"mlflow.user": _user(), "mlflow.source.name": source, "mlflow.source.type": "LOCAL",
                        **tags}
            if parent_run_id:
                all_tags["mlflow.parentRunId"] = parent_run_id
            run = client.create_run(experiment_id, start_time=_now_ms(), tags=all_tags, run_name=run_name)
            if params:
                client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()])
        return {"run_id": run.info.run_id, "experiment_id": experiment_id, "run_name": run_name}

    def log_batch(self, run_id: str, metrics: list[list]) -> None:
        """metrics: [key, value, timestamp ms, step] rows (MLflow chunks them by 1000)."""
        from mlflow.entities import Metric

        with self.errors():
            self.client().log_batch(run_id, metrics=[Metric(k, float(v), int(t), int(s)) for k, v, t, s in metrics])

    def log_artifact(self, run_id: str, path: str, artifact_path: str | None = None) -> None:
        with self.errors():
            self.client().log_artifact(run_id, path, artifact_path)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        with self.errors():
            self.client().log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def end_run(self, run_id: str, status: str) -> None:
        with self.errors():
            self.client().set_terminated(run_id, status=status, end_time=_now_ms())

    def end_stale_runs(self, experiment_id: str, own_pid: int) -> list[str]:
        """Mark KILLED the RUNNING runs of this experiment started on this host by a process that is gone.

        A stage killed by SIGKILL (or the OOM killer) cannot end its MLflow run; without this it
        would show RUNNING forever. Runs of other hosts or pid namespaces (containers), or without
        the tags, are left alone. Returns the ids of the runs ended.
        """
        client = self.client()
        host, namespace = socket.gethostname(), pid_namespace()
        ended = []
        for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'",
                                      max_results=1000):
            owner = run.data.tags
            pid = owner.get(PID_TAG, "")
            ours = owner.get(HOST_TAG) == host and owner.get(PID_NS_TAG) == namespace != "unknown"
            if ours and pid.isdigit() and int(pid) != own_pid and not alive(int(pid)):
                client.set_terminated(run.info.run_id, status="KILLED")
                ended.append(run.info.run_id)
        return ended

    # ---- helpers

    def _experiment_id(self, client, name: str) -> str:
        """The experiment's id, created if new (a worker racing us to create it is fine) and tagged
        as a classic ML experiment so the UI opens it on its runs table."""
        from mlflow.exceptions import MlflowException

        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            try:
                client.create_experiment(name)
            except MlflowException:  # created meanwhile by another process
                pass
            experiment = client.get_experiment_by_name(name)
        if experiment.tags.get(EXPERIMENT_KIND_TAG) != CLASSIC_ML:
            client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_ML)
        return experiment.experiment_id

    @staticmethod
    def _unique_run_name(client, experiment_id: str, name: str) -> str:
        """`name`, or `name (2)`, `name (3)`... when taken, so no two runs of an experiment share a name."""
        taken = {r.info.run_name for r in client.search_runs(
            [experiment_id], filter_string=f"attributes.run_name LIKE '{name.replace(chr(39), '')}%'",
            max_results=1000)}
        if name not in taken:
            return name
        n = 2
        while f"{name} ({n})" in taken:
            n += 1
        return f"{name} ({n})"


def creation_lock_path(uri: str) -> Path:
    """The lock around opening the SQLite store `uri`: in the user's private folder (checked)."""
    import hashlib

    from pipeline import private

    return private.folder() / f"store-{hashlib.sha1(uri.encode()).hexdigest()[:16]}.lock"


def _holders(fd: int) -> str:
    """Who holds the lock open as `fd`, for an error line: pids and their command lines."""
    from pipeline import private
    from pipeline.tracking.service import command_line

    pids = private.lock_holders(fd)
    if not pids:
        return "another process of yours"
    return ", ".join(f"pid {pid} ({' '.join(command_line(pid) or ['?'])[:60]})" for pid in pids)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def params_for_mlflow(flat: dict[str, Any]) -> dict[str, str]:
    """MLflow stores params as strings; None reads better as `none` than as an empty cell."""
    return {k: "none" if v is None else str(v) for k, v in flat.items()}
