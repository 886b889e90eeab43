"""`python cli.py competition new SLUG` (pipeline/tabular/starter.py) on competitions it was not
written for: a synthetic one built here (ids, a date, numbers and categories with gaps, a 3-class
string target) and variants of it, and Titanic's files from the data mirror.

The fast tests call `new_competition` on copies of params.yaml and dvc.yaml; the slow one runs
the command and `dvc repro` in a throw-away copy of the repo.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import tempfile
import threading
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml
from dvc.utils.hydra import apply_overrides
from helpers import changed_lines, free_port
from typer.testing import CliRunner

from pipeline import REPO_ROOT, kaggle_client
from pipeline.datasets import MIRROR_ENV, payload_sha256
from pipeline.errors import DataError, DownloadError, ParamError
from pipeline.tabular import commands, starter
from pipeline.tabular.config import load_competition
from pipeline.tabular.stage_block import render
from pipeline.tabular.starter import new_competition

LABELS = ("low", "mid", "high")


# ---- a synthetic competition


def _features(ids: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """An id, a date, a number and two categories, each with missing values but the id and date."""
    n = len(ids)
    spend = rng.gamma(2.0, 50.0, n).round(2)
    spend[rng.random(n) < 0.1] = np.nan
    region = rng.choice(["north", "south", "east", "west"], n).astype(object)
    region[rng.random(n) < 0.08] = None
    channel = rng.choice(["web", "store", "phone"], n).astype(object)
    channel[rng.random(n) < 0.05] = None
    dates = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    return pd.DataFrame({"row_id": ids, "visit_date": dates.strftime("%Y-%m-%d"), "spend": spend,
                         "region": region, "channel": channel})


def _score(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """What the target follows: spend, plus a region effect, plus noise."""
    bonus = frame["region"].map({"north": 40.0, "south": -20.0, "east": 10.0, "west": 0.0}).fillna(0.0)
    return frame["spend"].fillna(100.0).to_numpy() + bonus.to_numpy() + rng.normal(0, 15, len(frame))


def _targets(kind: str, score: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if kind in ("multiclass", "per_class"):
        return np.asarray(LABELS, dtype=object)[np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))]
    if kind in ("binary", "binary_probability"):
        return (score > np.median(score)).astype(int)
    if kind == "integer_classes":
        return np.digitize(score, np.quantile(score, [0.2, 0.4, 0.6, 0.8])) + 1
    if kind == "skewed_regression":
        return np.round(1000 * np.exp(score / 40 + rng.normal(0, 0.5, len(score))), 2)
    return np.round(score / 10 - 12, 3)  # "regression": signed, roughly symmetric


def _sample(kind: str, ids: np.ndarray, target: str) -> pd.DataFrame:
    """The sample submission: the test ids and Kaggle-style placeholder predictions."""
    if kind == "per_class":
        return pd.DataFrame({"row_id": ids, **{label: 1 / 3 for label in LABELS}})
    placeholder = {"multiclass": "low", "binary": 0, "binary_probability": 0.5, "integer_classes": 3}
    return pd.DataFrame({"row_id": ids, target: placeholder.get(kind, 0.0)})


def make_competition(folder: Path, kind: str = "multiclass", target: str = "rating", sample_name: str =
                     "sample_submission.csv", extra: dict | None = None, seed: int = 0) -> Path:
    """train.csv (300 rows), test.csv (100 rows, no target) and a sample submission in `folder`;
    `extra` adds train-only columns (known after the fact, absent from test)."""
    rng = np.random.default_rng(seed)
    frame = _features(np.arange(1, 401), rng)
    frame[target] = _targets(kind, _score(frame, rng), rng)
    train, test = frame.iloc[:300].copy(), frame.iloc[300:].drop(columns=[target])
    for name, values in (extra or {}).items():
        train[name] = values
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    _sample(kind, test["row_id"].to_numpy(), target).to_csv(folder / sample_name, index=False)
    return folder


# ---- fixtures


@pytest.fixture(autouse=True)
def no_kaggle(monkeypatch):
    """No test reaches Kaggle, whatever credentials the machine has."""
    monkeypatch.setattr(kaggle_client, "has_credentials", lambda: False)


@pytest.fixture
def files(tmp_path) -> types.SimpleNamespace:
    """Copies of the repo's params.yaml and dvc.yaml, and new_competition writing into them."""
    repo = tmp_path / "repo"
    repo.mkdir()
    params, dvc = repo / "params.yaml", repo / "dvc.yaml"
    shutil.copyfile(REPO_ROOT / "params.yaml", params)
    shutil.copyfile(REPO_ROOT / "dvc.yaml", dvc)
    new = functools.partial(new_competition, params_file=params, dvc_file=dvc)
    return types.SimpleNamespace(params=params, dvc=dvc, new=new)


