"""Nobody else's code runs as you, and nobody else reaches your runs (issue 23, items 1-3;
docs/faults.md, case 20): the user's private folder (pipeline/private.py) holds every path the
project makes outside the repo, and `cli.py ui` answers its own user only.

The other-user cases run as `nobody` through `runuser` (root only); elsewhere they skip and say
why. Each test failed on the code before: the UI's plugin folder was `$TMPDIR/pipeline-mlflow-ui-<uid>`
(never checked, first on the server's PYTHONPATH), its log was opened through links, the store's
creation lock was `$TMPDIR/mlflow-store-<hash>.lock` (waited on forever) and the server answered
every local user.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import free_port, stop_ui
from sandbox import copy_repo

from pipeline import REPO_ROOT, private, ui
from pipeline.errors import PipelineError

RUNUSER = shutil.which("runuser")
CURL = shutil.which("curl")


def _nobody() -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _as_nobody_or_skip() -> list[str]:
    """`runuser -u nobody --`: another real local user (needs root, runuser and a `nobody` user)."""
    if os.geteuid() != 0:
        pytest.skip("another local user needs root (runuser -u nobody); running as uid %d" % os.geteuid())
    if RUNUSER is None or _nobody() is None:
        pytest.skip("no runuser or no `nobody` user: cannot act as another local user")
    return [RUNUSER, "-u", "nobody", "--"]


@pytest.fixture
def shared_tmp(monkeypatch):
    """A TMPDIR that every user may write, as /tmp is (mode 1777), for this process and its children."""
    folder = Path(tempfile.mkdtemp(prefix="t23-", dir="/tmp"))
    folder.chmod(0o1777)
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def own_tmp(monkeypatch):
    """A short TMPDIR of this user's (pytest's tmp_path may be too long: the folder would go to /tmp)."""
    folder = Path(tempfile.mkdtemp(prefix="t23-", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A throw-away copy of the repo: `cli.py ui` there serves its own mlartifacts/, not ours."""
    return copy_repo(tmp_path_factory.mktemp("faults-private") / "repo")


def _ui(repo, port: int, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "cli.py", "ui", "--port", str(port)], cwd=repo.path,
                            env={**os.environ, **env}, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _finish(process: subprocess.Popen, timeout: float) -> tuple[int | None, str, str]:
    """Its exit code, stdout and stderr; None if it was still running after `timeout` s (then stopped)."""
    try:
        out, err = process.communicate(timeout=timeout)
        return process.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        return None, out, err


def _one_error_line(code, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert "Traceback" not in err
    return lines[0]


# ---- item 1: the UI's plugin folder and log


def test_a_folder_another_user_made_first_is_refused_and_their_sitecustomize_never_runs(repo, shared_tmp, tmp_path):
    nobody = _as_nobody_or_skip()
    me = os.geteuid()
    pwned, victim = shared_tmp / "pwned", tmp_path / "precious.txt"
    victim.write_text("mine\n")
    port = free_port()
    plant = f"import os; open({str(pwned)!r}, 'a').write(str(os.getuid()))"
    # the recipe, at the old name and at the new one: a folder of nobody's, its code, a link to a file of ours
    for name in (f"pipeline-mlflow-ui-{me}", f"pipeline-{me}"):
        folder = shared_tmp / name
        script = (f"mkdir -m 777 {folder} && printf %s {json.dumps(plant)} > {folder}/sitecustomize.py "
                  f"&& ln -s {victim} {folder}/mlflow-ui-{port}.log")
        subprocess.run([*nobody, "sh", "-c", script], check=True, cwd="/")
        assert folder.stat().st_uid == _nobody()[0]
    code, out, err = _finish(_ui(repo, port), timeout=120)
    assert not pwned.exists(), f"their sitecustomize.py ran as uid {pwned.read_text()}"
    assert victim.read_text() == "mine\n" and out == ""  # nothing written through their link, no URL
    line = _one_error_line(code, err)
    assert line.startswith(f"error: {shared_tmp}/pipeline-{me} belongs to uid {_nobody()[0]}, not to you (uid {me});")
    assert "set TMPDIR to a folder of your own" in line and len(line) < 300
    assert ui.port_is_free(port)


def test_a_symlink_at_the_ui_log_is_refused_and_its_target_left_alone(repo, own_tmp, tmp_path):
    port = free_port()
    victim = tmp_path / "precious.txt"
    victim.write_text("mine\n")
    log = ui.log_path(port)
    log.symlink_to(victim)  # a link in the folder the log is written to
    code, out, err = _finish(_ui(repo, port), timeout=120)
    assert victim.read_text() == "mine\n" and log.is_symlink()  # not written through the link
    line = _one_error_line(code, err)
    assert line == f"error: {log} is a symbolic link: refusing to open it through the link; remove it"


def test_the_private_folder_is_checked_on_every_use(own_tmp):
    tmp_path = own_tmp
    folder = private.folder()
    assert folder == tmp_path / f"pipeline-{os.geteuid()}" and folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o755)  # readable by others: refused, though ours
    with pytest.raises(PipelineError, match=f"^{folder} has mode 0755: other users may enter it; "):
        ui.plugin_path()
    folder.chmod(0o700)
    (folder / "mlflow-ui").mkdir(mode=0o777)
    (folder / "mlflow-ui").chmod(0o777)  # the folder that goes on PYTHONPATH: checked alike
    with pytest.raises(PipelineError, match="mlflow-ui has mode 0777"):
        ui.plugin_path()
    (folder / "mlflow-ui").chmod(0o700)
    assert ui.plugin_path() == folder / "mlflow-ui"
    shutil.rmtree(folder)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    folder.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PipelineError, match="is not a folder but a symbolic link"):
        ui.log_path(5000)
    folder.unlink()
    tmp_path.chmod(0o777)  # a parent anyone may write, without the sticky bit: ours could be swapped
    try:
        with pytest.raises(PipelineError, match="which others may write and which has no sticky bit"):
            private.folder()
    finally:
        tmp_path.chmod(0o700)


