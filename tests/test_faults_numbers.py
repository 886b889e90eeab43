"""Numbers that must neither overflow nor pass through, seeds in range, errors that name the file
(issue 23, docs/faults.md case 20): a huge finite value no longer zeroes a feature, inf reads as
missing in every features module, a non-finite feature is an error naming column and file with
nothing written, every seed param is range-checked, and a test.csv without a column the features
need is named.

In-process cases read the mirror's files through `data.load` and the stage's own
`fit_preprocessor`; the CLI cases run `python cli.py` in one repo copy with both competitions
downloaded, each editing a raw file and putting it back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sandbox import RepoCopy, copy_repo

from pipeline import REPO_ROOT
from pipeline.datasets import MIRROR_ENV
from pipeline.errors import DataError, ParamError
from pipeline.params import SEED_MAX, load_params
from pipeline.tabular import data
from pipeline.tabular.config import load_competition
from pipeline.tabular.prepared import Prepared
from pipeline.tabular.stages import fit_preprocessor

HOUSE, TITANIC = load_competition("house-prices"), load_competition("titanic")
HUGE = 1e308


def _raw(mirror: Path, folder: Path, p) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for role in ("train", "test", "sample_submission"):
        shutil.copy(mirror / p.files[role].name, folder / p.files[role].basename)
    return folder


def _set(path: Path, column: str, row: int, value: float) -> None:
    frame = pd.read_csv(path)
    frame[column] = frame[column].astype(float)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)


def _features(p, raw_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What `competition preprocess` makes of the files in `raw_dir`: train's and test's features."""
    raw = data.load(p, raw_dir)
    pre = fit_preprocessor(p, raw)
    return pre.transform(raw.train), pre.transform(raw.test)


# ---- in-process: inf reads as missing (NaN) in House's features as in the others


@pytest.mark.parametrize("p, column, role", [
    (HOUSE, "GrLivArea", "train"), (HOUSE, "GrLivArea", "test"), (HOUSE, "LotArea", "test"),
    (TITANIC, "Age", "train"), (TITANIC, "Fare", "test"),
])
def test_an_infinite_value_gives_the_features_of_a_missing_one(mirror, tmp_path, p, column, role):
    """Before: House let inf through (GrLivArea = inf in one test row made the column inf or NaN
    for all 2919 rows); Titanic's fills skipped it (an infinite age got no title median)."""
    features = {}
    for value in (np.inf, np.nan):
        folder = _raw(mirror, tmp_path / str(value), p)
        _set(folder / p.files[role].basename, column, 3, value)
        features[str(value)] = _features(p, folder)
    (train, test), (nan_train, nan_test) = features["inf"], features["nan"]
    for frame in (train, test):
        assert np.isfinite(frame.to_numpy()).all()
    assert train.equals(nan_train) and test.equals(nan_test)


# ---- in-process: a huge finite value standardises without overflow


@pytest.mark.parametrize("p, column, feature", [(TITANIC, "Age", "Age"), (HOUSE, "LotArea", "LotArea"),
                                                (HOUSE, "GrLivArea", "GrLivArea_vs_Neighborhood")])
def test_a_huge_value_in_one_train_row_leaves_its_feature_alive(mirror, tmp_path, p, column, feature):
    """Before: the std overflowed to inf, so every row's value became 0, with exit 0 and no note."""
    folder = _raw(mirror, tmp_path / "raw", p)
    _set(folder / p.files["train"].basename, column, 3, HUGE)
    raw = data.load(p, folder)
    pre = fit_preprocessor(p, raw)
    train, test = pre.transform(raw.train), pre.transform(raw.test)
    values = train[feature].to_numpy()
    assert np.isfinite(train.to_numpy()).all() and np.isfinite(test.to_numpy()).all()
    assert values.std() > 0 and values.argmax() == 3  # not all zero: the huge row stands out
    assert f"{column}: values up to 1e+308 (an entry error?): its statistics are taken without overflow" \
        in pre.notes


