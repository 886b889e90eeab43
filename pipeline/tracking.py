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
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from pipeline import REPO_ROOT
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


def _mlflow():
    import mlflow

    uri = tracking_uri()
    _prepare_sqlite_store(uri)
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
    experiment = mlflow.set_experiment(pipeline)
    _mark_classic_ml(mlflow, experiment)
    run_name = unique_run_name(mlflow.MlflowClient(), experiment.experiment_id, run_name)
    with mlflow.start_run(run_name=run_name, nested=nested, tags=run_tags(pipeline, tags)) as run:
        if params:
            mlflow.log_params({k: _param_value(v) for k, v in flatten(params).items()})
        yield run


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
    for i in range(0, len(points), _MAX_BATCH):
        client.log_batch(run_id, metrics=points[i:i + _MAX_BATCH])


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    _mlflow().log_metrics({k: float(v) for k, v in metrics.items()}, step=step)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    _mlflow().log_artifact(str(path), artifact_path=artifact_path)


def write_run_record(path: str | Path, run: Any) -> None:
    """Write the uncached `run.json` that ties a stage's outputs to its MLflow run."""
    write_json(path, {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "run_name": run.info.run_name,
        "tracking_uri": safe_uri(tracking_uri()),
    })