# ---- item 3: the store's creation lock


HOLD = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(300)")
OPEN_STORE = ("import sys; from pipeline.tracking.store import MlflowStore; MlflowStore(sys.argv[1]).client(); "
              "print('opened')")


def _hold(path: Path, *prefix: str) -> subprocess.Popen:
    python = "/usr/bin/python3" if prefix else sys.executable  # nobody cannot run a Python under /root
    holder = subprocess.Popen([*prefix, python, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True, cwd="/")
    assert holder.stdout.readline() == "held\n"
    return holder


def test_a_lock_at_the_old_shared_name_held_by_another_user_stalls_nothing(shared_tmp, tmp_path):
    """Before: `$TMPDIR/mlflow-store-<hash>.lock`, a name anyone can compute, waited on forever."""
    prefix = _as_nobody_or_skip() if os.geteuid() == 0 and RUNUSER else []  # elsewhere: held by us, same effect
    if prefix and not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3 for the user nobody")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    old = shared_tmp / f"mlflow-store-{hashlib.sha1(uri.encode()).hexdigest()[:16]}.lock"
    holder = _hold(old, *prefix)
    try:
        started = time.monotonic()
        try:
            opened = subprocess.run([sys.executable, "-c", OPEN_STORE, uri], cwd=REPO_ROOT, capture_output=True,
                                    text=True, timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail(f"opening the store waited {time.monotonic() - started:.0f} s on {old}")
        assert opened.returncode == 0 and opened.stdout == "opened\n", opened.stderr
    finally:
        holder.kill()
        holder.wait()
    assert sorted(p.name for p in shared_tmp.iterdir()) == sorted([old.name, f"pipeline-{os.geteuid()}"])


@pytest.fixture(scope="module")
def rnn_repo(repo):
    """The repo copy with the Time Machine downloaded and a tiny RNN (test_faults_tracking.py's stage)."""
    if not os.environ.get("PIPELINE_DATA_MIRROR"):
        pytest.skip("no dataset mirror")
    repo.set_params(**{"rnn.train.hidden": 8, "rnn.train.batch_size": 2, "rnn.train.num_steps": 4,
                       "rnn.train.epochs": 1, "rnn.train.num_chars": 3, "rnn.train.device": "cpu",
                       "rnn.corpora.timemachine.max_tokens": 200})
    repo.run("python", "cli.py", "download", "timemachine")
    return repo


@pytest.mark.slow
@pytest.mark.parametrize("service, limit", [("0", 3), ("1", 20)], ids=["in-process", "tracking-service"])
def test_a_held_creation_lock_is_a_bounded_wait_naming_the_lock_and_its_holder(rnn_repo, own_tmp, tmp_path,
                                                                              service, limit):
    """Before: the stage hung forever (PIPELINE_TRACKING_SERVICE=0), or failed after 33 s blaming the
    tracking service's start."""
    from pipeline.tracking.store import creation_lock_path

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lock = creation_lock_path(uri)
    holder = _hold(lock)
    try:
        started = time.monotonic()
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PIPELINE_TRACKING_SERVICE": service,
               "PIPELINE_TRACKING_TIMEOUT": str(limit)}
        result = subprocess.run([sys.executable, "cli.py", "rnn", "train", "tm-gru-concise"], cwd=rnn_repo.path,
                                env=env, capture_output=True, text=True, timeout=240)
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert errors[0].startswith(f"error: MLflow store {uri}: its creation lock {lock} has been held for over ")
    assert f"by pid {holder.pid} (" in errors[0] and "PIPELINE_TRACKING_TIMEOUT" in errors[0]
    assert "tracking service" not in errors[0]  # the lock is named, not the service's start
    assert took < limit + 60, took


# ---- item 2: the UI answers its own user only


def _status(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/").stdout.strip()


def _server_environment(token: str) -> dict[str, str]:
    """The environment of the mlflow server process that holds `token` (root reads any /proc/<pid>/environ)."""
    for entry in Path("/proc").iterdir():
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"{ui.TOKEN_VARIABLE}={token}".encode() in raw.split(b"\0"):
            return dict(item.decode(errors="replace").split("=", 1) for item in raw.split(b"\0") if b"=" in item)
    raise AssertionError("no server process holds the token")


@pytest.mark.slow
def test_another_local_user_gets_403_on_pages_the_api_and_uploads_and_the_printed_url_works(repo):
    nobody = _as_nobody_or_skip()
    if CURL is None:
        pytest.skip("no curl to send another user's requests")
    port = free_port()
    process = _ui(repo, port)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        base, deadline, line = f"http://127.0.0.1:{port}", time.monotonic() + 240, ""
        while base not in line:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        url = line[line.index(base):].split()[0]
        token = url.split("?token=")[1].split("#")[0] if "?token=" in url else ""
        upload = f"{base}/api/2.0/mlflow-artifacts/artifacts/0/planted/pwned.txt"
        asked = {
            "page": [CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/"],
            "page, wrong token": [CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/?token=guess"],
            "static file": [CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/static-files/favicon.svg"],
            "api: create an experiment": [
                CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                "Content-Type: application/json", "-d", '{"name": "planted-by-nobody"}',
                f"{base}/api/2.0/mlflow/experiments/create"],
            "ajax api: list experiments": [CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                           f"{base}/ajax-api/2.0/mlflow/experiments/search?max_results=5"],
            "artifact upload": [CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                                "--data-binary", "pwned", upload],
        }
        got = {what: _status([*nobody, *argv]) for what, argv in asked.items()}
        assert got == dict.fromkeys(asked, "403"), got
        assert url.startswith(f"{base}/?token=") and len(url) <= 100 and ui.saved_token(port) == token
        planted = list((repo.path / "mlartifacts").rglob("pwned.txt")) if (repo.path / "mlartifacts").exists() else []
        assert planted == []
        # the printed URL works: the page, then its API calls with the cookie the page set
        with urllib.request.urlopen(url.split("#")[0], timeout=60) as page:
            assert b'<div id="root"' in page.read()
            cookie = page.headers["Set-Cookie"].split(";")[0]
        request = urllib.request.Request(f"{base}/ajax-api/2.0/mlflow/experiments/search?max_results=50",
                                         headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=60) as answer:
            names = {e["name"] for e in json.loads(answer.read())["experiments"]}
        assert "planted-by-nobody" not in names
        # ... and the same upload with the token lands: the 403s above were the gate, not a wrong path
        mine = urllib.request.Request(upload.replace("pwned", "mine"), data=b"mine", method="PUT",
                                      headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(mine, timeout=60) as answer:
            assert answer.status == 200
        assert (repo.path / "mlartifacts" / "0" / "planted" / "mine.txt").read_bytes() == b"mine"
        with pytest.raises(urllib.error.HTTPError, match="403"):  # and we, without it, are refused too
            urllib.request.urlopen(f"{base}/ajax-api/2.0/mlflow/experiments/search", timeout=60)
        # no folder another user may create or write is on the server's PYTHONPATH
        for entry in filter(None, _server_environment(token)["PYTHONPATH"].split(os.pathsep)):
            info = os.lstat(entry)
            assert info.st_uid == os.geteuid() and not info.st_mode & 0o022, entry
    finally:
        stop_ui(process, port)
    assert ui.saved_token(port) is None  # gone with the server
