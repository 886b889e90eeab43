"""How long a sweep trial whose worker died stays RUNNING before another worker retries it.

A worker is SIGKILLed mid-trial; a second worker, already running short trials on the same
SQLite study, notices the dead trial once its heartbeat is older than the grace period
(Optuna's RDBStorage `heartbeat_interval` / `grace_period`, pipeline/tune/study.py), marks it
FAIL and queues a copy with the same params. Printed: seconds from the kill to FAIL, and to
the retried copy finishing. Run from the repo root:

    python benchmarks/tune_retry.py               # the shipped HEARTBEAT_S / GRACE_S
    python benchmarks/tune_retry.py 30 120        # other values: heartbeat and grace, seconds

Needs the dataset mirror (PIPELINE_DATA_MIRROR or ../shared/datasets); works in a repo copy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sandbox import copy_repo

from pipeline.tune import study as study_mod

# A worker with the study's timing set: the values under test, the rest as `cli.py tune` runs.
WORKER = """
import sys
from pipeline.tune import study
study.HEARTBEAT_S, study.GRACE_S = float(sys.argv[1]), float(sys.argv[2])
sys.argv = ["cli.py", *sys.argv[3:]]
import cli
sys.exit(cli.main())
"""


def main(heartbeat: float, grace: float) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="tune-retry-"))
    repo = copy_repo(work / "repo")
    # about a second a fold: long enough to kill a trial mid-way, short enough to retry it soon
    repo.set_params(**{"competitions.house-prices.models.elastic_net.max_iter": 3000,
                       "competitions.house-prices.models.elastic_net.tol": 0.0})
    repo.dvc("repro", "house_prices_preprocess")
    url = f"sqlite:///{work / 'study.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}

    def worker(*extra: str) -> subprocess.Popen:
        argv = [sys.executable, "-c", WORKER, str(heartbeat), str(grace), "tune", "house-prices", "elastic_net",
                "--storage", url, "--study", "retry", "--pruner", "none", *extra]
        return subprocess.Popen(argv, cwd=repo.path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def trials():
        try:
            return optuna.load_study(study_name="retry", storage=url).get_trials(deepcopy=False)
        except KeyError:  # not created yet
            return []

    # The victim, killed once its first trial (the baseline, trial 0) is running.
    victim = worker("--trials", "1")
    while not any(t.state.name == "RUNNING" for t in trials()):
        assert victim.poll() is None, victim.stderr.read()
        time.sleep(0.2)
    time.sleep(1.0)  # its heartbeat thread records one as the trial starts
    dead = next(t for t in trials() if t.state.name == "RUNNING")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.monotonic()
    # The survivor: before each of its trials, Optuna fails the trials whose heartbeat is stale.
    survivor = worker("--trials", "1000", "--timeout", str(grace * 3 + 120))
    failed = retried = None
    try:
        while retried is None and time.monotonic() - killed_at < grace * 3 + 120:
            now = {t.number: t for t in trials()}
            if failed is None and now[dead.number].state.name == "FAIL":
                failed = time.monotonic() - killed_at
            copies = [t for t in now.values() if t.number != dead.number and t.params == dead.params
                      and t.state.name == "COMPLETE"]
            if failed is not None and copies:
                retried = time.monotonic() - killed_at
            time.sleep(0.2)
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=60)
    print(f"heartbeat {heartbeat:g} s, grace {grace:g} s: trial {dead.number} of the killed worker "
          f"FAIL after {failed if failed is None else round(failed, 1)} s, its retry complete after "
          f"{retried if retried is None else round(retried, 1)} s")


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:3]] or [study_mod.HEARTBEAT_S, study_mod.GRACE_S]
    main(*args)
