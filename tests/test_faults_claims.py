"""Claims that must hold (issue 18, docs/faults.md cases 10 to 13): bad params, refused writes, damaged
intermediate files and odd encodings each end in one `error:` line naming the file or param, exit 2,
with nothing half-written; and a stage dies with the `dvc repro` that started it.

The CLI cases run `python cli.py` in one throw-away repo copy with the raw data downloaded from the
mirror and `competition preprocess house-prices` run once; each case changes the copy and puts it back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import mlflow_client
from sandbox import RepoCopy, copy_repo

from pipeline.datasets import MIRROR_ENV
from pipeline.errors import DataError, ParamError
from pipeline.files import write_bytes
from pipeline.tabular.config import load_competition
from pipeline.tabular.evaluation import CVParams, fold_ids
from pipeline.tabular.prepared import Prepared
from pipeline.params import PARAMS_FILE, load_params

PROCESSED = Path("data/processed/house-prices")


# ---- in-process: the checks themselves


def test_params_file_that_is_not_yaml_names_the_file_and_line(tmp_path):
    text = PARAMS_FILE.read_text().splitlines()
    line = next(i for i, t in enumerate(text) if t.startswith("  house-prices:")) + 2
    text.insert(line - 1, "    seed: [42")  # an unclosed flow sequence
    (tmp_path / "params.yaml").write_text("\n".join(text) + "\n")
    with pytest.raises(ParamError, match=rf"params.yaml, line {line + 1}, column \d+: not valid YAML: .*flow sequence"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_bytes(b"competitions:\n  house-prices:\n    seed: 4\xb2\n")
    with pytest.raises(ParamError, match=r"params.yaml: not UTF-8 text \(byte 0xb2 on line 3\)"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("key, value", [
    ("competitions.house-prices.models.svr.gamma", float("inf")),
    ("competitions.house-prices.models.svr.epsilon", float("inf")),
    ("competitions.house-prices.models.svr.coef0", float("nan")),
    ("competitions.house-prices.models.elastic_net.alpha", float("-inf")),
    ("competitions.house-prices.models.mlp.lr", float("nan")),
    ("competitions.house-prices.features.outliers.living_area_above", float("inf")),
])
def test_a_float_param_must_be_finite(tmp_path, key, value):
    params = yaml.safe_load(PARAMS_FILE.read_text())
    node = params
    *parents, leaf = key.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    model = key.split(".")[3] if key.startswith("competitions.house-prices.models.") else None
    with pytest.raises(ParamError, match=rf"'{key}' must be a finite number, got {value!r}"):
        house = load_competition("house-prices", tmp_path / "params.yaml")
        if model:
            house.model(model)
        else:
            house.feature_params()


def test_more_folds_than_rows_names_the_param():
    assert sorted(fold_ids(7, CVParams(folds=7)).tolist()) == list(range(7))  # one row each
    with pytest.raises(ParamError, match=r"'competitions\.house-prices\.cv\.folds' is 8, more folds than the 7 "
                                         r"rows to split: use 2\.\.7"):
        fold_ids(7, CVParams(folds=8), where="competitions.house-prices.cv")


def test_a_damaged_processed_file_is_named(tmp_path):
    (tmp_path / "train.parquet").write_bytes(b"PAR1 half a file")
    (tmp_path / "test.parquet").write_bytes(b"")
    (tmp_path / "labels.parquet").write_bytes(b"")
    (tmp_path / "meta.json").write_text("{}")
    with pytest.raises(DataError, match=r"train.parquet: not a readable parquet file .*"
                                        r"dvc repro house_prices_preprocess"):
        Prepared.load(tmp_path, "house-prices")


def _unshare_available() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], check=False, capture_output=True).returncode == 0


def _in_small_tmpfs(folder: Path, size: str, command: str) -> subprocess.CompletedProcess:
    """Run `command` in a private mount namespace where `folder` is a tmpfs of `size` (a full disk
    nobody else sees, gone when the command ends); it prints what is left in the tmpfs at the end."""
    script = (f'mount -t tmpfs -o size={size} tmpfs "{folder}" || exit 99\n{command}\nrc=$?\n'
              f'echo "left: $(ls -A "{folder}" | tr "\\n" " ")"\nexit $rc\n')
    return subprocess.run(["unshare", "-m", "sh", "-c", script], check=False, capture_output=True, text=True,
                          timeout=300)


needs_mounts = pytest.mark.skipif(not _unshare_available(),
                                  reason="a private tmpfs needs `unshare -m` (root or user namespaces)")


@needs_mounts
def test_a_full_disk_names_the_output_and_leaves_no_temp_file(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    code = ("import sys; from pipeline.files import write_bytes\n"
            "try: write_bytes(sys.argv[1], bytes(200_000))\n"
            "except OSError as exc: print(f'{exc.__class__.__name__} {exc.errno} {exc.filename}: {exc.strerror}')\n")
    done = _in_small_tmpfs(folder, "64k", f'"{sys.executable}" -c "{code}" "{folder / "model.pkl"}"')
    assert done.returncode == 0, done.stderr
    said, left = done.stdout.strip().splitlines()
    assert said == f"OSError {errno.ENOSPC} {folder / 'model.pkl'}: No space left on device"
    assert left == "left:", left  # the temporary file is gone too
    write_bytes(folder / "model.pkl", b"fits")  # the same call on a disk with room
    assert (folder / "model.pkl").read_bytes() == b"fits"


# ---- the CLI: one line, exit 2, nothing half-written


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> RepoCopy:
    """A repo copy with the raw House Prices files and `competition preprocess house-prices`'s outputs."""
    if not os.environ.get(MIRROR_ENV):
        pytest.skip(f"no dataset mirror: set {MIRROR_ENV} or put shared/datasets beside the repo")
    repo = copy_repo(tmp_path_factory.mktemp("claims") / "repo")
    repo.run("python", "cli.py", "download", "house-prices")
    repo.run("python", "cli.py", "competition", "preprocess", "house-prices")
    return repo


