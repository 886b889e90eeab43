"""Runs as stages log them: `start_run` opens an MLflow run in the pipeline's experiment with
the project's standard tags, `log_history` / `log_metrics` / `log_artifact` / `set_tags` log into
the innermost open run, and `write_run_record` writes the uncached `run.json` that ties a DVC
stage's outputs to it. The calls go to the backend `connect.current_backend()` picks."""

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
from pipeline.errors import StageKilled, TrackingError
from pipeline.files import write_json
from pipeline.params import flatten
from pipeline.tracking.connect import current_backend
from pipeline.tracking.store import HOST_TAG, PID_NS_TAG, PID_TAG, params_for_mlflow, pid_namespace
from pipeline.tracking.uri import safe_uri, tracking_uri


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


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
    backend = current_backend()
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
    except BaseException as exc:
        _ACTIVE.pop()
        try:  # KILLED: the stage's dvc is gone (cli.py), as when the process is killed outright
            backend.end_run(run_id=run.info.run_id, status="KILLED" if isinstance(exc, StageKilled) else "FAILED")
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
    current_backend().log_batch(run_id=active_run().info.run_id, metrics=rows)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    current_backend().log_artifact(run_id=active_run().info.run_id, path=str(Path(path).resolve()),
                            artifact_path=artifact_path)


def set_tags(tags: Mapping[str, Any]) -> None:
    current_backend().set_tags(run_id=active_run().info.run_id, tags={k: str(v) for k, v in tags.items()})


def write_run_record(path: str | Path, run: Run) -> None:
    """Write the uncached `run.json` that ties a stage's outputs to its MLflow run."""
    write_json(path, {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "run_name": run.info.run_name,
        "tracking_uri": safe_uri(tracking_uri()),
    })
