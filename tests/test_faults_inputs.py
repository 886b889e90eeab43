"""Damaged data, bad params, `generate` and `submit` misuse (docs/faults.md, cases 6 to 9): what
the older test modules leave out. Each fault must end in one `error:` line naming the file,
column or param, with nothing half-written."""

from __future__ import annotations

import dataclasses
import http.server
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from pipeline import REPO_ROOT, datasets
from pipeline.errors import DataError, DownloadError, ParamError
from pipeline.tabular import data
from pipeline.tabular.config import load_competition
from pipeline.params import PARAMS_FILE
from pipeline.rnn.corpus import Vocab, load_corpus
from pipeline.rnn.models import ModelSpec, make_model, save_model

TIMEMACHINE = datasets.DATASETS["timemachine"].files[0]
HOUSE = load_competition("house-prices")
TRAIN, TEST = HOUSE.files["train"].basename, HOUSE.files["test"].basename


# ---- case 6: damaged data

@pytest.fixture
def raw(mirror, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    for role in ("train", "test", "sample_submission"):
        shutil.copy(mirror / HOUSE.files[role].name, folder / HOUSE.files[role].basename)
    return folder


def _edit(path: Path, change) -> None:
    frame = pd.read_csv(path)
    change(frame)
    frame.to_csv(path, index=False)


def test_nan_price_and_duplicate_ids_name_the_file_and_column(raw):
    train = raw / TRAIN
    _edit(train, lambda f: f.__setitem__("SalePrice", f["SalePrice"].where(f["Id"] != 7)))
    with pytest.raises(DataError, match=r"kaggle_house_pred_train.csv: column SalePrice must be a positive.*Id \[7\]"):
        data.load(HOUSE, raw)
    shutil.copy(raw / TEST, raw / "test-copy.csv")
    (raw / TRAIN).unlink()
    shutil.copy(Path(os.environ["PIPELINE_DATA_MIRROR"]) / HOUSE.files["train"].name, raw / TRAIN)
    _edit(raw / TEST, lambda f: f.__setitem__("Id", f["Id"].where(f.index != 5, f["Id"][0])))
    with pytest.raises(DataError, match=r"kaggle_house_pred_test.csv: column Id has duplicate values"):
        data.load(HOUSE, raw)


def test_extra_columns_in_test_are_ignored_in_train_alone_are_named(raw):
    _edit(raw / TEST, lambda f: f.__setitem__("Comment", "x"))
    loaded = data.load(HOUSE, raw)
    assert "Comment" not in loaded.test.columns and loaded.notes == []
    _edit(raw / TRAIN, lambda f: f.__setitem__("PoolColour", "blue"))
    loaded = data.load(HOUSE, raw)  # not known at prediction time: left out of both, and named
    assert "PoolColour" not in loaded.train.columns and "PoolColour" not in loaded.test.columns
    assert [n for n in loaded.notes if "PoolColour" in n] == [
        ("PoolColour: in kaggle_house_pred_train.csv but not in kaggle_house_pred_test.csv: left out (not known at "
         "prediction time)")]


def test_empty_corpus_is_named(tmp_path):
    (tmp_path / "timemachine").mkdir()
    (tmp_path / "timemachine" / TIMEMACHINE.basename).write_text("\n  \n")
    with pytest.raises(DataError, match="timemachine.txt: the corpus is empty"):
        load_corpus("timemachine", tmp_path)


def test_truncated_gzip_on_the_mirror_is_a_checksum_failure_and_leaves_nothing(mirror, tmp_path):
    file = datasets.DATASETS["fashion-mnist"].files[-1]
    cut = tmp_path / "mirror" / file.name
    cut.parent.mkdir(parents=True)
    cut.write_bytes((mirror / file.name).read_bytes()[:-40])
    dataset = dataclasses.replace(datasets.DATASETS["fashion-mnist"], files=(dataclasses.replace(file, urls=()),))
    with pytest.raises(DownloadError, match="checksum mismatch"):
        datasets.fetch_file(dataset, dataset.files[0], tmp_path / "out", str(tmp_path / "mirror"))
    assert list((tmp_path / "out").iterdir()) == []


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_error(404)

    def log_message(self, *args):
        pass


def _offline(file):
    """`file` with no public URLs: only the mirror under test is tried."""
    return dataclasses.replace(datasets.DATASETS["timemachine"], files=(dataclasses.replace(file, urls=()),))


@pytest.mark.slow
def test_http_mirror_404_and_hang_are_bounded_named_and_leave_nothing(tmp_path, monkeypatch):
    dataset = _offline(TIMEMACHINE)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(DownloadError, match=f"mirror {base}/timemachine.txt: HTTPError: HTTP Error 404"):
            datasets.fetch_file(dataset, dataset.files[0], tmp_path / "out", base)
    finally:
        server.shutdown()
        server.server_close()
    monkeypatch.setattr(datasets, "HTTP_TIMEOUT", 2)
    with socket.socket() as silent:  # accepts and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        started = time.monotonic()
        with pytest.raises(DownloadError, match="timed out"):
            datasets.fetch_file(dataset, dataset.files[0], tmp_path / "out", f"http://127.0.0.1:{silent.getsockname()[1]}")
        assert time.monotonic() - started < 15
    assert list((tmp_path / "out").iterdir()) == []


# ---- case 7: bad params (more in test_house_inputs, test_house_training, test_regularization_params,
# test_rnn_train)

@pytest.mark.parametrize("key,value,message", [
    ("cv.folds", "five", r"competitions\.house-prices\.cv\.folds"),
    ("cv.fold", 5, r"unknown param\(s\) competitions\.house-prices\.cv\.fold"),
    ("models.mlp.lr", 0.0, r"'competitions\.house-prices\.models\.mlp\.lr' must be > 0"),
    ("models.mlp.lr", -0.1, r"'competitions\.house-prices\.models\.mlp\.lr' must be > 0"),
    ("models.mlp.epochs", 2.5, r"competitions\.house-prices\.models\.mlp\.epochs"),
    ("models.mlp.type", "perceptron", r"'competitions\.house-prices\.models\.mlp\.type' must be one of"),
])
def test_bad_house_params_name_the_param(tmp_path, key, value, message):
    """A model's own params are checked when a stage uses that model (its module, and library,
    load then); the block and each model's type when any of the competition's stages starts."""
    params = yaml.safe_load(PARAMS_FILE.read_text())
    node = params["competitions"]["house-prices"]
    *parents, leaf = key.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamError, match=message):
        load_competition("house-prices", tmp_path / "p.yaml").model("mlp")