@contextlib.contextmanager
def _params(repo: RepoCopy, **changes):
    original = (repo.path / "params.yaml").read_bytes()
    try:
        repo.set_params(**changes)
        yield
    finally:
        (repo.path / "params.yaml").write_bytes(original)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_cli_bad_yaml_and_bad_params_are_one_line_naming_them(prepared):
    params = prepared.path / "params.yaml"
    original = params.read_text()
    try:
        params.write_text(original.replace("  house-prices:\n", "  house-prices:\n    seed: [42\n", 1))
        line = _one_error_line(prepared.run("python", "cli.py", "competition", "preprocess", "house-prices",
                                            check=False))
        assert line.startswith(f"error: {params}, line ") and "not valid YAML" in line
    finally:
        params.write_text(original)

    outputs = [prepared.path / "models/house-prices/svr.pkl", prepared.path / "metrics/house-prices/cv_svr.json",
               prepared.path / "runs/house-prices/cv_svr.json"]
    folds = "competitions.house-prices.cv.folds"
    for key, value, says in [("competitions.house-prices.models.svr.gamma", float("inf"),
                              "must be a finite number, got inf"),
                             ("competitions.house-prices.models.svr.epsilon", float("inf"),
                              "must be a finite number, got inf"),
                             (folds, 5000, "is 5000, more folds than the 1460 rows to split")]:
        with _params(prepared, **{key: value}):
            line = _one_error_line(prepared.run("python", "cli.py", "competition", "train", "house-prices", "svr",
                                                check=False))
        assert line == f"error: params.yaml: '{key}' {says}" + (": use 2..1460" if key == folds else "")
        assert not [p for p in outputs if p.exists()]


