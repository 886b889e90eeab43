"""Test set-up: point every download at the local dataset mirror beside the repo when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline import REPO_ROOT
from pipeline.datasets import MIRROR_ENV
from pipeline.sandbox import RepoCopy, copy_repo

SHARED_MIRROR = REPO_ROOT.parent / "shared" / "datasets"


def pytest_configure(config):
    if not os.environ.get(MIRROR_ENV) and SHARED_MIRROR.is_dir():
        os.environ[MIRROR_ENV] = str(SHARED_MIRROR)
    # Tests train on tiny data: one thread is as fast, and two spinning OpenMP threads per
    # process (this test, its DVC subprocesses) thrash a 2-core machine.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def mirror() -> Path:
    """The dataset mirror the tests read real data from; skip with the reason if there is none."""
    value = os.environ.get(MIRROR_ENV)
    if not value:
        pytest.skip(f"no dataset mirror: set {MIRROR_ENV} or put shared/datasets beside the repo")
    return Path(value.removeprefix("file://"))


@pytest.fixture(autouse=True)
def isolated_mlflow(tmp_path, monkeypatch):
    """Every test logs to its own SQLite store, never to the repo's mlflow.db."""
    if not os.environ.get("PIPELINE_TEST_KEEP_TRACKING"):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")


@pytest.fixture
def repo_copy(tmp_path) -> RepoCopy:
    """A throw-away git + DVC copy of the repo (tracked and new files, no outputs)."""
    return copy_repo(tmp_path / "repo")
