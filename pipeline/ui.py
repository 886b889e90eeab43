"""The MLflow UI on the project's store, `cli.py ui`: `mlflow server` on 127.0.0.1, and the
URLs of its pages (an experiment's runs, the compare view of some runs).

What the UI opens on: MLflow 3 starts in its GenAI mode (traces, prompts) and shows a runs table
with names and durations only. So `cli.py ui`
- saves views in every experiment of the store (`pipeline.ui_views`: MLflow's own saved views, an
  experiment tag `mlflow.sharedViewState.<key>`; the "Views" menu lists them): the headline scores
  and the params that tell runs apart, the columns `cli.py runs` shows (`pipeline.runs_view`),
  sorted best first, widths that show them whole; and prints the runs page URL that opens one
  (`?viewStateShareKey=<key>`);
- serves MLflow's app through a thin wrapper (`mlflow_app`, an `mlflow.app` plugin) whose page
  makes each experiment's view the one a click in the experiments list opens (`ui_views.seed_script`)
  and starts a browser that never chose a mode in "Model training": the UI keeps that choice in the
  browser's local storage, and its Compare button drops the `workflowType` query that the runs
  page URL carries, so without it the compare view fell back to the GenAI mode;
- answers its own user only, the way local notebook servers do (docs/tracking.md says why): each
  start makes a secret token, kept in a 0600 file in the user's private folder
  (`pipeline/private.py`, with the UI's plugin and log) and printed in the URL; the wrapper
  (`OwnerOnly`) lets a request through only with that token in its query (which also sets an
  HttpOnly, SameSite=Strict cookie, so the page's own API calls carry it), that cookie, or an
  `Authorization: Bearer` header (MlflowClient sends `MLFLOW_TRACKING_TOKEN` so); any other
  request, to any route, gets 403.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from pipeline import REPO_ROOT, private, ui_views
from pipeline.errors import PipelineError, TrackingError
from pipeline.tracking import safe_uri, tracking_uri

DEFAULT_UI_PORT = 5000
VIEW_KEY = ui_views.VIEW_KEY  # the view `cli.py ui` opens: tag mlflow.sharedViewState.cli-ui of each experiment
VIEW_NAME = ui_views.VIEW_NAME
MAX_VIEW_PARAMS = ui_views.MAX_VIEW_PARAMS
APP_NAME = "pipeline-ui"  # `mlflow server --app-name`: mlflow_app below
TOKEN_VARIABLE = "PIPELINE_UI_TOKEN"  # how start_server hands the server its token (`ps` shows argv to all)


def ui_port_param() -> int:
    """`tracking.ui_port` in params.yaml, else 5000."""
    from pipeline.params import load_params

    try:
        value = (load_params().get("tracking") or {}).get("ui_port", DEFAULT_UI_PORT)
    except PipelineError:
        return DEFAULT_UI_PORT
    return int(value)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on the port (connections lingering in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


# MLflow 3's UI starts in its GenAI mode (traces, prompts) until a page says otherwise.
ML_WORKFLOW = "workflowType=machine_learning"
# ...or until the browser's local storage says otherwise (what the UI's mode switch writes).
WORKFLOW_STORAGE_KEY = "mlflow.workflowType_v1"


def runs_page_url(base: str, experiment_id: str, view: str | None = None, mode: bool = True) -> str:
    """The runs table of one experiment (charts and the compare view are one click from there),
    opened on the saved view `view` if given; `mode`: the URL names the model-training mode (a
    server `start_server` started needs no such query: its page sets that mode, and the URL fits
    a 100-column terminal line without it)."""
    query = [f"viewStateShareKey={view}"] if view else []
    query += [ML_WORKFLOW] if mode or not view else []
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{'&'.join(query)}"


def compare_url(base: str, experiment_id: str, run_ids: Sequence[str]) -> str:
    """MLflow's compare view of these runs (params side by side, metric curves, parallel coordinates)."""
    import urllib.parse

    runs = urllib.parse.quote(json.dumps(list(run_ids)), safe="")
    experiments = urllib.parse.quote(json.dumps([experiment_id]), safe="")
    return f"{base.rstrip('/')}/#/compare-runs?runs={runs}&experiments={experiments}&{ML_WORKFLOW}"


def view_state(rows) -> dict:
    """The runs table `cli.py ui` opens an experiment on (`ui_views.view_state`): its headline
    scores, best first, the params that tell its runs apart, the tags the run names do not say."""
    return ui_views.view_state(rows)