def _without_root_override() -> list[str]:
    """A prefix that makes root respect file modes (drops CAP_DAC_OVERRIDE), as any other user does."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root, which ignores a read-only mode, and no setpriv to drop that")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


@pytest.mark.slow
def test_cli_read_only_processed_folder_is_one_line_and_keeps_the_earlier_files(prepared):
    folder = prepared.path / PROCESSED
    before = _snapshot(folder)
    folder.chmod(0o555)
    try:
        result = prepared.run(*_without_root_override(), sys.executable, "cli.py", "competition", "preprocess",
                              "house-prices", check=False)
    finally:
        folder.chmod(0o755)
    assert _one_error_line(result) == f"error: {folder / 'train.parquet'}: Permission denied"
    assert _snapshot(folder) == before  # the earlier outputs, byte for byte, and no temporary file


@pytest.mark.slow
@needs_mounts
def test_cli_full_disk_is_one_line_and_writes_none_of_the_three_files(prepared):
    """Room for train.parquet but not for test.parquet too: the four files land together or not at all."""
    folder = prepared.path / PROCESSED
    room = (folder / "train.parquet").stat().st_size + (folder / "test.parquet").stat().st_size // 2
    done = _in_small_tmpfs(folder, f"{room // 1024}k", f'cd "{prepared.path}" && "{sys.executable}" cli.py competition preprocess house-prices')
    assert done.returncode == 2, done.stdout + done.stderr
    assert _one_error_line(done) == f"error: {folder / 'test.parquet'}: No space left on device"
    assert done.stdout.strip().splitlines()[-1] == "left:"  # not train.parquet alone, no temporary file


@pytest.mark.slow
def test_cli_damaged_parquet_and_a_submission_not_in_utf8_are_named(prepared, tmp_path):
    train = prepared.path / PROCESSED / "train.parquet"
    intact = train.read_bytes()
    try:
        train.write_bytes(intact[: len(intact) // 2])  # cut short, as a full disk or a killed copy leaves it
        line = _one_error_line(prepared.run("python", "cli.py", "competition", "train", "house-prices", "svr",
                                            check=False))
    finally:
        train.write_bytes(intact)
    assert line.startswith(f"error: {train}: not a readable parquet file (")
    assert line.endswith("; rebuild it with `dvc repro house_prices_preprocess`")

    latin1 = tmp_path / "submission.csv"
    latin1.write_bytes("Id,SalePrice\n1461,169000\n1462,187000 \u00a3\n".encode("latin-1"))
    line = _one_error_line(prepared.run("python", "cli.py", "submit", "--dry-run", "--file", str(latin1), check=False))
    assert line == f"error: {latin1}: not UTF-8 text (byte 0xa3 on line 3)"


# ---- a stage dies with its dvc


def _stage_processes(repo: Path) -> list[int]:
    """Pids of `cli.py` processes working in `repo` (the stage DVC started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if b"cli.py" in argv and cwd == str(repo):
            found.append(int(entry))
    return found


def _statuses(experiment: str) -> list[str]:
    client = mlflow_client()
    exp = client.get_experiment_by_name(experiment)
    return [r.info.status for r in client.search_runs([exp.experiment_id], max_results=1000)] if exp else []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the stage's process in /proc")
@pytest.mark.usefixtures("mirror")
def test_a_stage_stops_when_its_dvc_is_killed_and_its_runs_end_killed(repo_copy):
    outs = ["data/interim/house-prices/oof_linear.csv", "models/house-prices/linear.pkl",
            "metrics/house-prices/cv_linear.json", "runs/house-prices/cv_linear.json", "plots/house-prices/cv_linear.csv"]
    repo_copy.set_params(**{"competitions.house-prices.blend.models": ["linear"],
                            "competitions.house-prices.cv.folds": 2,
                            "competitions.house-prices.models.linear.epochs": 100000,
                            "competitions.house-prices.models.linear.lr": 0.05})
    repo_copy.dvc("repro", "house_prices_preprocess")
    mlflow_client().search_experiments()  # the store exists before two processes open it
    dvc = subprocess.Popen([shutil.which("dvc") or "dvc", "repro", "house_prices_train@linear"],
                           cwd=repo_copy.path,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while "RUNNING" not in _statuses("house-prices"):
            assert dvc.poll() is None, dvc.communicate()[0]
            assert time.monotonic() < deadline, "the stage never started its MLflow run"
            time.sleep(0.3)
        time.sleep(1.0)  # training now
        assert _stage_processes(repo_copy.path)
        dvc.send_signal(signal.SIGTERM)
        dvc.wait(timeout=60)  # dvc goes at once; its output pipe stays open while the stage lives
        deadline = time.monotonic() + 8  # the stage stops by itself well before its STOP_WITHIN_S fallback
        while _stage_processes(repo_copy.path) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _stage_processes(repo_copy.path)
    finally:
        if dvc.poll() is None:
            dvc.kill()
            dvc.wait()
        for pid in _stage_processes(repo_copy.path):
            os.kill(pid, signal.SIGKILL)
    said = dvc.stdout.read()
    assert not left, f"stage process(es) {left} still running after dvc was killed:\n{said}"
    assert "that ran stage house_prices_train@linear is gone: stopping it" in said
    assert not [p for p in outs if (repo_copy.path / p).exists()]
    statuses = _statuses("house-prices")
    assert statuses and set(statuses) == {"KILLED"}, statuses  # not FINISHED, not left RUNNING, not FAILED
    lock = yaml.safe_load((repo_copy.path / "dvc.lock").read_text())
    assert "house_prices_train@linear" not in lock["stages"]


# ---- a sweep worker killed mid-trial


@pytest.mark.slow
def test_a_dead_workers_trial_is_failed_and_queued_again_once_its_heartbeat_is_stale(tmp_path, monkeypatch):
    """The study's storage as `open_storage` makes it, with a short grace period: a trial whose
    worker recorded a heartbeat and then died is FAIL once the grace period has passed, and a copy
    with the same params is queued, which is what every worker checks before its next trial. The
    shipped HEARTBEAT_S / GRACE_S and the time to a retry with real workers: benchmarks/tune_retry.py."""
    import optuna

    from pipeline.tune import study as study_mod

    monkeypatch.setattr(study_mod, "HEARTBEAT_S", 1)
    monkeypatch.setattr(study_mod, "GRACE_S", 2)
    study = study_mod.open_study("retry", f"sqlite:///{tmp_path / 'study.db'}", {"target": "test"}, "none", seed=0)
    dead = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    study._storage.record_heartbeat(dead._trial_id)  # its worker's heartbeat thread beat once, then the worker died
    optuna.storages.fail_stale_trials(study)
    assert [t.state.name for t in study.get_trials()] == ["RUNNING"]  # within the grace period: left alone
    time.sleep(study_mod.GRACE_S + 1.5)  # SQLite's clock counts whole seconds
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].params == dead.params and trials[1].system_attrs["failed_trial"] == dead.number
