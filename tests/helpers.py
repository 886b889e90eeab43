"""Small helpers several test modules share (pytest puts this folder on sys.path)."""

from __future__ import annotations

import difflib
import os
import socket


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mlflow_client():
    """A client bound to this test's own store.

    Explicit on purpose: `mlflow.set_tracking_uri` calls made by earlier tests in the same
    process would otherwise point a bare `MlflowClient()` at another test's store. Made through
    `MlflowStore`, which creates a fresh store's tables under the same file lock as the tracking
    service (a stage may have started one on this store in the background).
    """
    from pipeline.tracking.store import MlflowStore

    return MlflowStore(os.environ["MLFLOW_TRACKING_URI"]).client()


def base_name(run) -> str:
    """A run's name without the `@label (n)` that `tracking.unique_run_name` adds: `cv:mlp@2d107d7 (2)` -> `cv:mlp`."""
    name = run if isinstance(run, str) else run.info.run_name
    return name.split("@", 1)[0]


def changed_lines(before: str, after: str) -> list[str]:
    """The `-`/`+` lines of a diff between two texts: what an edit of params.yaml really changed."""
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
