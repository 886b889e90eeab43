"""Checksum-verified downloads of every dataset the pipelines use.

Sources are tried in order: a competition's own `source` folder (when its block names one), a
mirror (a folder, `file://` or `http(s)://` base set by the `PIPELINE_DATA_MIRROR` environment
variable or the `data.mirror` param), the public URLs, then the Kaggle API for competition
files when credentials exist. The course's data sets are registered below; a Kaggle
competition's files are registered by its block under `competitions:` in params.yaml. Whatever the source, the
payload's SHA-256 must match the registry below (for `.gz` files the decompressed payload,
so re-compressed mirrors are accepted). A file lands in its destination only once verified.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from pipeline import REPO_ROOT
from pipeline.errors import DownloadError

MIRROR_ENV = "PIPELINE_DATA_MIRROR"
HTTP_TIMEOUT = 30  # seconds a mirror or public host may stay silent before the next source is tried
RAW_DIR = REPO_ROOT / "data" / "raw"

D2L_HUB = "https://d2l-data.s3-accelerate.amazonaws.com/"
FASHION_HOSTS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it comes from and what its payload must hash to."""

    name: str  # path under a mirror, e.g. "fashion-mnist/train-images-idx3-ubyte.gz"
    sha256: str  # of the payload: the decompressed bytes for `.gz`, the file itself otherwise
    urls: tuple[str, ...] = ()
    kaggle_file: str | None = None  # file name in the Kaggle competition, if it is one

    @property
    def basename(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Dataset:
    name: str
    files: tuple[RemoteFile, ...]
    kaggle_competition: str | None = None
    description: str = ""
    source: str = ""  # a folder or URL holding the files under their Kaggle names, tried first


def _hub(name: str) -> tuple[str, ...]:
    return (D2L_HUB + name,)


def _fashion(name: str, sha256: str) -> RemoteFile:
    return RemoteFile(f"fashion-mnist/{name}", sha256, tuple(host + name for host in FASHION_HOSTS))


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "fashion-mnist",
            (
                _fashion("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
                _fashion("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
                _fashion("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
                _fashion("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
            ),
            description="Fashion-MNIST IDX files (Zalando Research, MIT licence)",
        ),
        Dataset(
            "timemachine",
            (RemoteFile("timemachine.txt", "8424dbd9532ac81f7e5f0b6add90e6952baea29158309d7d1bf3884f4e12c516",
                        _hub("timemachine.txt")),),
            description="H. G. Wells, The Time Machine (character language-model corpus)",
        ),
        Dataset(
            "jaychou-lyrics",
            (RemoteFile("jaychou_lyrics.txt.zip", "3cfedd7d174111cdad5a27eaffaa6a2432a2842cf2590a03dd8a97610ea07043",
                        ("https://raw.githubusercontent.com/ShusenTang/Dive-into-DL-PyTorch/master/data/jaychou_lyrics.txt.zip",
                         "https://raw.githubusercontent.com/d2l-ai/d2l-zh/v1.0.0/data/jaychou_lyrics.txt.zip")),),
            description="Jay Chou lyrics (Chinese character language-model corpus)",
        ),
    )
}


def payload_sha256(path: Path, name: str | None = None) -> str:
    """SHA-256 of the payload: decompressed when `name` (default: the path's) ends in `.gz`,
    so a re-gzipped mirror still verifies."""
    digest = hashlib.sha256()
    opener: Callable = gzip.open if (name or path.name).endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except (OSError, EOFError) as exc:  # a corrupt gzip stream is a checksum failure, not a crash
        return f"unreadable ({exc})"
    return digest.hexdigest()


def mirror_from(param_value: str | None = None) -> str | None:
    """The mirror base: the environment variable wins over the `data.mirror` param."""
    value = os.environ.get(MIRROR_ENV) or param_value
    return value or None


def _join(base: str, name: str) -> str:
    if "://" in base:
        return base.rstrip("/") + "/" + urllib.parse.quote(name)
    return str(Path(base).expanduser() / name)


def _copy_from(location: str, dest: Path) -> None:
    """Copy a local path, `file://` URL or `http(s)://` URL to `dest`, with a progress bar on a
    terminal for a download of 1 MiB or more."""
    if "://" not in location:
        if not Path(location).is_file():
            raise FileNotFoundError(f"no such file {location}")
        shutil.copyfile(location, dest)
        return
    with urllib.request.urlopen(location, timeout=HTTP_TIMEOUT) as response, dest.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name.lstrip(".").split(".tmp")[0],
                  disable=True if total is None or total < (1 << 20) else None, leave=False) as bar:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _sources(dataset: Dataset, file: RemoteFile, mirror: str | None) -> list[tuple[str, Callable[[Path], None]]]:
    """(description, fetch-into-path) pairs in the order they are tried."""
    sources: list[tuple[str, Callable[[Path], None]]] = []
    if dataset.source:
        where = _join(dataset.source, file.kaggle_file or file.basename)
        sources.append((f"source {where}", lambda dest, where=where: _copy_from(where, dest)))
    if mirror:
        where = _join(mirror, file.name)
        sources.append((f"mirror {where}", lambda dest, where=where: _copy_from(where, dest)))
    for url in file.urls:
        sources.append((url, lambda dest, url=url: _copy_from(url, dest)))
    if file.kaggle_file and dataset.kaggle_competition:
        from pipeline import kaggle_client

        label = f"Kaggle API competition '{dataset.kaggle_competition}' file '{file.kaggle_file}'"
        if kaggle_client.has_credentials():
            sources.append((label, lambda dest: kaggle_client.download_competition_file(
                dataset.kaggle_competition, file.kaggle_file, dest)))
        else:
            sources.append((label, None))  # listed so the error says it was considered
    return sources


def fetch_file(dataset: Dataset, file: RemoteFile, dest_dir: Path, mirror: str | None = None) -> Path:
    """Make `dest_dir/<basename>` hold a verified copy of `file`; return its path."""
    dest = dest_dir / file.basename
    if dest.is_file() and payload_sha256(dest) == file.sha256:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    tried: list[str] = []
    for label, fetch in _sources(dataset, file, mirror):
        if fetch is None:
            tried.append(f"{label}: skipped, no Kaggle credentials "
                         "(~/.kaggle/kaggle.json, KAGGLE_USERNAME/KAGGLE_KEY or KAGGLE_API_TOKEN)")
            continue
        fd, tmp_name = tempfile.mkstemp(prefix=f".{file.basename}.", suffix=".tmp", dir=dest_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            fetch(tmp)
            got = payload_sha256(tmp, file.name)
            if got != file.sha256:
                tried.append(f"{label}: checksum mismatch (sha256 {got}, expected {file.sha256})")
                continue
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
            return dest
        except Exception as exc:  # noqa: BLE001 - every failure is reported with its source
            tried.append(f"{label}: {type(exc).__name__}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)
    hint = "" if mirror else f" (offline? set {MIRROR_ENV} to a local mirror folder or file:// URL)"
    raise DownloadError(f"could not download {file.name} for dataset '{dataset.name}'{hint}; tried:\n  - "
                        + "\n  - ".join(tried))


def competition_dataset(name: str, block: dict) -> Dataset:
    """The files a `competitions.<name>` block lists (every role: train, test, sample submission...)."""
    try:
        files = tuple(RemoteFile(f["name"], f["sha256"], tuple(f.get("urls") or ()), f.get("kaggle_file") or None)
                      for f in block["files"].values())
    except (KeyError, TypeError, AttributeError) as exc:
        raise DownloadError(f"params.yaml: 'competitions.{name}.files' must map each role to name, sha256 "
                            f"(and kaggle_file, urls): {exc}") from exc
    return Dataset(name, files, kaggle_competition=block.get("kaggle") or None,
                   description=f"Kaggle competition {block.get('kaggle', name)}", source=block.get("source") or "")


def find(name: str, params: dict | None = None) -> Dataset:
    """A registered data set, else the competition of that name in params.yaml."""
    if name in DATASETS:
        return DATASETS[name]
    if params is None:
        from pipeline.params import load_params

        params = load_params()
    competitions = params.get("competitions") or {}
    if name in competitions:
        return competition_dataset(name, competitions[name])
    raise DownloadError(f"unknown dataset '{name}'; known: {', '.join(sorted([*DATASETS, *competitions]))}")


def download(name: str, dest_root: Path = RAW_DIR, mirror: str | None = None, params: dict | None = None
             ) -> list[Path]:
    """Download every file of dataset or competition `name` into `dest_root/<name>/`, verified."""
    dataset = find(name, params)
    dest_dir = Path(dest_root) / name
    # Progress bars draw on a terminal only (disable=None), and leave=False with the `with` block
    # clears the bar before an error propagates, so `error: ...` starts its own line.
    with tqdm(dataset.files, desc=f"download {name}", unit="file", leave=False, disable=None) as files:
        return [fetch_file(dataset, f, dest_dir, mirror) for f in files]


def dataset_dir(name: str, root: Path = RAW_DIR) -> Path:
    return Path(root) / name
