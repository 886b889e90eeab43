"""Test set-up: point every download at the local dataset mirror beside the repo when present."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from helpers import free_port

from pipeline import REPO_ROOT
from pipeline.datasets import MIRROR_ENV
from sandbox import RepoCopy, copy_repo

SHARED_MIRROR = REPO_ROOT.parent / "shared" / "datasets"


def pytest_configure(config):
    if not os.environ.get(MIRROR_ENV) and SHARED_MIRROR.is_dir():
        os.environ[MIRROR_ENV] = str(SHARED_MIRROR)
    # Tests train on tiny data: one thread is as fast, and two spinning OpenMP threads per
    # process (this test, its DVC subprocesses) thrash a 2-core machine.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Each test store gets its own tracking service (pipeline/tracking/service.py): let them
    # exit soon after their test instead of idling for minutes.
    os.environ.setdefault("PIPELINE_TRACKING_IDLE", "20")


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


# ---- a throw-away PostgreSQL cluster (test_team.py: MLflow server; test_tune.py: shared Optuna study)


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    initdb = Path(found[-1]) if found else (Path(shutil.which("initdb")) if shutil.which("initdb") else None)
    if initdb is None or not (initdb.parent / "pg_ctl").exists():
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run installs it)")
    return initdb.parent


def _as_cluster_owner() -> tuple[list[str], int | None, int | None]:
    """PostgreSQL refuses to run as root: as root, run its commands as the `postgres` system user."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to own the test cluster")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser to start PostgreSQL as the 'postgres' user")
    return [runuser, "-u", "postgres", "--"], owner.pw_uid, owner.pw_gid


@pytest.fixture(scope="module")
def postgres():
    """A throw-away cluster on 127.0.0.1 (a free port) in a temp folder, trust auth, stopped at the end."""
    bin_dir = _postgres_bin()
    prefix, uid, gid = _as_cluster_owner()
    folder = Path(tempfile.mkdtemp(prefix="pg-test-"))  # not under pytest's root-only tmp: postgres must reach it
    if uid is not None:
        os.chown(folder, uid, gid)
    data, port = folder / "data", free_port()

    def run(*argv, timeout=120):
        return subprocess.run([*prefix, *map(str, argv)], check=False, capture_output=True, text=True, timeout=timeout,
                              cwd=folder)

    init = run(bin_dir / "initdb", "-D", data, "-U", "mlflow", "--auth=trust", "-E", "UTF8", "--no-sync",
               "--no-instructions")
    assert init.returncode == 0, init.stdout + init.stderr
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} -c fsync=off"
    started = run(bin_dir / "pg_ctl", "-D", data, "-o", options, "-l", folder / "postgres.log", "-w", "-t", "60",
                  "start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr + (folder / "postgres.log").read_text()
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=port, user="mlflow", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE mlflow")
        connection.close()
        yield f"postgresql://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop")
        shutil.rmtree(folder, ignore_errors=True)
