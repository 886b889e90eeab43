"""A throw-away git + DVC copy of this repo, to run real `dvc repro` in without touching ours.

Tests use it (fixture `repo_copy`) and so do the benchmark scripts: both need the pipelines
as a user runs them, from a clean checkout, with params changed as `dvc exp run -S` would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline import REPO_ROOT

# Outputs are never copied: the copy rebuilds them.
OUTPUT_DIRS = ("data/", "models/", "metrics/", "plots/", "runs/")


class RepoCopy:
    def __init__(self, path: Path):
        self.path = Path(path)

    def set_params(self, **dotted: object) -> None:
        """Change params.yaml in the copy: `set_params(**{"competitions.house-prices.cv.folds": 3})`."""
        file = self.path / "params.yaml"
        params = yaml.safe_load(file.read_text())
        for key, value in dotted.items():
            node = params
            *parents, leaf = key.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = value
        file.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))

    def run(self, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
        """Run a command in the copy; `python` means this interpreter."""
        argv = [sys.executable if a == "python" else a for a in args]
        result = subprocess.run(argv, cwd=self.path, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def dvc(self, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
        dvc = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
        return self.run(dvc, *args, check=check, timeout=timeout)


def copy_repo(dest: Path, source: Path = REPO_ROOT, outputs: bool = False) -> RepoCopy:
    """Copy the repo's tracked and new (not ignored) files, minus outputs, into a fresh git repo;
    `outputs=True` keeps the committed outputs and dvc.lock: what a fresh clone has."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=source,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    dest = Path(dest)
    for name in filter(None, files):
        path = source / name
        if path.is_file() and (outputs or not name.startswith(OUTPUT_DIRS)):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / name)
    if not outputs:
        (dest / "dvc.lock").unlink(missing_ok=True)
    git = ["git", "-c", "user.name=sandbox", "-c", "user.email=sandbox@example.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)
    return RepoCopy(dest)