def _block(params: Path, key: str) -> dict:
    return yaml.safe_load(params.read_text())["competitions"][key]


# ---- inference


def test_infers_the_synthetic_multiclass_competition(tmp_path, files):
    folder = make_competition(tmp_path / "synth-data")

    report = files.new("synth", source=str(folder))

    block = _block(files.params, "synth")
    assert (block["id"], block["target"], block["task"], block["metric"]) == ("row_id", "rating", "multiclass",
                                                                            "accuracy")
    assert block["target_transform"] == "none" and block["kaggle"] == "synth"
    assert block["source"] == str(folder.resolve())
    for role, name in (("train", "train.csv"), ("test", "test.csv"), ("sample_submission", "sample_submission.csv")):
        assert block["files"][role] == {"name": f"synth/{name}", "sha256": payload_sha256(folder / name),
                                        "kaggle_file": name}
    assert "standardize_target" not in block["models"]["mlp"]  # a regression-only setting
    assert block["blend"]["models"] == ["lightgbm", "elastic_net", "mlp"]
    assert report.inferred.classes == ["high", "low", "mid"] and report.inferred.left_out == []
    competition = load_competition("synth", files.params)  # the stages' own validation accepts the block
    assert [competition.model(name).type for name in competition.blend.models] == ["lightgbm", "elastic_net", "mlp"]
    assert competition.feature_params().stats_from == "train"

    text = report.text()
    assert f"Files: from --from {folder.resolve()}" in " ".join(text.split())  # a long tmp path wraps
    assert "metric: Kaggle's metric is not known offline; guessed accuracy; set" in text
    assert "competitions.synth.metric" in text and "Next: dvc repro synth_submission" in text
    assert "Left out (in train, not in test: cannot be known at prediction time): none" in text
    assert all(len(line) < 100 for line in text.splitlines()), text


def test_reports_the_column_kinds_of_the_generic_preprocessing(tmp_path, files):
    folder = make_competition(tmp_path / "synth-data")

    kinds = files.new("synth", source=str(folder)).inferred.kinds

    by_column = {column: kind for kind, columns in kinds.items() for column in columns}
    assert by_column == {"visit_date": "date", "spend": "number", "region": "category", "channel": "category"}


@pytest.mark.parametrize("kind, task, metric, transform", [
    ("binary", "binary", "accuracy", "none"),  # 0/1 labels in the sample
    ("binary_probability", "binary", "auc", "none"),  # 0.5 in the sample: probabilities
    ("integer_classes", "multiclass", "accuracy", "none"),  # 5 integer labels
    ("per_class", "multiclass", "logloss", "none"),  # a probability column per class
    ("skewed_regression", "regression", "rmsle", "log1p"),
    ("regression", "regression", "rmse", "none"),
])
def test_task_metric_and_transform_of_variants(tmp_path, files, kind, task, metric, transform):
    folder = make_competition(tmp_path / kind, kind=kind)

    report = files.new("synth", source=str(folder))

    block = _block(files.params, "synth")
    assert (block["target"], block["task"], block["metric"], block["target_transform"]) == ("rating", task, metric,
                                                                                            transform)
    assert block["models"]["mlp"].get("standardize_target", False) is (task == "regression")
    competition = load_competition("synth", files.params)  # metric fits task, every model fits the task
    assert [competition.model(name).type for name in competition.blend.models] == ["lightgbm", "elastic_net", "mlp"]
    if transform == "log1p":
        assert "the models learn log1p(rating); predictions are transformed back" in report.text()


