"""Test set-up: point every download at the local dataset mirror beside the repo when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline import REPO_ROOT
from pipeline.datasets import MIRROR_ENV

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


class RepoCopy:
    """A throw-away git + DVC copy of this repo, to run real `dvc repro` in without touching ours."""

    def __init__(self, path: Path):
        self.path = path

    def set_params(self, **dotted: object) -> None:
        """Change params.yaml in the copy: `set_params(**{"house.train.epochs": 2})`."""
        import yaml

        file = self.path / "params.yaml"
        params = yaml.safe_load(file.read_text())
        for key, value in dotted.items():
            node = params
            *parents, leaf = key.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = value
        file.write_text(yaml.safe_dump(params, sort_keys=False))

    def run(self, *args: str, check: bool = True, timeout: int = 600):
        """Run a command in the copy (e.g. `run("dvc", "repro", "house_kfold")`)."""
        import subprocess
        import sys

        argv = [sys.executable if a == "python" else a for a in args]
        result = subprocess.run(argv, cwd=self.path, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def dvc(self, *args: str, check: bool = True, timeout: int = 600):
        import shutil
        import sys

        dvc = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
        return self.run(dvc, *args, check=check, timeout=timeout)


@pytest.fixture
def repo_copy(tmp_path) -> RepoCopy:
    """Copy the repo's tracked and new (not ignored) files into a fresh git repo."""
    import shutil
    import subprocess

    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    dest = tmp_path / "repo"
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file() and not name.startswith(("data/", "models/", "metrics/", "plots/", "runs/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / "dvc.lock").unlink(missing_ok=True)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)
    return RepoCopy(dest)
