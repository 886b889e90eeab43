"""The calls a tracking store offers stages, written down once.

`MlflowStore` (store.py) implements them on MLflow; `ServiceClient` (service.py) implements them
by sending each call to the shared tracking service, whose `Server` accepts exactly `OPS`, the
names of the methods below. A new call goes here first: the store, the client and the server
then cannot disagree about it (tests/test_tracking_service.py checks that they cover `OPS`).

Arguments and results are plain JSON-able data: they cross a socket when the service is on.
Every method raises `TrackingError` when the store fails.
"""

from __future__ import annotations

import abc


class TrackingBackend(abc.ABC):
    """One tracking store, as stage code sees it (through `pipeline.tracking`)."""

    @abc.abstractmethod
    def start_run(self, experiment: str, name: str, tags: dict[str, str], params: dict[str, str],
                  parent_run_id: str | None = None, owner_pid: int | None = None,
                  source: str = "cli.py") -> dict[str, str]:
        """Create a run named `name` (made unique in its experiment) with its tags and params;
        return its `run_id`, `experiment_id` and `run_name`."""

    @abc.abstractmethod
    def log_batch(self, run_id: str, metrics: list[list]) -> None:
        """Log metrics given as [key, value, timestamp ms, step] rows."""

    @abc.abstractmethod
    def log_artifact(self, run_id: str, path: str, artifact_path: str | None = None) -> None:
        """Copy the file at `path` (absolute) into the run's artifacts, under `artifact_path`."""

    @abc.abstractmethod
    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Set (or overwrite) tags of the run."""

    @abc.abstractmethod
    def end_run(self, run_id: str, status: str) -> None:
        """End the run as FINISHED, FAILED or KILLED."""


# The operations, in the order they are declared above.
OPS: tuple[str, ...] = tuple(name for name in vars(TrackingBackend) if name in TrackingBackend.__abstractmethods__)