def test_titanic_from_the_mirror(mirror, files, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    sums = dict(line.split()[::-1] for line in (mirror / "SHA256SUMS").read_text().splitlines())

    report = files.new("titanic", key="titanic-again")  # params.yaml has a `titanic` block already

    block = _block(files.params, "titanic-again")
    assert (block["id"], block["target"], block["task"], block["metric"]) == ("PassengerId", "Survived", "binary",
                                                                            "accuracy")
    assert block["kaggle"] == "titanic" and block["source"] == ""
    assert block["files"]["sample_submission"] == {"name": "titanic/gender_submission.csv",
                                                   "sha256": sums["./titanic/gender_submission.csv"],
                                                   "kaggle_file": "gender_submission.csv"}
    assert block["files"]["train"]["sha256"] == sums["./titanic/train.csv"]
    assert report.found.where == f"mirror {mirror / 'titanic'}"
    assert "Next: dvc repro titanic_again_submission" in report.text()


def test_reports_train_only_columns_as_left_out(tmp_path, files):
    rng = np.random.default_rng(1)
    folder = make_competition(tmp_path / "d", kind="regression", extra={"refund": rng.random(300),
                                                                        "returned": rng.integers(0, 2, 300)})
    report = files.new("synth", source=str(folder))

    assert _block(files.params, "synth")["target"] == "rating"  # the sample's column, though 3 columns lack in test
    assert report.inferred.left_out == ["refund", "returned"]
    assert "cannot be known at prediction time): refund, returned" in report.text()


def test_finds_the_one_submission_csv_by_name(tmp_path, files):
    folder = make_competition(tmp_path / "d", sample_name="gender_submission.csv")

    files.new("synth", source=str(folder))

    assert _block(files.params, "synth")["files"]["sample_submission"]["kaggle_file"] == "gender_submission.csv"


def test_an_id_that_test_lacks_is_an_error_naming_the_files_and_columns(tmp_path, files):
    folder = make_competition(tmp_path / "d")
    sample = pd.read_csv(folder / "sample_submission.csv").rename(columns={"row_id": "key"})
    sample.to_csv(folder / "sample_submission.csv", index=False)

    with pytest.raises(DataError, match=r"test.csv: no column 'key' \(the first column of sample_submission.csv, "
                                        r"taken for the id\); its columns: row_id, visit_date, spend"):
        files.new("synth", source=str(folder))


def test_a_target_it_cannot_tell_is_an_error_naming_the_candidates(tmp_path, files):
    folder = make_competition(tmp_path / "d", extra={"refund": np.zeros(300)})
    sample = pd.read_csv(folder / "sample_submission.csv").rename(columns={"rating": "prediction"})
    sample.to_csv(folder / "sample_submission.csv", index=False)

    with pytest.raises(DataError, match=r"train.csv: cannot tell the target: sample_submission.csv predicts "
                                        r"prediction, and the columns train has and test lacks are rating, "
                                        r"refund; train's columns: row_id, visit_date, spend, region, channel, "
                                        r"rating, refund"):
        files.new("synth", source=str(folder))


# ---- where the files come from


def _serve(folder: Path):
    """A local http(s) host for `folder`, as a mirror or a `--from` URL would be."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("form", ["folder", "file_url", "http_url"])
def test_from_a_folder_a_file_url_or_an_http_url(tmp_path, files, form):
    folder = make_competition(tmp_path / "d")
    server = _serve(folder) if form == "http_url" else None
    source = {"folder": str(folder), "file_url": folder.resolve().as_uri(),
              "http_url": f"http://127.0.0.1:{server.server_port}/" if server else ""}[form]
    try:
        report = files.new("synth", source=source)
    finally:
        if server:
            server.shutdown()
    expected = str(folder.resolve()) if form == "folder" else source.rstrip("/")
    assert _block(files.params, "synth")["source"] == expected
    assert report.found.where == f"--from {expected}" and report.inferred.task == "multiclass"


def test_from_the_mirror_under_the_slug(tmp_path, files, monkeypatch):
    make_competition(tmp_path / "mirror" / "synth")
    monkeypatch.setenv(MIRROR_ENV, (tmp_path / "mirror").as_uri())

    report = files.new("synth")

    assert report.found.where == f"mirror {(tmp_path / 'mirror').as_uri()}/synth"
    assert _block(files.params, "synth")["files"]["test"]["name"] == "synth/test.csv"


def test_names_every_place_tried_when_nothing_has_the_files(tmp_path, files, monkeypatch):
    (tmp_path / "empty-mirror").mkdir()
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "empty-mirror"))
    make_competition(tmp_path / "two", sample_name="gender_submission.csv")
    shutil.copyfile(tmp_path / "two" / "gender_submission.csv", tmp_path / "two" / "my_submission.csv")
    params, dvc = files.params.read_bytes(), files.dvc.read_bytes()

    with pytest.raises(DownloadError) as caught:
        files.new("synth")

    message = str(caught.value)
    assert message.startswith("found no train.csv, test.csv and sample submission for competition 'synth'; tried:")
    assert f"mirror {tmp_path / 'empty-mirror' / 'synth'}: FileNotFoundError: no such folder" in message
    assert "Kaggle API competition 'synth': skipped, no Kaggle credentials" in message
    assert files.params.read_bytes() == params and files.dvc.read_bytes() == dvc

    # --from names the files: only that folder is read, and one line says what it lacks
    with pytest.raises(DownloadError) as caught:
        files.new("synth", source=str(tmp_path / "two"))
    assert str(caught.value) == (f"--from {tmp_path / 'two'}: no sample submission: no sample_submission.csv and 2 "
                                 "CSVs whose name contains 'submission' (gender_submission.csv, my_submission.csv); "
                                 "its files: gender_submission.csv, my_submission.csv, test.csv, train.csv")


def test_from_a_folder_without_a_sample_submission_says_so_in_one_line_and_never_asks_kaggle(tmp_path, files,
                                                                                           monkeypatch):
    folder = make_competition(tmp_path / "d")
    (folder / "sample_submission.csv").unlink()
    monkeypatch.setattr(kaggle_client, "has_credentials", lambda: True)  # credentials or not: --from is all
    monkeypatch.setattr(kaggle_client, "api", lambda: pytest.fail("the Kaggle API was asked"))

    with pytest.raises(DownloadError) as caught:
        files.new("synth", source=str(folder))
    assert str(caught.value) == (f"--from {folder}: no sample submission: no sample_submission.csv nor another CSV "
                                 "whose name contains 'submission'; its files: test.csv, train.csv")


def test_lists_the_files_of_a_folder_without_train_csv(tmp_path, files):
    folder = make_competition(tmp_path / "d")
    (folder / "train.csv").rename(folder / "training.csv")

    with pytest.raises(DownloadError, match=r"--from .*: no train.csv; its files: "
                                            r"sample_submission.csv, test.csv, training.csv"):
        files.new("synth", source=str(folder))


class FakeKaggle:
    """The two API calls `new` makes, answered from a folder, two files a page."""

    def __init__(self, folder: Path):
        self.names = sorted(p.name for p in folder.iterdir())

    def competition_list_files(self, competition, page_token=None, page_size=20):
        start = int(page_token or 0)
        token = str(start + 2) if start + 2 < len(self.names) else ""
        files = [types.SimpleNamespace(name=n) for n in self.names[start:start + 2]]
        return types.SimpleNamespace(files=files, next_page_token=token)


def test_from_the_kaggle_api_with_a_timeout_on_every_request(tmp_path, files, monkeypatch):
    folder = make_competition(tmp_path / "kaggle", sample_name="gender_submission.csv")
    (folder / "data_description.txt").write_text("columns\n")
    timed = []

    def download(competition, file_name, dest):
        timed.append(requests.Session.send is not original_send)
        shutil.copyfile(folder / file_name, dest)

    original_send = requests.Session.send
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setattr(kaggle_client, "has_credentials", lambda: True)
    monkeypatch.setattr(kaggle_client, "api", lambda: FakeKaggle(folder))
    monkeypatch.setattr(kaggle_client, "download_competition_file", download)

    report = files.new("synth")

    assert report.found.where == "Kaggle API competition 'synth'" and timed == [True, True, True]
    assert requests.Session.send is original_send
    assert _block(files.params, "synth")["files"]["sample_submission"]["kaggle_file"] == "gender_submission.csv"


def test_requests_without_a_timeout_get_one_while_kaggle_is_called(monkeypatch):
    seen = {}

    def send(self, request, **kwargs):
        seen.update(kwargs)
        raise requests.ConnectionError("offline")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    with kaggle_client.request_timeout(7), pytest.raises(requests.ConnectionError):
        requests.Session().get("http://kaggle.invalid/")
    assert seen["timeout"] == 7


# ---- what is written


def test_params_block_is_appended_as_text_in_the_layout_dvc_writes(tmp_path, files):
    # a short folder: the block's `source:` line holds its path, and pytest's tmp_path (longer
    # under pytest-xdist) would push that line past the width checked below
    short = Path(tempfile.mkdtemp(prefix="cn-", dir="/tmp"))
    try:
        _append_and_check_layout(tmp_path, files, make_competition(short / "d", kind="skewed_regression"))
    finally:
        shutil.rmtree(short, ignore_errors=True)


def _append_and_check_layout(tmp_path, files, folder):
    before = files.params.read_text()

    files.new("synth", source=str(folder))

    after = files.params.read_text()
    added = [line[1:] for line in changed_lines(before, after)]
    assert all(line.startswith("+") for line in changed_lines(before, after))  # nothing else changed
    assert after.replace("".join(line + "\n" for line in added), "", 1) == before  # one contiguous block
    assert list(yaml.safe_load(after)["competitions"])[-1] == "synth"
    assert all(len(line) <= 80 for line in added)  # 80: the sha256 lines; DVC keeps lines up to 80 as they are
    assert all(len(line) < 80 for line in added if "#" in line)
    # flow style only for an empty list, which DVC (ruamel) writes as [] too
    assert not [line for line in added if re.search(r"(:|^\s*-)\s+[\[{](?!\])", line)], "flow style"

    copy = tmp_path / "dvc-wrote.yaml"
    copy.write_text(after)
    apply_overrides(copy, ["competitions.synth.seed=42"])  # a no-op: DVC still re-dumps the whole file
    assert copy.read_text() == after
    apply_overrides(copy, ["competitions.synth.models.mlp.lr=0.01"])
    assert changed_lines(after, copy.read_text()) == ["-        lr: 0.003", "+        lr: 0.01"]


def test_stages_are_appended_at_the_end_of_dvc_yaml(tmp_path, files):
    folder = make_competition(tmp_path / "d")
    before = files.dvc.read_text()

    report = files.new("my-comp", source=str(folder))

    after = files.dvc.read_text()
    assert after == before + render("my-comp")
    stages = set(yaml.safe_load(after)["stages"])
    assert set(report.stages) <= stages and "my_comp_submission" in stages
    assert set(yaml.safe_load(before)["stages"]) < stages


def test_refuses_an_existing_key_before_looking_for_files(tmp_path, files):
    folder = make_competition(tmp_path / "d")
    files.new("synth", source=str(folder))
    params, dvc = files.params.read_bytes(), files.dvc.read_bytes()

    with pytest.raises(ParamError, match=r"params.yaml: competitions.synth already exists; remove it first, "
                                         r"or pass --name NEW_KEY$"):
        files.new("synth", source=str(tmp_path / "nowhere"))  # refused first, not "no files"

    assert files.params.read_bytes() == params and files.dvc.read_bytes() == dvc


def test_refuses_a_key_whose_stages_dvc_yaml_has(tmp_path, files):
    folder = make_competition(tmp_path / "d")

    with pytest.raises(DataError, match=r"dvc.yaml: already has stage\(s\) house_prices_blend, "
                                        r"house_prices_download, .*; remove them first, or pass --name NEW_KEY"):
        files.new("synth", source=str(folder), key="house_prices")  # params has house-prices: same stages


@pytest.mark.parametrize("text, expected", [
    ("a: 1\ncompetitions:\n  # comment\n  one:\n    x: 1\n\n# next\nb: 2\n",
     "a: 1\ncompetitions:\n  # comment\n  one:\n    x: 1\n\n  new:\n    y: 2\n\n# next\nb: 2\n"),
    ("competitions:\n  # none yet\n\nb: 2", "competitions:\n  # none yet\n  new:\n    y: 2\n\nb: 2\n"),
    ("a: 1\n", "a: 1\n\ncompetitions:\n  new:\n    y: 2\n"),
])
def test_the_block_goes_after_the_sections_last_entry(text, expected):
    assert starter.new_params_text(text, ["  new:", "    y: 2"]) == expected


def test_cli_prints_the_report(tmp_path, files, monkeypatch):
    folder = make_competition(tmp_path / "d")
    monkeypatch.setattr(starter, "new_competition", files.new)  # the copies, not the repo's files

    result = CliRunner().invoke(commands.app, ["new", "synth", "--from", str(folder), "--name", "synth2"])

    assert result.exit_code == 0, result.output
    assert "New competition 'synth2' (Kaggle: synth)" in result.output
    assert _block(files.params, "synth2")["kaggle"] == "synth"


# ---- end to end


@pytest.mark.slow
def test_new_then_dvc_repro_writes_a_submission_kaggle_accepts(repo_copy, tmp_path):
    folder = make_competition(tmp_path / "synth-data")
    root = repo_copy.path

    out = repo_copy.run("python", "cli.py", "competition", "new", "synth", "--from", str(folder)).stdout
    assert "task: multiclass" in out and "Next: dvc repro synth_submission" in out
    repo_copy.set_params(**{"competitions.synth.cv.folds": 3, "competitions.synth.models.lightgbm.n_estimators": 50,
                            "competitions.synth.models.mlp.epochs": 5})
    repo_copy.dvc("repro", "synth_submission")

    submission = pd.read_csv(root / "data" / "submissions" / "synth.csv")
    sample = pd.read_csv(folder / "sample_submission.csv")
    test, train = pd.read_csv(folder / "test.csv"), pd.read_csv(folder / "train.csv")
    assert list(submission.columns) == list(sample.columns)
    assert submission["row_id"].tolist() == sample["row_id"].tolist()
    assert sorted(submission["row_id"]) == sorted(test["row_id"])
    assert set(submission["rating"]) <= set(train["rating"])
    cv = json.loads((root / "metrics" / "synth" / "cv.json").read_text())
    assert cv["oof_accuracy"] > 0.5, cv  # 3 balanced classes: chance is 1/3, the target follows spend and region
