"""A stage killed mid-training (SIGINT, SIGTERM, SIGKILL), a house CV and an RNN training run
with tiny params in a throw-away repo copy (docs/faults.md, cases 1 and 2):

* no output of the stage exists afterwards (outputs are written atomically, after training);
* Ctrl-C and SIGTERM end the MLflow run FAILED; SIGKILL gives the stage no chance, so the
  tracking service it logs through ends the run KILLED as soon as its connection drops
  (pipeline/tracking/service.py; without the service, the next run of that experiment on this
  host does, `MlflowStore.end_stale_runs`, tested in test_faults_tracking.py);
* the next `dvc repro` rebuilds the stage and succeeds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import mlflow_client

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mirror")]


def _statuses(experiment: str) -> list[str]:
    client = mlflow_client()
    exp = client.get_experiment_by_name(experiment)
    return [r.info.status for r in client.search_runs([exp.experiment_id], max_results=1000)] if exp else []


def _start_and_signal(repo, argv: list[str], experiment: str, sig: int) -> subprocess.CompletedProcess:
    """Start a stage command, wait until its MLflow run is RUNNING and training, send `sig`."""
    before = len(_statuses(experiment))
    proc = subprocess.Popen([sys.executable, "cli.py", *argv], cwd=repo.path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _statuses(experiment).count("RUNNING") == 0 or len(_statuses(experiment)) == before:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the stage never started its MLflow run"
            time.sleep(0.3)
        time.sleep(1.0)  # inside the training loop now
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _wait_for_killed(experiment: str) -> list[str]:
    """The statuses once the SIGKILLed stage's run is no longer RUNNING (the service ends it)."""
    deadline = time.monotonic() + 30
    while "RUNNING" in _statuses(experiment) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _statuses(experiment)


def _absent(repo, *paths: str) -> None:
    present = [p for p in paths if (repo.path / p).exists()]
    assert not present, present


def test_house_cv_killed_leaves_nothing_and_the_next_repro_rebuilds_it(repo_copy):
    outs = ("data/interim/house-prices/oof_linear.csv", "metrics/house-prices/cv_linear.json",
            "runs/house-prices/cv_linear.json", "plots/house-prices/cv_linear.csv")
    linear = "competitions.house-prices.models.linear"
    repo_copy.set_params(**{"competitions.house-prices.blend.models": ["linear"],
                            "competitions.house-prices.cv.folds": 2,
                            f"{linear}.epochs": 100000, f"{linear}.lr": 0.05})
    repo_copy.dvc("repro", "house_prices_preprocess")
    mlflow_client().search_experiments()  # the store exists before two processes open it

    # diverging: one line naming the param, nothing written, the run FAILED
    repo_copy.set_params(**{f"{linear}.lr": 1e30, f"{linear}.epochs": 3})
    diverged = repo_copy.run("python", "cli.py", "competition", "cv", "house-prices", "linear", check=False)
    assert diverged.returncode == 2 and "Traceback" not in diverged.stderr, diverged.stderr
    assert diverged.stderr.strip().splitlines()[-1].startswith("error: params.yaml: training diverged")
    assert "'competitions.house-prices.models.linear.lr'" in diverged.stderr
    _absent(repo_copy, *outs)
    assert set(_statuses("house-prices")) == {"FAILED"}

    repo_copy.set_params(**{f"{linear}.lr": 0.05, f"{linear}.epochs": 100000})
    interrupted = _start_and_signal(repo_copy, ["competition", "cv", "house-prices", "linear"], "house-prices",
                                    signal.SIGINT)
    assert interrupted.returncode != 0
    _absent(repo_copy, *outs)
    assert "RUNNING" not in _statuses("house-prices")

    killed = _start_and_signal(repo_copy, ["competition", "cv", "house-prices", "linear"], "house-prices",
                               signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    _absent(repo_copy, *outs)
    statuses = _wait_for_killed("house-prices")
    assert "RUNNING" not in statuses and statuses.count("KILLED") == 1, statuses

    repo_copy.set_params(**{f"{linear}.epochs": 2})
    repo_copy.dvc("repro", "house_prices_train@linear")
    for name in outs:
        assert (repo_copy.path / name).stat().st_size > 0, name
    statuses = _statuses("house-prices")
    assert "RUNNING" not in statuses and "KILLED" in statuses and "FINISHED" in statuses


def test_rnn_training_killed_leaves_nothing_and_the_next_repro_rebuilds_it(repo_copy):
    name = "tm-gru-concise"
    outs = (f"models/rnn/{name}.pt", f"models/rnn/{name}.samples.txt", f"metrics/rnn/{name}.json",
            f"plots/rnn/{name}.csv", f"runs/rnn/{name}.json")
    repo_copy.set_params(**{"rnn.train.hidden": 8, "rnn.train.batch_size": 2, "rnn.train.num_steps": 4,
                            "rnn.train.epochs": 100000, "rnn.train.num_chars": 3, "rnn.train.device": "cpu",
                            "rnn.corpora.timemachine.max_tokens": 400})
    repo_copy.dvc("repro", "download@timemachine")
    mlflow_client().search_experiments()

    # diverging: one line naming the experiment's own lr param, nothing written, the run FAILED
    repo_copy.set_params(**{f"rnn.experiments.{name}.train": {"lr": 1e30, "clip": 1e30, "optimizer": "sgd",
                                                             "epochs": 2}})
    diverged = repo_copy.run("python", "cli.py", "rnn", "train", name, check=False)
    assert diverged.returncode == 2 and "Traceback" not in diverged.stderr, diverged.stderr
    assert diverged.stderr.strip().splitlines()[-1].startswith("error: params.yaml: training diverged")
    assert f"'rnn.experiments.{name}.train.lr'" in diverged.stderr
    _absent(repo_copy, *outs)
    assert _statuses("rnn") == ["FAILED"]
    repo_copy.set_params(**{f"rnn.experiments.{name}.train": {}})

    for sig in (signal.SIGINT, signal.SIGTERM):
        stopped = _start_and_signal(repo_copy, ["rnn", "train", name], "rnn", sig)
        assert stopped.returncode != 0
        _absent(repo_copy, *outs)
        assert set(_statuses("rnn")) == {"FAILED"}, (sig, _statuses("rnn"))

    killed = _start_and_signal(repo_copy, ["rnn", "train", name], "rnn", signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    _absent(repo_copy, *outs)
    assert sorted(_wait_for_killed("rnn")) == ["FAILED", "FAILED", "FAILED", "KILLED"]

    repo_copy.set_params(**{"rnn.train.epochs": 1})
    repo_copy.dvc("repro", f"rnn_train@{name}")
    for path in outs:
        assert (repo_copy.path / path).stat().st_size > 0, path
    assert sorted(_statuses("rnn")) == ["FAILED", "FAILED", "FAILED", "FINISHED", "KILLED"]
    assert os.environ["MLFLOW_TRACKING_URI"].startswith("sqlite:///")
