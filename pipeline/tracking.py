"""MLflow tracking shared by every pipeline.

* Store: `MLFLOW_TRACKING_URI` when set (a server URL, a database), else `mlflow.db` (SQLite)
  in the repo root.
* One experiment per pipeline; each training run carries its params, the seed, per-epoch
  metrics with steps, final metrics, the device and GPU name, the git commit and the DVC
  stage / experiment it ran under (DVC sets `DVC_STAGE` and `DVC_EXP_NAME` for stage commands).
* Keeping DVC and MLflow in step: every tracked stage writes a small run record (`run.json`
  with the MLflow run id) declared in dvc.yaml as an uncached output. An uncached output
  turns DVC's run cache off for that stage, so DVC never restores its outputs without
  running (and logging) it; and the record ties each DVC output to the MLflow run that made it.
* Faults (docs/faults.md): a store that is down, hangs, is locked or damaged is one
  `TrackingError` line within seconds, never a traceback with the password; runs carry their
  host and pid, so a run whose process was SIGKILLed is marked KILLED when the next one starts.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from pipeline import REPO_ROOT
from pipeline.errors import TrackingError
from pipeline.files import write_json
from pipeline.params import flatten

DEFAULT_STORE = REPO_ROOT / "mlflow.db"
_MAX_BATCH = 1000  # MLflow's limit of metrics per log_batch call


def default_store() -> Path:
    """The SQLite store used when `MLFLOW_TRACKING_URI` is unset: `mlflow.db` in the repo root.

    A queued `dvc exp run` (`dvc queue start`) runs each experiment in a temporary copy under
    `<repo>/.dvc/tmp/exps/`, which is deleted afterwards; DVC then sets `DVC_ROOT` to the real
    repo, so the runs land in the real repo's store instead of vanishing with the copy.
    """
    root = os.environ.get("DVC_ROOT")
    if root:
        real = Path(root).resolve()
        if real != REPO_ROOT and REPO_ROOT.is_relative_to(real / ".dvc" / "tmp"):
            return real / DEFAULT_STORE.name
    return DEFAULT_STORE


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{default_store()}"


def safe_uri(uri: str) -> str:
    """The tracking URI without any user:password part, fit to print or store."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None and parts.username is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


_PREPARED: set[str] = set()


def _prepare_sqlite_store(uri: str) -> None:
    """Create a SQLite store's tables under a file lock, once per process.

    Parallel sweep workers (`dvc queue start --jobs N`) starting on a fresh store would
    otherwise race to create the same tables; with the lock, one creates them, the rest wait.
    """
    if not uri.startswith("sqlite:///") or uri in _PREPARED:
        return
    import fcntl
    import hashlib
    import tempfile

    import mlflow

    lock = Path(tempfile.gettempdir()) / f"mlflow-store-{hashlib.sha1(uri.encode()).hexdigest()[:16]}.lock"
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            mlflow.MlflowClient(uri).search_experiments(max_results=1)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    _PREPARED.add(uri)


# MLflow's own defaults for a tracking server (120 s per request, 7 retries with exponential
# backoff) make a stage wait for many minutes on a server that is down or hangs. These make it
# fail in about 12 s (two tries of 5 s); a user who sets the variables keeps their values.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


def _set_http_defaults(uri: str) -> None:
    if uri.startswith(("http://", "https://")):
        for key, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)


def _check_sqlite_file(uri: str) -> None:
    """Say so when a SQLite store is missing (a new, empty one is about to be created) and
    refuse a file that is not a SQLite database, before MLflow touches it."""
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///"))
    if not path.exists():
        print(f"note: MLflow store {path} does not exist; creating a new, empty one", file=sys.stderr)
        return
    with path.open("rb") as fh:
        head = fh.read(16)
    if head and head != b"SQLite format 3\x00":
        raise TrackingError(f"{path} is not a SQLite database (damaged?): move it aside to start a new "
                            "MLflow store, or restore it from a backup")


def _tracking_failure(uri: str, exc: BaseException) -> TrackingError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = re.sub(r"//[^/@\s]+@", "//", first)  # MLflow's message repeats the URL with its password
    return TrackingError(f"MLflow store {safe_uri(uri)} failed: {first[:240]} "
                         "(check MLFLOW_TRACKING_URI, that the server is up, and that no other process "
                         "holds the database)")


def _store_exceptions() -> tuple[type[BaseException], ...]:
    """What MLflow's clients raise when the store itself fails (HTTP, SQL, MLflow's own)."""
    from mlflow.exceptions import MlflowException

    errors: list[type[BaseException]] = [MlflowException]
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


def _tracking_errors() -> tuple[type[BaseException], ...]:
    """Failures while opening the store or a run: the store's, plus OS errors (an unwritable folder)."""
    return (*_store_exceptions(), OSError)


def _mlflow():
    import mlflow

    uri = tracking_uri()
    _set_http_defaults(uri)
    if uri not in _PREPARED:
        _check_sqlite_file(uri)
    try:
        _prepare_sqlite_store(uri)
    except _tracking_errors() as exc:
        raise _tracking_failure(uri, exc) from exc
    mlflow.set_tracking_uri(uri)
    return mlflow


