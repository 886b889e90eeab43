"""Where a process's tracking calls go: `MlflowStore` in this process, or the tracking service
that stage processes share (service.py). One backend per tracking URI, checked before first use."""

from __future__ import annotations

import os
import sys

from pipeline import REPO_ROOT
from pipeline.errors import TrackingError
from pipeline.tracking.backend import TrackingBackend
from pipeline.tracking.uri import sqlite_path, tracking_uri

# MLflow's own defaults for a tracking server (120 s per request, 7 retries with exponential
# backoff) make a stage wait for many minutes on a server that is down or hangs. These make it
# fail in about 12 s (two tries of 5 s); a user who sets the variables keeps their values.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


def set_http_defaults(uri: str) -> None:
    if uri.startswith(("http://", "https://")):
        for key, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)


def check_sqlite_file(uri: str) -> None:
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


_USE_SERVICE = False
_BACKENDS: dict[str, TrackingBackend] = {}


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
    from pipeline.tracking import service

    if not (_USE_SERVICE and service.enabled()):
        return
    uri = tracking_uri()
    set_http_defaults(uri)
    try:
        _service_client(uri).prestart()
    except (OSError, TrackingError):
        pass  # the stage's own first call starts it, or says what is wrong


def current_backend() -> TrackingBackend:
    """The store for the current tracking URI, checked before first use."""
    uri = tracking_uri()
    if uri not in _BACKENDS:
        set_http_defaults(uri)
        check_sqlite_file(uri)
        from pipeline.tracking import service

        if _USE_SERVICE and service.enabled():
            _BACKENDS[uri] = _service_client(uri)
        else:
            from pipeline.tracking.store import MlflowStore

            _BACKENDS[uri] = MlflowStore(uri)
    elif sqlite_path(uri) and not sqlite_path(uri).exists():
        check_sqlite_file(uri)  # deleted since: say so again
    return _BACKENDS[uri]