def save_view(client, experiment_id: str, state: dict, key: str = VIEW_KEY, name: str = VIEW_NAME) -> str:
    """Save `state` as the experiment's saved view `key` (MLflow's Views menu; what a URL with
    `viewStateShareKey=<key>` opens), replacing an earlier one; returns `key`."""
    return ui_views.save_view(client, experiment_id, state, key, name)


def ui_url(store_uri: str, base: str, experiment: str | None, view: bool = True, mode: bool = False) -> str:
    """The page `cli.py ui` opens: the experiment's runs page on its saved view, or the experiment
    list when it has no runs yet. With `view`, first saves the views of every experiment in the
    store (`ui_views.save_views`), so each opens well from the list too. `mode`: see
    `runs_page_url` (for a server that `start_server` did not start)."""
    found: dict[str, str] = {}
    if view:
        try:
            found = ui_views.save_views(store_uri)
        except Exception:  # noqa: BLE001 - without its views, the runs pages still open
            found = {}
    if experiment:
        experiment_id = found.get(experiment)
        if experiment_id is None:
            from mlflow import MlflowClient

            try:
                hit = MlflowClient(store_uri).get_experiment_by_name(experiment)
            except Exception:  # noqa: BLE001 - an unreadable store shows up in the server's own page
                hit = None
            experiment_id = hit.experiment_id if hit is not None else None
        if experiment_id is not None:
            from mlflow import MlflowClient

            try:
                tags = MlflowClient(store_uri).get_experiment(experiment_id).tags
            except Exception:  # noqa: BLE001
                tags = {}
            key = VIEW_KEY if view and f"{ui_views.TAG_PREFIX}{VIEW_KEY}" in tags else None
            return runs_page_url(base, experiment_id, key, mode=mode)
    return f"{base.rstrip('/')}/#/experiments?{ML_WORKFLOW}"


def new_token() -> str:
    """A session's secret: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def with_token(url: str, token: str) -> str:
    """`url` with `?token=...` in its query (before the `#/...` route the UI reads): the URL that
    opens a server `start_server` protects."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    query = "&".join(filter(None, [parts.query, f"token={token}"]))
    return urllib.parse.urlunsplit(parts._replace(path=parts.path or "/", query=query))


def token_path(port: int) -> Path:
    """Where `cli.py ui` keeps its server's token while it runs (0600, in the private folder)."""
    return private.folder() / f"mlflow-ui-{port}.token"


def saved_token(port: int) -> str | None:
    """The token of the `cli.py ui` running on `port` (for tests and commands that print its URLs)."""
    try:
        return private.read_text(token_path(port)).strip() or None
    except FileNotFoundError:
        return None


