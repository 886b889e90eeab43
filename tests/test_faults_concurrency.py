"""Two `dvc repro` of one stage at once in one repo (docs/faults.md, case 5): DVC's repo lock lets
one run and refuses the other with a clear message; no run is lost or doubled, and the lock is
not left stuck. (Two queue workers on one SQLite store: tests/test_team.py, queued sweep.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import base_name, mlflow_client

STAGE = "rnn_train@tm-gru-concise"


@pytest.mark.slow
@pytest.mark.usefixtures("mirror")
def test_two_repros_at_once_one_runs_the_other_is_refused_cleanly(repo_copy):
    repo_copy.set_params(**{"rnn.train.hidden": 8, "rnn.train.batch_size": 2, "rnn.train.num_steps": 4,
                            "rnn.train.epochs": 30, "rnn.train.num_chars": 3, "rnn.train.device": "cpu",
                            "rnn.corpora.timemachine.max_tokens": 400})
    repo_copy.dvc("repro", "download@timemachine")
    mlflow_client().search_experiments()  # the store exists before the two start
    dvc = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    procs = [subprocess.Popen([dvc, "repro", STAGE], cwd=repo_copy.path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert any(rc == 0 for rc, _, _ in results), results
    for rc, out, err in results:
        if rc != 0:  # refused while the other held the repo
            assert "lock" in (out + err).lower(), (out, err)

    lock = yaml.safe_load((repo_copy.path / "dvc.lock").read_text())
    assert STAGE in lock["stages"]
    client = mlflow_client()
    runs = client.search_runs([client.get_experiment_by_name("rnn").experiment_id])
    assert [(base_name(r), r.info.status) for r in runs] == [("tm-gru-concise", "FINISHED")]
    again = repo_copy.dvc("repro", STAGE)  # the lock was released: a third repro works, and has nothing to do
    assert "Running stage" not in again.stdout
    assert "up to date" in repo_copy.dvc("status", STAGE).stdout
