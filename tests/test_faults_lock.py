"""The committed dvc.lock names only stages dvc.yaml defines (docs/faults.md): a stale entry
(e.g. of a model taken out of `competitions.house-prices.blend.models`) would claim outputs no stage makes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline import REPO_ROOT


def test_committed_lock_matches_the_stages_of_dvc_yaml():
    dvc = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    listed = subprocess.run([dvc, "stage", "list", "--name-only"], cwd=REPO_ROOT, capture_output=True, text=True,
                            check=True, timeout=120).stdout.split()
    assert {"house_prices_preprocess", "titanic_preprocess"} <= set(listed)
    assert any(name.startswith("rnn_train@") for name in listed)
    locked = yaml.safe_load((REPO_ROOT / "dvc.lock").read_text())["stages"]
    stale = sorted(set(locked) - set(listed))
    assert not stale, f"dvc.lock holds stages dvc.yaml no longer defines: {stale}"