def test_statistics_of_huge_values_match_the_plain_ones_scaled():
    """The scaled path is exact: 2**300 times a column gives 2**300 times its mean and std, and the
    same z-scores, as pandas' plain sums give on the column itself."""
    from pipeline.tabular import numbers

    values = pd.Series([1.5, 2.25, np.nan, 7.0, -3.125, 1e5])
    mean, std = numbers.mean_std(values)
    big_mean, big_std = numbers.mean_std(values * 2.0 ** 300)
    assert (big_mean, big_std) == (mean * 2.0 ** 300, std * 2.0 ** 300) == (values.mean() * 2.0 ** 300,
                                                                            values.std() * 2.0 ** 300)
    z = numbers.standardized(values * 2.0 ** 300, big_mean, big_std)
    assert z.equals(numbers.standardized(values, mean, std))
    edge = pd.Series([1.7e308, -1.7e308, 0.0])  # differences past float64: still finite z-scores, in order
    mean, std = numbers.mean_std(edge)
    assert numbers.standardized(edge, mean, std).tolist() == [1.0, -1.0, 0.0]


# ---- in-process: a non-finite feature is refused by name before any file is written


def test_prepared_save_refuses_a_non_finite_feature_naming_column_file_and_row(tmp_path):
    train = pd.DataFrame({"Id": [1, 2, 3], "a": [0.0, 1.0, -1.0], "b": [0.5, 0.0, 0.25]}, dtype=float)
    test = pd.DataFrame({"Id": [7, 8], "a": [0.0, 1.0], "b": [np.inf, 0.0]})
    labels = pd.DataFrame({"Id": [1, 2, 3], "label": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0], "is_outlier": False})
    meta = {"id": "Id", "target": "y", "task": "regression", "classes": [], "target_transform": "none",
            "columns": ["a", "b"], "notes": []}
    with pytest.raises(DataError, match=r"^data/raw/x/test\.csv: feature 'b' is inf in 1 row\(s\) \(Id \[7\]\) "
                                        r"after preprocessing .*; nothing written$"):
        Prepared(train, test, labels, meta).save(tmp_path / "out", ("data/raw/x/train.csv", "data/raw/x/test.csv"))
    assert not (tmp_path / "out").exists()
    train.loc[1, "a"] = np.nan
    with pytest.raises(DataError, match=r"^train rows: feature 'a' is NaN in 1 row\(s\) \(Id \[2\.0\]\)"):
        Prepared(train, test, labels, meta).save(tmp_path / "out")


# ---- seeds: 0..2**32-1, like every other param's range


def _with(params: dict, dotted: str, value) -> dict:
    node = params
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})  # an experiment without its own `train` overrides gets one
    node[leaf] = value
    return params


SEEDS = ["competitions.house-prices.seed", "competitions.titanic.cv.seed", "regularization.polynomial.seed",
         "regularization.dropout.seed", "rnn.train.seed", "rnn.experiments.tm-gru-scratch.train.seed"]


def _load(dotted: str, params: dict, tmp_path: Path) -> None:
    """Build the params block `dotted` belongs to, as its stage would."""
    if dotted.startswith("competitions."):
        file = tmp_path / "params.yaml"
        file.write_text(yaml.safe_dump(params))
        load_competition(dotted.split(".")[1], file)
    elif dotted.startswith("regularization."):
        from pipeline.regularization.config import stage_params

        stage_params(params, dotted.split(".")[1])
    else:
        from pipeline.rnn.config import load_experiment

        load_experiment(params, "tm-gru-scratch")


@pytest.mark.parametrize("dotted", SEEDS)
@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_outside_0_to_2_to_the_32_names_the_param(tmp_path, dotted, seed):
    """Before: accepted, then a NumPy traceback (`np.random.seed`, `default_rng`) once the stage ran."""
    params = _with(load_params(), dotted, seed)
    with pytest.raises(ParamError, match=rf"^params.yaml: '{dotted}' must be in 0\.\.\d+.*, got {seed}$"):
        _load(dotted, params, tmp_path)