# ---- case 9: `rnn generate`

def _cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "cli.py", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _one_line(result) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.slow
def test_generate_refuses_a_damaged_model_file_an_empty_prefix_and_no_length(tmp_path):
    damaged = tmp_path / "damaged.pt"
    vocab = Vocab(list("the time machine"))
    save_model(damaged, make_model(ModelSpec("gru", "concise", len(vocab), 4)), ModelSpec("gru", "concise", len(vocab), 4),
               vocab, "timemachine")
    good = tmp_path / "good.pt"
    shutil.copy(damaged, good)
    damaged.write_bytes(damaged.read_bytes()[:200])
    assert str(damaged) in _one_line(_cli("rnn", "generate", "--model", str(damaged), "--prefix", "the"))
    assert "--prefix must not be empty" in _one_line(_cli("rnn", "generate", "--model", str(good), "--prefix", ""))
    assert "--num-chars must be >= 1; got 0" in _one_line(
        _cli("rnn", "generate", "--model", str(good), "--prefix", "the", "--num-chars", "0"))
    assert torch.load(good, weights_only=True)["corpus"] == "timemachine"


# ---- case 8: `submit` with a fake token: refused, and the token is nowhere

def test_fake_kaggle_token_is_refused_and_appears_nowhere(repo_copy, tmp_path):
    from test_submit import _env, _write_inputs

    token = "KGAT_" + secrets.token_hex(16)  # made here, so no file of the repo holds it beforehand
    _write_inputs(repo_copy.path)
    env = _env(tmp_path, KAGGLE_API_TOKEN=token, KAGGLE_API_ENVIRONMENT="TEST")  # localhost:7777, nobody there
    result = subprocess.run([sys.executable, "cli.py", "submit", "--message", "fake"], cwd=repo_copy.path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in result.stderr
    assert token not in result.stdout + result.stderr
    store = Path(os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"))
    places = [store] if store.exists() else []
    places += [p for p in repo_copy.path.rglob("*") if p.is_file() and ".git" not in p.parts]
    assert not [p for p in places if token.encode() in p.read_bytes()]
