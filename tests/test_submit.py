"""`cli.py submit`: validation, freshness, messages, credentials, and a real upload with the official
`kaggle` client against a local stand-in for Kaggle's API (kagglesdk's TEST environment,
http://localhost:7777); plus the download stage's Kaggle source against the same stand-in."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import base_name

from pipeline.errors import DataError
from pipeline.tabular import upload as shipping
from pipeline.tabular.config import load_competition

HOUSE = load_competition("house-prices")

KAGGLE_TEST_PORT = 7777  # fixed by kagglesdk: KAGGLE_API_ENVIRONMENT=TEST -> http://localhost:7777
FAKE_USER, FAKE_KEY = "fake-user", "fake-key-0123456789abcdef"
SERVICE = "/api/v1/competitions.CompetitionApiService/"


def _write_inputs(root: Path, n: int = 20) -> shipping.Layout:
    """A sample submission, a valid submission, blend weights, one model file and the CV score under `root`.

    In a DVC project (a repo copy) the submission is then made by a stand-in `house_prices_submission`
    stage (`_stand_in_stage`), so dvc.lock records what made it, as after a real `dvc repro`."""
    layout = shipping.Layout.of(HOUSE, root)
    assert layout == shipping.Layout(  # House Prices' files, where its stages write them
        submission=root / "data" / "submission.csv",
        sample=root / "data" / "raw" / "house-prices" / "house_prices_sample_submission.csv",
        blend=root / "models" / "house-prices" / "blend.json", models=root / "models" / "house-prices",
        cv=root / "metrics" / "house-prices" / "cv.json",
        meta=root / "data" / "processed" / "house-prices" / "meta.json",
        metric="log_rmse", experiment="house-prices", root=root, stage="house_prices_submission")
    for path in (layout.submission, layout.sample, layout.blend, layout.cv, layout.meta):
        path.parent.mkdir(parents=True, exist_ok=True)
    ids = np.arange(1461, 1461 + n)
    pd.DataFrame({"Id": ids, "SalePrice": 169277.05}).to_csv(layout.sample, index=False)
    layout.meta.write_text(json.dumps({"id": "Id", "target": "SalePrice", "task": "regression", "classes": [],
                                       "target_transform": "log", "columns": [], "notes": []}))
    layout.blend.write_text(json.dumps({"models": ["elastic_net"], "weights": [1.0], "threshold": 0.5,
                                        "task": "regression", "target_transform": "log"}))
    (layout.models / "elastic_net.pkl").write_bytes(b"not really a model")
    layout.cv.write_text(json.dumps({"oof_log_rmse": 0.123456, "oof_log_rmse_without_outliers": 0.109876}))
    pd.DataFrame({"Id": ids, "SalePrice": np.linspace(90000, 250000, n)}).to_csv(layout.submission, index=False)
    if (root / ".dvc").is_dir():
        _stand_in_stage(root)
    return layout


# What the stand-in stage runs: prices from the sample's Ids and the model files' bytes, so a changed
# model changes the submission, as the real stage's would.
MAKE_SUBMISSION = """\
import json
from pathlib import Path

import numpy as np
import pandas as pd