def run_tags(pipeline: str, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Tags every run gets, so the compare view needs no clicking through."""
    commit = git_commit()
    dvc_stage = os.environ.get("DVC_STAGE", "")
    tags = {
        "pipeline": pipeline,
        "dvc_stage": dvc_stage,
        "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
        "dvc_exp": str(bool(os.environ.get("DVC_EXP_NAME"))).lower(),
        "git_commit": commit,
        "git_commit_short": commit[:8],
        "mlflow.source.git.commit": commit,
    }
    tags.update({k: str(v) for k, v in (extra or {}).items()})
    # Defaults for what a stage did not say itself, so every run has the compare view's columns.
    if "stage" not in tags and dvc_stage:
        tags["stage"] = dvc_stage.split("@", 1)[0]  # "rnn_train@tm-gru" -> "rnn_train"
    if "dataset" not in tags and "corpus" in tags:
        tags["dataset"] = tags["corpus"]
    return tags


@contextmanager
def start_run(pipeline: str, run_name: str, *, params: Mapping[str, Any] | None = None,
              tags: Mapping[str, Any] | None = None, nested: bool = False) -> Iterator[Any]:
    """Start an MLflow run in the pipeline's experiment with the project's standard tags.

    `tags` should include the device (see `runtime.describe_device`) and the seed.
    """
    mlflow = _mlflow()
    try:
        experiment = mlflow.set_experiment(pipeline)
        _mark_classic_ml(mlflow, experiment)
        client = mlflow.MlflowClient()
        if not nested:
            end_stale_runs(client, experiment.experiment_id)
        run_name = unique_run_name(client, experiment.experiment_id, run_name)
        active = mlflow.start_run(run_name=run_name, nested=nested,
                                  tags={**run_tags(pipeline, tags), **owner_tags()})
    except _tracking_errors() as exc:
        raise _tracking_failure(tracking_uri(), exc) from exc
    with active as run:
        if params:
            with _store_errors():
                mlflow.log_params({k: _param_value(v) for k, v in flatten(params).items()})
        yield run


HOST_TAG, PID_TAG, PID_NS_TAG = "host", "pid", "pid_namespace"


def _pid_namespace() -> str:
    """Which pid namespace this process lives in: containers sharing a hostname and a team store
    must not judge each other's pids."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "unknown"


def owner_tags() -> dict[str, str]:
    """The host and process that run a run: how `end_stale_runs` tells a killed run from a live one."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), PID_NS_TAG: _pid_namespace()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def end_stale_runs(client, experiment_id: str) -> list[str]:
    """Mark KILLED the RUNNING runs of this experiment started on this host by a process that is gone.

    A stage killed by SIGKILL (or the machine's OOM killer) cannot end its MLflow run; without
    this it would show RUNNING forever. Runs of other hosts or pid namespaces (containers), or
    without the tags, are left alone.
    Returns the ids of the runs ended.
    """
    host, namespace = socket.gethostname(), _pid_namespace()
    ended = []
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'",
                                  max_results=1000):
        owner = run.data.tags
        pid = owner.get(PID_TAG, "")
        ours = owner.get(HOST_TAG) == host and owner.get(PID_NS_TAG) == namespace != "unknown"
        if ours and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            client.set_terminated(run.info.run_id, status="KILLED")
            ended.append(run.info.run_id)
    return ended


# MLflow 3's UI opens an experiment without this tag in its GenAI view (traces, token usage);
# with it, on the runs table, charts and compare view that a training experiment needs.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"


def _mark_classic_ml(mlflow, experiment) -> None:
    if experiment.tags.get(EXPERIMENT_KIND_TAG) != CLASSIC_ML:
        mlflow.MlflowClient().set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_ML)


def run_label() -> str:
    """What tells this run's origin apart in the UI: the DVC experiment's name, else the short commit."""
    return os.environ.get("DVC_EXP_NAME") or git_commit()[:7]


def unique_run_name(client, experiment_id: str, base: str) -> str:
    """`base@label`, e.g. `cv:mlp@rapid-wick` under `dvc exp run`, `cv:mlp@2d107d7` under `dvc repro`;
    ` (2)`, ` (3)`... when that name is taken, so no two runs of an experiment share a name."""
    name = f"{base}@{run_label()}"
    taken = {r.info.run_name for r in client.search_runs(
        [experiment_id], filter_string=f"attributes.run_name LIKE '{name.replace(chr(39), '')}%'",
        max_results=1000)}
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def _param_value(value: Any) -> Any:
    return "none" if value is None else value


def log_history(history: Mapping[str, list[float]], step_offset: int = 1,
                steps: list[int] | None = None) -> None:
    """Log per-epoch curves in batches (one call per 1000 points, not one per point).

    Point i gets step `steps[i]` when given (e.g. the number of trees of a boosted model),
    else `i + step_offset`.
    """
    from mlflow.entities import Metric

    mlflow = _mlflow()
    run_id = mlflow.active_run().info.run_id
    now = int(time.time() * 1000)
    points = [Metric(key, float(v), now, int(steps[i]) if steps is not None else i + step_offset)
              for key, values in history.items() for i, v in enumerate(values)]
    client = mlflow.MlflowClient()
    with _store_errors():
        for i in range(0, len(points), _MAX_BATCH):
            client.log_batch(run_id, metrics=points[i:i + _MAX_BATCH])


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    mlflow = _mlflow()
    with _store_errors():
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    mlflow = _mlflow()
    with _store_errors():
        mlflow.log_artifact(str(path), artifact_path=artifact_path)


@contextmanager
def _store_errors() -> Iterator[None]:
    """A store that fails mid-run (server gone, database locked) is a TrackingError line, not a
    traceback; the run itself then ends FAILED on the way out of `start_run`."""
    errors = _store_exceptions()
    try:
        yield
    except errors as exc:
        raise _tracking_failure(tracking_uri(), exc) from exc


def write_run_record(path: str | Path, run: Any) -> None:
    """Write the uncached `run.json` that ties a stage's outputs to its MLflow run."""
    write_json(path, {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "run_name": run.info.run_name,
        "tracking_uri": safe_uri(tracking_uri()),
    })