def server_command(store_uri: str, port: int, workers: int = 1, host: str = "127.0.0.1") -> list[str]:
    """`mlflow server` on loopback with the project's store as backend, artifacts under mlartifacts/,
    serving `mlflow_app` (`plugin_path` must be on its PYTHONPATH)."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri,
            "--artifacts-destination", str(REPO_ROOT / "mlartifacts"),
            "--host", host, "--port", str(port), "--workers", str(workers), "--app-name", APP_NAME]


# ---- the app `mlflow server` runs: MLflow's own, its page starting in the model-training mode

_DEFAULT_MODE = (f"<script>try{{if(!localStorage.getItem('{WORKFLOW_STORAGE_KEY}'))"
                 f"localStorage.setItem('{WORKFLOW_STORAGE_KEY}','\"machine_learning\"')}}catch(e){{}}</script>")


def _server_views() -> dict[str, dict]:
    """The `cli-ui` view state of every experiment in the store this `mlflow server` serves (none
    outside such a server: MLflow would make a store in the working folder)."""
    from mlflow.server import BACKEND_STORE_URI_ENV_VAR

    if not os.environ.get(BACKEND_STORE_URI_ENV_VAR):
        return {}
    from mlflow.server.handlers import _get_tracking_store

    return ui_views.stored_views(_get_tracking_store())


class ModelTrainingFirst:
    """ASGI wrapper of MLflow's app: its page (`GET /`, index.html) gets one inline script that sets
    the UI's mode to model training where the browser has none yet (a user's switch to GenAI stays)
    and seeds each experiment's runs page with its saved view (`ui_views.seed_script`; `views`
    reads them, by default from the server's store, at each page load). Everything else passes
    through untouched."""

    def __init__(self, app, views=_server_views):
        self.app, self.views = app, views

    async def _script(self) -> bytes:
        import asyncio

        try:
            views = await asyncio.to_thread(self.views)
        except Exception:  # noqa: BLE001 - without the views, the page still opens in model training
            views = {}
        return (_DEFAULT_MODE + f"<script>{ui_views.seed_script(views)}</script>").encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/":
            return await self.app(scope, receive, send)
        start: dict = {}
        body: list[bytes] = []
        script = await self._script()

        async def edit(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                return await send(message)
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            content = b"".join(body)
            headers = {k.lower(): v for k, v in start.get("headers", [])}
            if start.get("status") == 200 and headers.get(b"content-type", b"").startswith(b"text/html") \
                    and b"content-encoding" not in headers:
                content = content.replace(b"<head>", b"<head>" + script, 1)
            kept = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*kept, (b"content-length", str(len(content)).encode())]})
            await send({"type": "http.response.body", "body": content})

        await self.app(scope, receive, edit)


_FORBIDDEN = (b"403 Forbidden: this MLflow UI answers its own user only. Open the URL `python cli.py ui` "
              b"printed: it carries the session's token.\n")


class OwnerOnly:
    """ASGI gate in front of all of MLflow's app (pages, static files, the REST API, artifact
    uploads and downloads, websockets): a request passes with the session's token in its query
    (`?token=`, taken out before MLflow sees the query; the answer sets a cookie holding it), in
    that cookie, or as `Authorization: Bearer <token>`; anything else gets 403. The cookie is
    HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and named after
    the port (two UIs on one host keep their own). Tokens are compared in constant time."""

    def __init__(self, app, token: str):
        if not token:
            raise ValueError("OwnerOnly needs a token")
        self.app, self.token = app, token.encode()

    def _valid(self, given: bytes | None) -> bool:
        return given is not None and hmac.compare_digest(given, self.token)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):  # lifespan: the app's start-up and shutdown
            return await self.app(scope, receive, send)
        import urllib.parse

        pairs = [p for p in scope.get("query_string", b"").split(b"&") if p]
        given = [urllib.parse.unquote_to_bytes(p[len(b"token="):]) for p in pairs if p.startswith(b"token=")]
        headers = [(k.lower(), v) for k, v in scope.get("headers", [])]
        cookie = f"pipeline_ui_{(scope.get('server') or ('', ''))[1]}".encode()
        in_query = any(self._valid(g) for g in given)
        allowed = in_query or any(self._valid(value) for value in _cookies(headers, cookie)) or any(
            self._valid(v[7:].strip()) for k, v in headers if k == b"authorization" and v[:7].lower() == b"bearer ")
        if given:  # in place: uvicorn's access log reads this scope, and no token is ever logged
            scope["query_string"] = b"&".join(p for p in pairs if not p.startswith(b"token="))
        if not allowed:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(_FORBIDDEN)).encode())]})
            return await send({"type": "http.response.body", "body": _FORBIDDEN})
        if not in_query or scope["type"] != "http":
            return await self.app(scope, receive, send)
        set_cookie = cookie + b"=" + self.token + b"; Path=/; HttpOnly; SameSite=Strict"

        async def with_cookie(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", set_cookie),
                                                  (b"referrer-policy", b"same-origin")]}
            await send(message)

        await self.app(scope, receive, with_cookie)


def _cookies(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    """The values of the cookie `name` in a request's Cookie headers."""
    found = []
    for key, value in headers:
        if key == b"cookie":
            for part in value.split(b";"):
                cookie_name, _, cookie_value = part.strip().partition(b"=")
                if cookie_name == name:
                    found.append(cookie_value.strip())
    return found


def mlflow_app():
    """The app `mlflow server --app-name pipeline-ui` serves (a factory: uvicorn calls it in each
    worker): MLflow's, its page in model training, behind the token `start_server` passed in
    `PIPELINE_UI_TOKEN` (none: the server does not start)."""
    from mlflow.server.fastapi_app import app

    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        raise RuntimeError(f"{TOKEN_VARIABLE} is not set: start the UI with `python cli.py ui`")
    return OwnerOnly(ModelTrainingFirst(app), token)


def plugin_path() -> Path:
    """A folder that makes `mlflow_app` an `mlflow.app` plugin (MLflow's way to serve another app)
    for a process with it on its PYTHONPATH: the entry point, as an installed package declares one.
    It is `mlflow-ui/` in the private folder: no other user can put code there."""
    folder = private.subfolder("mlflow-ui")
    info = private.ensure(folder / "pipeline_mlflow_ui-0.dist-info")
    files = {"METADATA": "Metadata-Version: 2.1\nName: pipeline-mlflow-ui\nVersion: 0\n",
             "entry_points.txt": f"[mlflow.app]\n{APP_NAME} = pipeline.ui:mlflow_app\n"}
    for name, text in files.items():
        private.write_new(info / name, text.encode())
    return folder


