"""The one place that touches the official `kaggle` client.

The client authenticates as soon as it is imported (and may call the network), so it is
imported lazily, only by the commands that need it; the rest of the CLI works without
credentials. Credentials are looked up where the client looks, and never printed or logged.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from pipeline.errors import PipelineError

REQUEST_TIMEOUT = 60  # seconds Kaggle may stay silent on one request before the call fails

CREDENTIAL_HELP = ("put your API token in ~/.kaggle/kaggle.json (from kaggle.com > Settings > API), "
                   "or set KAGGLE_USERNAME and KAGGLE_KEY, or KAGGLE_API_TOKEN")


class KaggleCredentialsError(PipelineError, RuntimeError):
    """No usable Kaggle credentials; the message says where to put them (never their value)."""


class KaggleUploadError(PipelineError, RuntimeError):
    """Kaggle refused or failed a submission."""


def _config_dir() -> Path:
    """Where the client reads `kaggle.json`: KAGGLE_CONFIG_DIR, else ~/.kaggle, else the XDG folder."""
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        return Path(os.environ["KAGGLE_CONFIG_DIR"])
    home = Path.home() / ".kaggle"
    if home.exists():
        return home
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kaggle"


def _legacy_key_file() -> dict:
    try:
        data = json.loads((_config_dir() / "kaggle.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def credential_source() -> str | None:
    """Where the client will find credentials, in its own order (a place, never the secret); None if nowhere."""
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "the KAGGLE_API_TOKEN environment variable"
    for name in ("access_token", "access_token.txt"):
        token = Path.home() / ".kaggle" / name
        if token.is_file() and token.stat().st_size:
            return str(token)
    file = _legacy_key_file()
    username = os.environ.get("KAGGLE_USERNAME") or file.get("username")
    key = os.environ.get("KAGGLE_KEY") or file.get("key")
    if username and key:
        if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
            return "the KAGGLE_USERNAME and KAGGLE_KEY environment variables"
        return str(_config_dir() / "kaggle.json")
    oauth = Path.home() / ".kaggle" / "credentials.json"
    if oauth.is_file():
        return f"{oauth} (kaggle auth login)"
    return None


def has_credentials() -> bool:
    return credential_source() is not None


def _api_class():
    """The official `KaggleApi`, honouring `KAGGLE_API_ENVIRONMENT` for every call and never verbose.

    kaggle 2.2.4 builds its HTTP client with a fixed PROD endpoint (only `LOCALHOST` is read, as
    `--local`), although kagglesdk maps `KAGGLE_API_ENVIRONMENT=TEST` to http://localhost:7777;
    here an explicit environment other than PROD/LOCALHOST reaches kagglesdk. Verbose mode (the
    `VERBOSE` variable) is dropped: it prints request headers, i.e. the credentials.
    """
    from kaggle.api.kaggle_api_extended import KaggleApi  # authenticates on import: only here
    from kagglesdk import KaggleClient
    from kagglesdk.kaggle_env import get_env

    class ProjectKaggleApi(KaggleApi):
        args: ClassVar[list[str]] = [a for a in KaggleApi.args if a not in ("--verbose", "-v")]

        def build_kaggle_client(self):
            if os.environ.get("KAGGLE_API_ENVIRONMENT", "PROD") in ("PROD", "LOCALHOST"):
                return super().build_kaggle_client()
            return KaggleClient(env=get_env(), verbose=False,
                                username=self.config_values.get(self.CONFIG_NAME_USER),
                                password=self.config_values.get(self.CONFIG_NAME_KEY),
                                api_token=self.config_values.get(self.CONFIG_NAME_TOKEN),
                                response_processor=self.get_response_processor())

    return ProjectKaggleApi


@contextmanager
def request_timeout(seconds: float = REQUEST_TIMEOUT) -> Iterator[None]:
    """The official client sends its HTTP requests without a timeout (a stalled connection would
    hang a stage forever): while this block runs, every `requests` call without one gets `seconds`."""
    import requests

    original = requests.Session.send

    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = seconds
        return original(self, request, **kwargs)

    requests.Session.send = send
    try:
        yield
    finally:
        requests.Session.send = original


def api():
    """An authenticated `KaggleApi`; a clear error (never the secret) when credentials are missing."""
    if not has_credentials():
        raise KaggleCredentialsError(f"no Kaggle credentials found: {CREDENTIAL_HELP}")
    import requests

    client = _api_class()()
    try:
        with request_timeout():
            client.authenticate()
    except SystemExit as exc:  # the client prints its help and calls exit(1)
        raise KaggleCredentialsError(f"Kaggle rejected the credentials in {credential_source()}: "
                                     f"{CREDENTIAL_HELP}") from exc
    except requests.exceptions.RequestException as exc:  # an API token is checked online first
        # The exception's text is left out on purpose: a request that carried the token may quote it.
        raise KaggleUploadError(f"could not check the Kaggle credentials in {credential_source()} "
                                f"with Kaggle ({type(exc).__name__}); check the network and retry") from exc
    return client


def submit(competition: str, path: Path, message: str) -> dict:
    """Upload `path` as a submission with the official client; Kaggle's answer as a dict."""
    import requests

    client = api()
    try:
        with request_timeout():
            response = client.competition_submit(str(path), message, competition, quiet=True)
    except requests.exceptions.RequestException as exc:
        raise KaggleUploadError(f"Kaggle submission of {path} to '{competition}' failed: "
                                f"{type(exc).__name__}: {exc}") from exc
    answer = {"message": getattr(response, "message", "") or "", "ref": getattr(response, "ref", 0) or 0}
    if answer["message"] == client.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE:
        raise KaggleUploadError(f"Kaggle submission of {path} to '{competition}' failed: the file upload "
                                "did not complete (see the client's message above)")
    return answer


def download_competition_file(competition: str, file_name: str, dest: Path) -> None:
    """Download one competition file to `dest`, unzipping if Kaggle sends it zipped."""
    with tempfile.TemporaryDirectory() as tmp:
        client = api()
        with request_timeout():
            client.competition_download_file(competition, file_name, path=tmp, force=True, quiet=True)
        produced = [p for p in Path(tmp).iterdir() if p.is_file()]
        if not produced:
            raise FileNotFoundError(f"Kaggle returned nothing for {competition}/{file_name}")
        got = produced[0]
        if zipfile.is_zipfile(got) and not file_name.endswith(".zip"):
            with zipfile.ZipFile(got) as archive, archive.open(file_name) as member, dest.open("wb") as out:
                shutil.copyfileobj(member, out)
        else:
            shutil.copyfile(got, dest)