def test_the_largest_seeds_pass_and_fold_seeds_stay_in_range(tmp_path):
    folds = HOUSE.cv.folds
    for dotted, seed in [("competitions.house-prices.cv.seed", SEED_MAX), ("regularization.init.seed", SEED_MAX),
                         ("rnn.train.seed", SEED_MAX), ("competitions.house-prices.seed", SEED_MAX - folds + 1)]:
        _load(dotted, _with(load_params(), dotted, seed), tmp_path)
    with pytest.raises(ParamError, match=rf"'competitions.house-prices.seed' must be in 0\.\.{SEED_MAX - folds + 1} "
                                         rf"\(fold k of {folds} fits with seed \+ k\), got {SEED_MAX}$"):
        _load("competitions.house-prices.seed", _with(load_params(), "competitions.house-prices.seed", SEED_MAX),
              tmp_path)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_tune_seed_outside_the_range_is_refused_before_the_study_opens(tmp_path, seed):
    from pipeline.tune.config import load_tune
    from pipeline.tune.worker import Options, tune_competition

    storage = tmp_path / "optuna.db"
    with pytest.raises(ParamError, match=rf"^--seed must be in 0\.\.{SEED_MAX}, got {seed}$"):
        tune_competition("house-prices", "elastic_net", load_tune(), Options(seed=seed, storage=str(storage)),
                         echo=lambda line: None)
    assert not storage.exists()


# ---- the tracking store's full disk: the disk is named, not the server


def test_a_full_disk_under_the_store_blames_the_disk():
    """Before: "(check MLFLOW_TRACKING_URI, that the server is up, and that no other process holds
    the database)" for an artifact copy that ran out of space."""
    from pipeline.tracking.store import tracking_failure

    full = tracking_failure("sqlite:////x/mlflow.db", OSError(errno.ENOSPC, "No space left on device"))
    assert str(full).endswith("(the disk holding the store's database or its artifact folder is full: free "
                              "space there)")
    named = OSError(errno.ENOSPC, "No space left on device", "/x/mlruns/1/r/artifacts/model.pkl")
    assert "(the disk holding /x/mlruns/1/r/artifacts/model.pkl is full" in str(tracking_failure("sqlite:///a", named))
    assert "server is up" in str(tracking_failure("http://h:5000", ConnectionError("refused")))


def _unshare_available() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], check=False, capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_available(), reason="a private tmpfs needs `unshare -m` (root or user namespaces)")
def test_a_real_full_artifact_folder_blames_the_disk(tmp_path):
    """The artifact folder (the store's default `./mlruns`) is a 64 KiB tmpfs in a private mount
    namespace; logging a 300 KB artifact into it fails naming the disk."""
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "big.bin").write_bytes(os.urandom(300_000))
    code = ("from pipeline.tracking.store import MlflowStore\nfrom pipeline.errors import TrackingError\n"
            f"store = MlflowStore('sqlite:///{tmp_path}/mlflow.db')\nrun = store.start_run('exp', 'r', {{}}, {{}})\n"
            f"try: store.log_artifact(run['run_id'], '{tmp_path}/big.bin')\n"
            "except TrackingError as exc: print(exc)\n")
    (tmp_path / "log.py").write_text(code)
    script = (f'mount -t tmpfs -o size=64k tmpfs "{tmp_path}/mlruns" || exit 99\n'
              f'cd "{tmp_path}" && "{sys.executable}" log.py')
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PIPELINE_TRACKING_SERVICE": "0"}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("No space left on device (the disk holding the store's database or its "
                                        "artifact folder is full: free space there)"), done.stdout


# ---- the CLI: exit 0 with a note, or one `error:` line naming the file, nothing written


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> RepoCopy:
    if not os.environ.get(MIRROR_ENV):
        pytest.skip(f"no dataset mirror: set {MIRROR_ENV} or put shared/datasets beside the repo")
    copy = copy_repo(tmp_path_factory.mktemp("numbers") / "repo")
    copy.run("python", "cli.py", "download", "house-prices")
    copy.run("python", "cli.py", "download", "titanic")
    return copy