models = Path("models/house-prices")
ids = pd.read_csv("data/raw/house-prices/house_prices_sample_submission.csv")["Id"]
size = sum(len((models / f"{name}.pkl").read_bytes()) for name in json.loads((models / "blend.json").read_text())["models"])
prices = np.linspace(90000, 250000, len(ids)) + size
pd.DataFrame({"Id": ids, "SalePrice": prices}).to_csv("data/submission.csv", index=False)
"""


def _stand_in_stage(root: Path) -> None:
    """Make `root` (git + DVC) a project whose only stage is a small `house_prices_submission`, and run it."""
    if not (root / ".git").is_dir():
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    if not (root / ".dvc").is_dir():
        subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)
    (root / "make_submission.py").write_text(MAKE_SUBMISSION)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"house_prices_submission": {
        "cmd": f"{sys.executable} make_submission.py",
        "deps": ["make_submission.py", "models/house-prices", "data/raw/house-prices"],
        "outs": ["data/submission.csv"]}}}))
    (root / "data" / "submission.csv").unlink(missing_ok=True)
    _dvc(root, "repro", "house_prices_submission")


def _dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], check=False, cwd=root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_plan_validates_and_builds_the_default_message(tmp_path):
    """What is checked before freshness (no DVC project needed): the file as Kaggle reads it."""
    layout = _write_inputs(tmp_path)
    assert "CV log-RMSE 0.12346 (0.10988 without outliers)" in shipping.default_message(layout)
    assert shipping.default_message(layout).startswith("git ")

    frame = pd.read_csv(layout.submission)
    frame.loc[3, "SalePrice"] = -1.0
    frame.to_csv(layout.submission, index=False)
    with pytest.raises(DataError, match="finite and positive"):
        shipping.plan(layout=layout)
    frame.drop(index=5).to_csv(layout.submission, index=False)
    with pytest.raises(DataError, match="1 missing"):
        shipping.plan(layout=layout)
    layout.submission.write_text("Id,Price\n1461,1\n")
    with pytest.raises(DataError, match="header must be exactly 'Id,SalePrice'"):
        shipping.plan(layout=layout)
    layout.submission.write_bytes(b"Id,SalePrice\n1461,1\xe9\n")  # Latin-1, not UTF-8
    with pytest.raises(DataError, match=r"submission.csv: not UTF-8 text \(byte 0xe9 on line 2\)"):
        shipping.plan(layout=layout)
    layout.blend.unlink()
    pd.DataFrame({"Id": np.arange(1461, 1481), "SalePrice": 1.0}).to_csv(layout.submission, index=False)
    with pytest.raises(DataError, match="blend.json: not found"):
        shipping.plan(layout=layout)


def _suggested(error: DataError | str) -> list[str]:
    """The command an error message tells the user to run (between backticks), as argv."""
    text = str(error)
    assert text.count("`") == 2, text
    return text.split("`")[1].split()


@pytest.mark.slow
def test_freshness_is_decided_by_content_as_dvc_decides_it(tmp_path):
    """File times play no part: a touched or re-checked-out model leaves the submission current; a
    changed model makes it stale, and the command the refusal names makes it current again."""
    root = tmp_path / "project"
    root.mkdir()
    layout = _write_inputs(root)
    _stand_in_stage(root)
    plan = shipping.plan(message="my run", layout=layout)
    assert plan.rows == 20 and plan.bytes == layout.submission.stat().st_size and plan.message == "my run"
    assert plan.competition == "house-prices-advanced-regression-techniques"
    assert plan.made_by == [str(layout.blend), str(layout.models / "elastic_net.pkl")]

    model = layout.models / "elastic_net.pkl"
    later = time.time() + 60
    os.utime(model, (later, later))  # newer than the submission, same bytes (a checkout, a skipped rebuild)
    assert shipping.plan(layout=layout).sha256 == plan.sha256

    model.write_bytes(b"a model trained on other params")
    with pytest.raises(DataError) as stale:
        shipping.plan(layout=layout)
    assert "house_prices_submission: dep models/house-prices modified" in str(stale.value)
    assert _suggested(stale.value) == ["dvc", "repro", "house_prices_submission"]
    _dvc(root, *_suggested(stale.value)[1:])
    assert shipping.plan(layout=layout).sha256 != plan.sha256  # made again, from the new model

    copy = tmp_path / "copy.csv"
    copy.write_bytes(layout.submission.read_bytes())
    assert shipping.plan(file=copy, layout=layout).file == str(copy)  # --file: the same bytes are the same submission
    copy.write_text(copy.read_text().replace("1461,", "1461,1", 1))
    with pytest.raises(DataError, match=r"copy.csv differs from .*submission.csv, the submission the pipeline made"):
        shipping.plan(file=copy, layout=layout)
    layout.submission.write_text(copy.read_text())  # edited by hand in place: DVC sees it too
    with pytest.raises(DataError, match=r"house_prices_submission: out data/submission.csv modified.*`dvc repro"):
        shipping.plan(layout=layout)


# ---- the CLI in a throw-away copy of the repo (its REPO_ROOT is the copy)


def _poisoned_kaggle(tmp_path: Path) -> Path:
    """A `kaggle` package that fails when imported: proves a command never imported the real one."""
    poison = tmp_path / "poison"
    for name in ("kaggle", "kagglesdk"):
        (poison / name).mkdir(parents=True)
        (poison / name / "__init__.py").write_text(f"raise ImportError('{name} was imported')\n")
    return poison


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No credentials anywhere the client looks, unless `extra` adds some; loopback only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), KAGGLE_CONFIG_DIR=str(tmp_path / "kaggle-config"), XDG_CONFIG_HOME=str(home / ".config"),
               NO_PROXY="localhost,127.0.0.1", no_proxy="localhost,127.0.0.1")
    env.pop("VERBOSE", None)
    env.update(extra)
    return env


def _cli(repo, env, *args, timeout=300):
    return subprocess.run([sys.executable, "cli.py", *args], check=False, cwd=repo.path, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_dry_run_and_missing_credentials_work_without_importing_kaggle(repo_copy, tmp_path):
    _write_inputs(repo_copy.path)
    env = _env(tmp_path, PYTHONPATH=str(_poisoned_kaggle(tmp_path)))

    dry = _cli(repo_copy, env, "submit", "--dry-run", "--message", "lr sweep best")
    assert dry.returncode == 0, dry.stderr
    shown = dict(line.split(": ", 1) for line in dry.stdout.splitlines() if ": " in line)
    assert shown["message"] == "lr sweep best" and shown["rows"] == "20"
    assert shown["credentials"].startswith("none found") and "dry run: nothing sent" in dry.stdout
    assert shown["file"] == "data/submission.csv"  # relative to where the user is
    assert max(map(len, dry.stdout.splitlines())) <= 100  # the help on credentials folds to the width
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in " ".join(dry.stdout.split())

    default = _cli(repo_copy, env, "submit", "--dry-run")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], check=True, cwd=repo_copy.path, capture_output=True, text=True).stdout
    assert f"message: git {commit[:10]}" in default.stdout and "CV log-RMSE 0.12346" in default.stdout

    missing = _cli(repo_copy, env, "submit")
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert missing.stderr.startswith("error: no Kaggle credentials found: put your API token in ~/.kaggle/kaggle.json")
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in missing.stderr and "was imported" not in missing.stderr

    os.utime(repo_copy.path / "models" / "house-prices" / "blend.json")  # a newer file time alone changes nothing
    assert _cli(repo_copy, env, "submit", "--dry-run").returncode == 0
    (repo_copy.path / "models" / "house-prices" / "elastic_net.pkl").write_bytes(b"retrained")
    stale = _cli(repo_copy, env, "submit", "--dry-run")
    assert stale.returncode == 2 and stale.stderr.startswith("error: ") and len(stale.stderr.splitlines()) == 1
    assert "was not made by the current models" in stale.stderr
    assert "`dvc repro house_prices_submission`" in stale.stderr


TINY = {"competitions.house-prices.blend.models": ["svr"], "competitions.house-prices.cv.folds": 2}


@pytest.mark.slow
def test_a_real_submission_stays_current_through_checkout_and_touch_and_the_fix_it_names_works(repo_copy, tmp_path,
                                                                                               mirror):
    """The real pipeline: `rm models/*.pkl && dvc checkout` or `touch` leave the submission current
    (DVC would rebuild nothing); a changed model param makes it stale, and the command the refusal
    names makes it current again."""
    repo_copy.set_params(**TINY)
    repo_copy.dvc("repro", "house_prices_submission")
    env = _env(tmp_path)
    assert _cli(repo_copy, env, "submit", "--dry-run").returncode == 0

    models = sorted((repo_copy.path / "models" / "house-prices").glob("*.pkl"))
    assert [m.name for m in models] == ["svr.pkl"]
    for model in models:
        model.unlink()
    repo_copy.dvc("checkout", "house_prices_submission", "--with-deps")  # back from DVC's cache, new file times
    checked_out = _cli(repo_copy, env, "submit", "--dry-run")
    assert checked_out.returncode == 0, checked_out.stderr
    for model in models:
        os.utime(model)
    assert _cli(repo_copy, env, "submit", "--dry-run").returncode == 0
    assert "Running stage" not in repo_copy.dvc("repro", "house_prices_submission").stdout  # DVC agrees: nothing to do

    repo_copy.set_params(**{"competitions.house-prices.models.svr.C": 30.0})
    stale = _cli(repo_copy, env, "submit", "--dry-run")
    assert stale.returncode == 2 and len(stale.stderr.splitlines()) == 1, stale.stderr
    assert "house_prices_train@svr: param competitions.house-prices.models.svr modified" in stale.stderr
    command = _suggested(stale.stderr)
    assert command[0] == "dvc"
    assert "Running stage 'house_prices_train@svr'" in repo_copy.dvc(*command[1:]).stdout
    fixed = _cli(repo_copy, env, "submit", "--dry-run")
    assert fixed.returncode == 0 and "dry run: nothing sent" in fixed.stdout, fixed.stderr


@pytest.mark.slow
def test_titanic_submits_its_own_file_and_labels_are_checked(repo_copy, tmp_path, mirror):
    """`submit titanic`: its submission, its Kaggle slug and metric; a label Kaggle would reject
    (the sample holds 0/1) is refused in one line naming the labels."""
    repo_copy.set_params(**{"competitions.titanic.blend.models": ["lightgbm"], "competitions.titanic.cv.folds": 2})
    repo_copy.dvc("repro", "titanic_submission")
    env = _env(tmp_path)
    dry = _cli(repo_copy, env, "submit", "titanic", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    shown = dict(line.split(": ", 1) for line in dry.stdout.splitlines() if ": " in line)
    assert shown["competition"] == "titanic" and shown["rows"] == "418"
    assert shown["file"].endswith("data/submissions/titanic.csv") and "CV accuracy 0.8" in shown["message"]

    submission = repo_copy.path / "data" / "submissions" / "titanic.csv"
    other = tmp_path / "edited.csv"
    frame = pd.read_csv(submission)
    frame.loc[0, "Survived"] = 2
    frame.to_csv(other, index=False)
    refused = _cli(repo_copy, env, "submit", "titanic", "--dry-run", "--file", str(other))
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "column Survived must hold training labels (0, 1)" in refused.stderr


# ---- the stand-in for Kaggle's API


class _KaggleStandIn(BaseHTTPRequestHandler):
    """Just enough of Kaggle's API for `competition_submit` and `competition_download_file`."""

    server_version = "KaggleStandIn/1"
    calls: list[dict]
    uploads: dict[str, bytes]
    files: dict[str, bytes]

    def log_message(self, *args):  # quiet
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: bytes = b"", content_type: str = "application/json", **headers):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _record(self, body: bytes) -> None:
        self.calls.append({"method": self.command, "path": self.path, "body": body,
                           "authorization": self.headers.get("Authorization", "")})

    def do_POST(self):
        body = self._body()
        self._record(body)
        request = json.loads(body or b"{}")
        if self.path == SERVICE + "StartSubmissionUpload":
            token = f"blob-token-{len(self.uploads) + 1}"
            answer = {"token": token, "createUrl": f"http://localhost:{KAGGLE_TEST_PORT}/upload/{token}"}
            self._reply(200, json.dumps(answer).encode())
        elif self.path == SERVICE + "CreateSubmission":
            if request.get("blobFileTokens") not in self.uploads:
                self._reply(400, json.dumps({"code": 400, "message": "unknown blob token"}).encode())
            else:
                self._reply(200, json.dumps({"message": "Successfully submitted to House Prices", "ref": 4242}).encode())
        elif self.path == SERVICE + "DownloadDataFile" and request.get("fileName") in self.files:
            self._reply(302, b"", Location=f"http://localhost:{KAGGLE_TEST_PORT}/files/{request['fileName']}")
        else:
            self._reply(404, json.dumps({"code": 404, "message": f"no such endpoint {self.path}"}).encode())

    def do_PUT(self):
        body = self._body()
        self._record(body)
        token = self.path.rsplit("/", 1)[-1]
        self.uploads[token] = body
        self._reply(200, b"{}")

    def do_GET(self):
        self._record(b"")
        name = self.path.split("?")[0].rsplit("/", 1)[-1]
        if self.path.startswith("/files/") and name in self.files:
            self._reply(200, self.files[name], content_type="text/csv")
        else:
            self._reply(404, b"{}")


