"""Verified downloads: mirror as folder or file:// URL, checksum failures, clear errors, no partial files."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios

import pytest
from helpers import free_port

from pipeline import REPO_ROOT, datasets
from pipeline.errors import DownloadError


def test_downloads_from_mirror_folder_and_file_url(mirror, tmp_path):
    paths = datasets.download("house-prices", tmp_path / "a", str(mirror))  # a competition block of params.yaml
    assert [p.name for p in paths] == [f.basename for f in datasets.find("house-prices").files] == [
        "kaggle_house_pred_train.csv", "kaggle_house_pred_test.csv", "house_prices_sample_submission.csv",
        "house_prices_data_description.txt"]
    assert all(p.parent == tmp_path / "a" / "house-prices" for p in paths)
    titanic = datasets.download("titanic", tmp_path / "a", str(mirror))  # files in a mirror's subfolder
    assert [p.name for p in titanic] == ["train.csv", "test.csv", "gender_submission.csv"]
    assert titanic[0].read_bytes() == (mirror / "titanic" / "train.csv").read_bytes()
    again = datasets.download("timemachine", tmp_path / "b", mirror.as_uri())
    assert again[0].read_bytes() == (mirror / "timemachine.txt").read_bytes()


def test_gz_verified_by_decompressed_payload(mirror, tmp_path):
    # The mirror re-gzipped the Fashion-MNIST images: their .gz bytes differ from the
    # originals, yet the payload verifies; a gzip of other bytes does not.
    fake = tmp_path / "fake" / "fashion-mnist"
    fake.mkdir(parents=True)
    for file in datasets.DATASETS["fashion-mnist"].files:
        shutil.copy(mirror / file.name, fake / file.basename)
    with gzip.open(fake / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(b"not the labels")
    out = tmp_path / "out"
    with pytest.raises(DownloadError) as err:
        datasets.download("fashion-mnist", out, str(tmp_path / "fake"))
    assert "t10k-labels-idx1-ubyte.gz" in str(err.value)
    assert "checksum mismatch" in str(err.value)
    good = out / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    with gzip.open(good) as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == datasets.DATASETS["fashion-mnist"].files[0].sha256
    assert not (out / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not [p for p in (out / "fashion-mnist").iterdir() if p.name.startswith(".")]


def test_checksum_mismatch_names_every_source_and_leaves_nothing(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "timemachine.txt").write_text("not the book")
    with pytest.raises(DownloadError) as err:
        datasets.download("timemachine", tmp_path / "out", str(bad))
    message = str(err.value)
    assert f"mirror {bad / 'timemachine.txt'}: checksum mismatch" in message
    assert datasets.D2L_HUB + "timemachine.txt" in message
    assert list((tmp_path / "out" / "timemachine").iterdir()) == []


def test_missing_mirror_file_and_unknown_dataset(tmp_path):
    with pytest.raises(DownloadError, match="no such file"):
        datasets.download("timemachine", tmp_path, str(tmp_path / "empty"))
    with pytest.raises(DownloadError, match="unknown dataset 'nope'; known: .*house-prices.*timemachine.*titanic"):
        datasets.download("nope", tmp_path)


def test_kaggle_source_listed_without_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(DownloadError) as err:
        datasets.download("house-prices", tmp_path / "out", str(tmp_path / "empty"))
    assert "Kaggle API competition 'house-prices-advanced-regression-techniques' file 'train.csv'" in str(err.value)
    assert "no Kaggle credentials" in str(err.value)


def test_existing_verified_file_is_kept(mirror, tmp_path):
    first = datasets.download("timemachine", tmp_path, str(mirror))[0]
    stamp = first.stat().st_mtime_ns
    datasets.download("timemachine", tmp_path, str(tmp_path / "no-mirror-needed"))
    assert first.stat().st_mtime_ns == stamp


def test_no_progress_bar_when_stderr_is_not_a_terminal(mirror, tmp_path, capsys):
    datasets.download("timemachine", tmp_path, str(mirror))
    assert capsys.readouterr().err == ""  # a log file gets no bar (tqdm draws only on a terminal)


def _failing_download(tmp_path) -> tuple[list[str], dict]:
    """`cli.py download timemachine` with an empty mirror and every public host unreachable (a
    proxy on a closed port): it fails after trying each source, fast, online or not."""
    closed = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "pipeline_data_mirror")}
    env.update(http_proxy=closed, https_proxy=closed, HTTP_PROXY=closed, HTTPS_PROXY=closed)
    (tmp_path / "empty").mkdir()
    argv = [sys.executable, "cli.py", "download", "timemachine", "--mirror", str(tmp_path / "empty"),
            "--dest", str(tmp_path / "raw")]
    return argv, env


def test_a_failed_download_prints_its_error_alone_in_a_log_file_and_on_a_terminal(tmp_path):
    argv, env = _failing_download(tmp_path)
    with (tmp_path / "stderr.log").open("w") as log:
        done = subprocess.run(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, timeout=120,
                              check=False)
    text = (tmp_path / "stderr.log").read_text()
    assert done.returncode == 2
    assert text.startswith("error: could not download timemachine.txt") and "\r" not in text and "file/s" not in text

    # On a terminal (a pty 100 columns wide) the bar is drawn, then cleared before the error
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(argv, cwd=REPO_ROOT, env={**env, "COLUMNS": "100"}, stdout=child, stderr=child)
    os.close(child)
    screen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the pty closes when the process exits
            break
        if not chunk:
            break
        screen += chunk
    os.close(main)
    assert process.wait(timeout=120) == 2
    shown = screen.decode(errors="replace")
    assert "download timemachine:" in shown  # the bar was on the terminal...
    error_line = next(line for line in shown.split("\n") if "error:" in line)
    # ...and what is left on the error's line after the bar's carriage returns is the error alone
    assert error_line.rstrip("\r").split("\r")[-1].startswith("error: could not download timemachine.txt"), shown