@contextlib.contextmanager
def _edited(repo: RepoCopy, p, role: str, change, **params):
    """The raw file `role` of competition `p` changed by `change(frame)` (and params set), then put back."""
    path = repo.path / "data" / "raw" / p.key / p.files[role].basename
    original, settings = path.read_bytes(), (repo.path / "params.yaml").read_bytes()
    try:
        frame = pd.read_csv(path)
        change(frame)
        frame.to_csv(path, index=False)
        repo.set_params(**params)
        shutil.rmtree(repo.path / "data" / "processed" / p.key, ignore_errors=True)
        yield path
    finally:
        path.write_bytes(original)
        (repo.path / "params.yaml").write_bytes(settings)


def _at(column: str, row: int, value: float):
    def change(frame: pd.DataFrame) -> None:
        frame[column] = frame[column].astype(float)
        frame.loc[row, column] = value
    return change


def _preprocess(repo: RepoCopy, p) -> subprocess.CompletedProcess:
    return repo.run("python", "cli.py", "competition", "preprocess", p.key, check=False)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("p, column", [(TITANIC, "Age"), (HOUSE, "LotArea")])
def test_cli_huge_value_in_train_is_standardised_with_a_note(repo, p, column):
    with _edited(repo, p, "train", _at(column, 3, HUGE)):
        done = _preprocess(repo, p)
        assert done.returncode == 0, done.stderr
        assert f"note: {column}: values up to 1e+308 (an entry error?)" in done.stderr
        values = pd.read_parquet(repo.path / "data" / "processed" / p.key / "train.parquet")[column].to_numpy()
    assert np.isfinite(values).all() and values.std() > 0 and values.argmax() == 3


@pytest.mark.slow
def test_cli_infinite_living_area_in_train_writes_finite_features(repo):
    """Before: exit 0 with inf features, then `competition train house-prices elastic_net` failed
    with a LinAlgError traceback."""
    with _edited(repo, HOUSE, "train", _at("GrLivArea", 3, np.inf)):
        assert _preprocess(repo, HOUSE).returncode == 0
        prepared = Prepared.load(repo.path / "data" / "processed" / "house-prices")
    assert np.isfinite(prepared.X()).all() and np.isfinite(prepared.X_test()).all()


@pytest.mark.slow
def test_cli_a_z_score_past_float32_is_one_line_naming_column_and_test_file(repo):
    """Statistics from train only, and a test passenger aged 1e308: its z-score has no float32."""
    with _edited(repo, TITANIC, "test", _at("Age", 3, HUGE),
                 **{"competitions.titanic.features.stats_from": "train"}) as test_file:
        line = _one_error_line(_preprocess(repo, TITANIC))
        assert line.startswith(f"error: {test_file}: feature 'Age' is inf in 1 row(s) (PassengerId [895]) ")
        assert line.endswith("; nothing written")
        assert not (repo.path / "data" / "processed" / "titanic").exists()


@pytest.mark.slow
@pytest.mark.parametrize("p, column, needs", [
    (TITANIC, "Fare", "the switched-on engineering of competitions.titanic.features"),
    (HOUSE, "GrLivArea", "competitions.house-prices.features.neighborhood_context"),
])
def test_cli_a_column_test_csv_lacks_names_test_csv(repo, p, column, needs):
    """Before: "titanic features: missing column(s) 'Fare' at fit ..."; House blamed the param."""
    with _edited(repo, p, "test", lambda frame: frame.drop(columns=column, inplace=True)) as test_file:
        line = _one_error_line(_preprocess(repo, p))
    assert line == (f"error: {test_file}: no column(s) '{column}' ({p.files['train'].basename} has it), "
                    f"which {needs} needs")


@pytest.mark.slow
def test_cli_a_negative_seed_is_one_line(repo):
    with _edited(repo, TITANIC, "train", lambda frame: None, **{"competitions.titanic.cv.seed": -1}):
        line = _one_error_line(_preprocess(repo, TITANIC))
    assert line == "error: params.yaml: 'competitions.titanic.cv.seed' must be in 0..4294967295, got -1"