@pytest.fixture
def kaggle_api():
    """The stand-in on 127.0.0.1:7777 (the port kagglesdk's TEST environment is fixed to); skip if busy."""
    handler = type("Handler", (_KaggleStandIn,), {"calls": [], "uploads": {}, "files": {}})
    try:
        server = ThreadingHTTPServer(("127.0.0.1", KAGGLE_TEST_PORT), handler)
    except OSError as exc:
        pytest.skip(f"port {KAGGLE_TEST_PORT} on 127.0.0.1 is busy ({exc}); kagglesdk's TEST environment "
                    "(KAGGLE_API_ENVIRONMENT=TEST) always points at http://localhost:7777")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _kaggle_json(tmp_path: Path) -> Path:
    config = tmp_path / "kaggle-config"
    config.mkdir(exist_ok=True)
    (config / "kaggle.json").write_text(json.dumps({"username": FAKE_USER, "key": FAKE_KEY}))
    (config / "kaggle.json").chmod(0o600)
    return config


@pytest.mark.slow
def test_submit_uploads_the_exact_bytes_and_message_with_the_official_client(repo_copy, tmp_path, kaggle_api):
    layout = _write_inputs(repo_copy.path)
    _kaggle_json(tmp_path)
    env = _env(tmp_path, KAGGLE_API_ENVIRONMENT="TEST")

    done = _cli(repo_copy, env, "submit", "--message", "blend of elastic_net; lr 0.05")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Successfully submitted to House Prices" in done.stdout and "ref 4242" in done.stdout

    paths = [c["path"] for c in kaggle_api.calls]
    assert paths == [SERVICE + "StartSubmissionUpload", "/upload/blob-token-1", SERVICE + "CreateSubmission"]
    start, put, create = kaggle_api.calls
    sent = layout.submission.read_bytes()
    assert put["method"] == "PUT" and put["body"] == sent  # the file's exact bytes
    started = json.loads(start["body"])
    assert started == {"competitionName": "house-prices-advanced-regression-techniques",
                       "fileName": "submission.csv", "contentLength": len(sent),
                       "lastModifiedEpochSeconds": int(layout.submission.stat().st_mtime)}
    created = json.loads(create["body"])
    assert created["submissionDescription"] == "blend of elastic_net; lr 0.05"
    assert created["blobFileTokens"] == "blob-token-1"
    basic = "Basic " + base64.b64encode(f"{FAKE_USER}:{FAKE_KEY}".encode()).decode()
    assert start["authorization"] == basic == create["authorization"]  # the kaggle.json credentials, as Kaggle gets them

    # The credentials are never printed or logged.
    assert FAKE_KEY not in done.stdout + done.stderr
    import mlflow

    client = mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("house-prices")
    runs = client.search_runs([experiment.experiment_id])
    assert [base_name(r) for r in runs] == ["kaggle-submit"]
    run = runs[0]
    assert run.data.tags["stage"] == "submit" and run.data.tags["kaggle_ref"] == "4242"
    assert run.data.params["message"] == "blend of elastic_net; lr 0.05"
    assert run.data.params["sha256"] == shipping.sha256(layout.submission)
    logged = json.dumps([run.data.params, run.data.tags, run.data.metrics])
    assert FAKE_KEY not in logged and FAKE_USER not in logged


