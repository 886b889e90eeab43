"""The one place that touches the official `kaggle` client.

The client authenticates as soon as it is imported (and may call the network), so it is
imported lazily, only by the commands that need it; the rest of the CLI works without
credentials. Credentials are looked up where the client looks, and never printed or logged.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

CREDENTIAL_HELP = ("put your API token in ~/.kaggle/kaggle.json (from kaggle.com > Settings > API), "
                   "or set KAGGLE_USERNAME and KAGGLE_KEY, or KAGGLE_API_TOKEN")


class KaggleCredentialsError(RuntimeError):
    pass


def _config_dir() -> Path:
    return Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle")


def has_credentials() -> bool:
    if os.environ.get("KAGGLE_API_TOKEN"):
        return True
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    config = _config_dir()
    return (config / "kaggle.json").is_file() or (config / "access_token").is_file()


def api():
    """An authenticated `KaggleApi`; a clear error (never the secret) when credentials are missing."""
    if not has_credentials():
        raise KaggleCredentialsError(f"no Kaggle credentials found: {CREDENTIAL_HELP}")
    from kaggle.api.kaggle_api_extended import KaggleApi

    client = KaggleApi()
    client.authenticate()
    return client


def download_competition_file(competition: str, file_name: str, dest: Path) -> None:
    """Download one competition file to `dest`, unzipping if Kaggle sends it zipped."""
    with tempfile.TemporaryDirectory() as tmp:
        api().competition_download_file(competition, file_name, path=tmp, force=True, quiet=True)
        produced = [p for p in Path(tmp).iterdir() if p.is_file()]
        if not produced:
            raise FileNotFoundError(f"Kaggle returned nothing for {competition}/{file_name}")
        got = produced[0]
        if zipfile.is_zipfile(got) and not file_name.endswith(".zip"):
            with zipfile.ZipFile(got) as archive, archive.open(file_name) as member, dest.open("wb") as out:
                shutil.copyfileobj(member, out)
        else:
            shutil.copyfile(got, dest)
