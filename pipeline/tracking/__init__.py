"""MLflow tracking shared by every pipeline: `from pipeline import tracking`.

* Store: `MLFLOW_TRACKING_URI` when set (a server URL, a database), else `mlflow.db` (SQLite)
  in the repo root.
* One experiment per pipeline; each training run carries its params, the seed, per-epoch
  metrics with steps, final metrics, the device and GPU name, the git commit and the DVC
  stage / experiment it ran under (DVC sets `DVC_STAGE` and `DVC_EXP_NAME` for stage commands).
* Keeping DVC and MLflow in step: every tracked stage writes a small run record (`run.json`
  with the MLflow run id) declared in dvc.yaml as an uncached output. An uncached output
  turns DVC's run cache off for that stage, so DVC never restores its outputs without
  running (and logging) it; and the record ties each DVC output to the MLflow run that made it.
* Cheap for a stage: this package never imports mlflow outside `store.py`. Calls go to
  `MlflowStore` (store.py), in this process or, for `cli.py` commands, in the tracking
  service that all stage processes share (service.py), which pays mlflow's 3-4 s start-up
  once per session instead of once per stage. Both offer the operations of `TrackingBackend`
  (backend.py).
* Faults (docs/faults.md): a store that is down, hangs, is locked or damaged is one
  `TrackingError` line within seconds, never a traceback with the password; runs carry their
  host and pid, so a run whose process was SIGKILLed is marked KILLED.

The modules: `uri.py` (which store), `runs.py` (`start_run`, `log_*`, run records),
`connect.py` (in-process or through the service), `backend.py`, `store.py`, `service.py`.
"""

from pipeline.tracking.connect import HTTP_DEFAULTS, prestart_service, use_service
from pipeline.tracking.runs import (
    Run,
    RunData,
    RunInfo,
    active_run,
    git_commit,
    log_artifact,
    log_history,
    log_metrics,
    owner_tags,
    run_label,
    run_tags,
    set_tags,
    start_run,
    write_run_record,
)
from pipeline.tracking.store import HOST_TAG, PID_NS_TAG, PID_TAG, params_for_mlflow, pid_namespace
from pipeline.tracking.uri import DEFAULT_STORE, default_store, safe_uri, sqlite_path, tracking_uri

__all__ = [
    "DEFAULT_STORE", "HOST_TAG", "HTTP_DEFAULTS", "PID_NS_TAG", "PID_TAG", "Run", "RunData", "RunInfo",
    "active_run", "default_store", "git_commit", "log_artifact", "log_history", "log_metrics", "owner_tags",
    "params_for_mlflow", "pid_namespace", "prestart_service", "run_label", "run_tags", "safe_uri", "set_tags",
    "sqlite_path", "start_run", "tracking_uri", "use_service", "write_run_record",
]