def test_download_reads_a_competition_file_through_the_kaggle_api(tmp_path, kaggle_api, mirror):
    """The download stage's third source (the Kaggle API) against the stand-in, checksum-verified."""
    sample = (mirror / HOUSE.files["sample_submission"].name).read_bytes()
    kaggle_api.files["sample_submission.csv"] = sample
    dest = tmp_path / "raw"
    env = _env(tmp_path, KAGGLE_API_ENVIRONMENT="TEST", KAGGLE_USERNAME=FAKE_USER, KAGGLE_KEY=FAKE_KEY)
    env.pop("PIPELINE_DATA_MIRROR", None)
    code = ("import sys; from pathlib import Path; from pipeline import datasets\n"
            "house = datasets.find('house-prices')  # the competition's block in params.yaml\n"
            "file = next(f for f in house.files if f.kaggle_file == 'sample_submission.csv')\n"
            "assert not file.urls  # the Kaggle API is this file's only source besides a mirror\n"
            "print(datasets.fetch_file(house, file, Path(sys.argv[1])))\n")
    done = subprocess.run([sys.executable, "-c", code, str(dest)], check=False, cwd=Path(__file__).parent.parent, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (dest / "house_prices_sample_submission.csv").read_bytes() == sample
    assert [c["path"] for c in kaggle_api.calls] == [SERVICE + "DownloadDataFile", "/files/sample_submission.csv"]
    assert json.loads(kaggle_api.calls[0]["body"])["competitionName"] == "house-prices-advanced-regression-techniques"
    assert FAKE_KEY not in done.stdout + done.stderr


def test_credential_places_follow_the_client(tmp_path, monkeypatch):
    from pipeline import kaggle_client

    for name in [k for k in os.environ if k.startswith("KAGGLE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "config"))
    assert kaggle_client.credential_source() is None and not kaggle_client.has_credentials()
    _kaggle_json(tmp_path)
    (tmp_path / "kaggle-config").rename(tmp_path / "config")
    assert kaggle_client.credential_source() == str(tmp_path / "config" / "kaggle.json")
    monkeypatch.setenv("KAGGLE_USERNAME", FAKE_USER)
    monkeypatch.setenv("KAGGLE_KEY", FAKE_KEY)
    assert kaggle_client.credential_source() == "the KAGGLE_USERNAME and KAGGLE_KEY environment variables"
    (tmp_path / ".kaggle").mkdir()
    (tmp_path / ".kaggle" / "access_token").write_text("token")
    assert kaggle_client.credential_source() == str(tmp_path / ".kaggle" / "access_token")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "token")
    assert kaggle_client.credential_source() == "the KAGGLE_API_TOKEN environment variable"
    assert FAKE_KEY not in str(kaggle_client.credential_source())

