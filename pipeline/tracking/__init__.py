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
* Cheap for a stage: this module never imports mlflow. Calls go to `MlflowStore`
  (pipeline/tracking/store.py), in this process or, for `cli.py` commands, in the tracking
  service that all stage processes share (pipeline/tracking/service.py), which pays mlflow's
  3-4 s start-up once per session instead of once per stage.
* Faults (docs/faults.md): a store that is down, hangs, is locked or damaged is one
  `TrackingError` line within seconds, never a traceback with the password; runs carry their
  host and pid, so a run whose process was SIGKILLed is marked KILLED.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import REPO_ROOT
from pipeline.errors import TrackingError
from pipeline.files import write_json
from pipeline.params import flatten
from pipeline.tracking.store import (
    HOST_TAG,
    PID_NS_TAG,
    PID_TAG,
    params_for_mlflow,
    pid_namespace,
    safe_uri,
    sqlite_path,
)

DEFAULT_STORE = REPO_ROOT / "mlflow.db"


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


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"



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
    path = sqlite_path(uri)
    if path is None:
        return
    if not path.exists():
        print(f"note: MLflow store {path} does not exist; creating a new, empty one", file=sys.stderr)
        return
    with path.open("rb") as fh:
        head = fh.read(16)
    if head and head != b"SQLite format 3\x00":
        raise TrackingError(f"{path} is not a SQLite database (damaged?): move it aside to start a new "
                            "MLflow store, or restore it from a backup")


# ---- where calls go: MlflowStore in this process, or the shared tracking service

_USE_SERVICE = False
_BACKENDS: dict[str, Any] = {}


def use_service(on: bool = True) -> None:
    """Send this process's tracking calls to the shared tracking service (`cli.py` does, for its
    stage commands, unless PIPELINE_TRACKING_SERVICE=0). Library code and tests log in-process."""
    global _USE_SERVICE
    _USE_SERVICE = on


def _service_client(uri: str):
    from pipeline.tracking.service import ServiceClient

    # a SQLite store keeps new experiments' artifacts beside it (./mlruns), as MLflow does when
    # a process starts in the store's folder
    store_file = sqlite_path(uri)
    folder = store_file.parent if store_file else REPO_ROOT
    return ServiceClient(uri, folder)


def prestart_service() -> None:
    """Start the tracking service in the background (never waits, never fails): `cli.py` calls it
    at the start of every DVC stage, so the service is up by the time a stage opens its run."""
    from pipeline.tracking import service as tracking_service

    if not (_USE_SERVICE and tracking_service.enabled()):
        return
    uri = tracking_uri()
    _set_http_defaults(uri)
    try:
        _service_client(uri).prestart()
    except OSError:
        pass  # the stage's own first call starts it, or says what is wrong


def _backend():
    """The store for the current tracking URI, checked before first use."""
    uri = tracking_uri()
    if uri not in _BACKENDS:
        _set_http_defaults(uri)
        _check_sqlite_file(uri)
        from pipeline.tracking import service as tracking_service

        if _USE_SERVICE and tracking_service.enabled():
            _BACKENDS[uri] = _service_client(uri)
        else:
            from pipeline.tracking.store import MlflowStore

            _BACKENDS[uri] = MlflowStore(uri)
    elif sqlite_path(uri) and not sqlite_path(uri).exists():
        _check_sqlite_file(uri)  # deleted since: say so again
    return _BACKENDS[uri]


# ---- runs


@dataclass
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str


@dataclass
class RunData:
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    """What `start_run` yields: the ids a stage records (`run.info.run_id`) and the tags it set."""

    info: RunInfo
    data: RunData


_ACTIVE: list[Run] = []


def active_run() -> Run:
    if not _ACTIVE:
        raise RuntimeError("no MLflow run is active: log inside `with tracking.start_run(...)`")
    return _ACTIVE[-1]


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


def owner_tags() -> dict[str, str]:
    """The host and process that run a run: how a killed run is told from a live one."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), PID_NS_TAG: pid_namespace()}


def run_label() -> str:
    """What tells this run's origin apart in the UI: the DVC experiment's name, else the short commit."""
    return os.environ.get("DVC_EXP_NAME") or git_commit()[:7]


@contextmanager
def start_run(pipeline: str, run_name: str, *, params: Mapping[str, Any] | None = None,
              tags: Mapping[str, Any] | None = None, nested: bool = False) -> Iterator[Run]:
    """Start an MLflow run in the pipeline's experiment with the project's standard tags.

    The run is named `run_name@label` (label: the DVC experiment's name, else the short commit),
    with ` (2)`, ` (3)`... when that name is taken. A nested run's parent is the innermost
    active run (none: a top-level run, as in MLflow). The run ends FINISHED, or FAILED when the block raises (Ctrl-C, SIGTERM too).
    `tags` should include the device (see `runtime.describe_device`) and the seed.
    """
    backend = _backend()
    if not nested and _ACTIVE:
        raise RuntimeError(f"run {_ACTIVE[-1].info.run_name!r} is still active: pass nested=True")
    all_tags = {**run_tags(pipeline, tags), **owner_tags()}
    info = backend.start_run(experiment=pipeline, name=f"{run_name}@{run_label()}", tags=all_tags,
                             params=params_for_mlflow(flatten(params or {})),
                             parent_run_id=_ACTIVE[-1].info.run_id if nested and _ACTIVE else None,
                             owner_pid=os.getpid(), source=Path(sys.argv[0]).name or "python")
    run = Run(RunInfo(**info), RunData(all_tags))
    _ACTIVE.append(run)
    try:
        yield run
    except BaseException:
        _ACTIVE.pop()
        try:
            backend.end_run(run_id=run.info.run_id, status="FAILED")
        except TrackingError:
            pass  # the store is what failed: the error on its way out says so
        raise
    _ACTIVE.pop()
    backend.end_run(run_id=run.info.run_id, status="FINISHED")


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    log_history({key: [value] for key, value in metrics.items()}, steps=[step or 0])


def log_history(history: Mapping[str, list[float]], step_offset: int = 1,
                steps: list[int] | None = None) -> None:
    """Log per-epoch curves in one call. Point i gets step `steps[i]` when given (e.g. the number
    of trees of a boosted model), else `i + step_offset`."""
    now = int(time.time() * 1000)
    rows = [[key, float(v), now, int(steps[i]) if steps is not None else i + step_offset]
            for key, values in history.items() for i, v in enumerate(values)]
    _backend().log_batch(run_id=active_run().info.run_id, metrics=rows)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    _backend().log_artifact(run_id=active_run().info.run_id, path=str(Path(path).resolve()),
                            artifact_path=artifact_path)


def set_tags(tags: Mapping[str, Any]) -> None:
    _backend().set_tags(run_id=active_run().info.run_id, tags={k: str(v) for k, v in tags.items()})


def write_run_record(path: str | Path, run: Run) -> None:
    """Write the uncached `run.json` that ties a stage's outputs to its MLflow run."""
    write_json(path, {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "run_name": run.info.run_name,
        "tracking_uri": safe_uri(tracking_uri()),
    })