def wait_until_up(url: str, process: subprocess.Popen | None = None, timeout: float = 120,
                  token: str | None = None) -> None:
    """Poll `url` until it answers 200 (to `token`, if given); fail if `process` exits first or the
    time runs out."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise TrackingError(f"mlflow server exited with code {process.returncode} before answering")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TrackingError(f"{url} did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a server started by `start_server` and every process it spawned (its own session)."""
    import signal

    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
    try:  # workers left behind by a parent that exited first
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def start_server(store_uri: str, port: int, workers: int = 1, timeout: float = 120, token: str | None = None,
                 **popen) -> subprocess.Popen:
    """Start `mlflow server` on 127.0.0.1:`port` in its own session and wait until it answers.
    It answers only requests that carry `token` (a new one if None): `process.token`; open its
    pages with `with_token(url, process.token)`, call its API with `MLFLOW_TRACKING_TOKEN` set to it."""
    token = token or new_token()
    env = dict(popen.pop("env", None) or os.environ)
    # MLflow 3's GenAI job runner (a dozen huey processes) serves nothing this project logs.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_path()), str(REPO_ROOT), env.get("PYTHONPATH")]))
    env[TOKEN_VARIABLE] = token
    process = subprocess.Popen(server_command(store_uri, port, workers), cwd=REPO_ROOT, start_new_session=True,
                               env=env, **popen)
    process.token = token
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, timeout, token=token)
    except BaseException:
        stop(process)
        raise
    return process


def log_path(port: int) -> Path:
    """Where `cli.py ui` puts the server's output (start-up lines, one line per request): the
    private folder, beside its token (the plugin folder on PYTHONPATH holds the plugin only)."""
    return private.folder() / f"mlflow-ui-{port}.log"


def _log_tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n  ".join(text[-lines:])


def serve_ui(port: int, workers: int = 1, experiment: str | None = "house-prices", open_browser: bool = False,
             verbose: bool = False) -> int:
    """Run the MLflow UI on the project's store until Ctrl-C; return the server's exit code.

    Prints the runs page of `experiment` on its saved view (`ui_url`) with the session's token
    (`with_token`; also in `token_path(port)` while it runs) on a line of its own, and with
    `open_browser` opens it. The server's own output (uvicorn's start-up lines, a line per
    request) goes to `log_path(port)`, or with `verbose` to this terminal; a server that fails
    is an error naming its log and quoting its last lines.
    """
    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        url = ui_url(uri, safe_uri(uri), experiment, mode=True)
        print(f"MLflow UI (MLFLOW_TRACKING_URI's server, already up): {url}", flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        return 0
    if not port_is_free(port):
        raise TrackingError(f"port {port} on 127.0.0.1 is in use: pass --port (or set tracking.ui_port "
                                 "in params.yaml)")
    import signal

    def _exit(signum, frame):  # SIGTERM/SIGHUP stop the server too (it runs in its own session)
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit)
    log = log_path(port)
    output = {} if verbose else {"stdout": os.fdopen(private.open_file(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                                     "wb"), "stderr": subprocess.STDOUT}
    token, secret = new_token(), token_path(port)
    try:
        private.write_new(secret, token.encode())
        try:
            process = start_server(uri, port, workers, token=token, **output)
        except TrackingError as exc:
            raise TrackingError(f"{exc}; its log {log}:\n  {_log_tail(log)}" if not verbose else str(exc)) from exc
        try:
            url = with_token(ui_url(uri, f"http://127.0.0.1:{port}", experiment), token)
            if verbose:
                print(f"store {safe_uri(uri)}", flush=True)
            print("MLflow UI (for you only: the link carries this session's token; Ctrl-C stops it):", flush=True)
            print(url, flush=True)
            if open_browser:
                import webbrowser

                webbrowser.open(url)
            code = process.wait()
            if code and not verbose:
                raise TrackingError(f"mlflow server exited with code {code}; its log {log}:\n  {_log_tail(log)}")
            return code
        except KeyboardInterrupt:
            return 0
        finally:
            stop(process)
    finally:
        secret.unlink(missing_ok=True)
        if output:
            output["stdout"].close()
