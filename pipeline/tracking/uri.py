"""Which MLflow store the project logs to, and how to name it without leaking a password."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline import REPO_ROOT

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


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///...` URI; None for any other store."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def safe_uri(uri: str) -> str:
    """The tracking URI without any user:password part, fit to print or store."""
    import urllib.parse

    parts = urllib.parse.urlsplit(uri)
    if parts.password is None and parts.username is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
