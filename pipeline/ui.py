"""The MLflow UI on the project's store, `cli.py ui`: `mlflow server` on 127.0.0.1, and the
URLs of its pages (an experiment's runs, the compare view of some runs)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence

from pipeline import REPO_ROOT
from pipeline.errors import PipelineError, TrackingError
from pipeline.tracking import safe_uri, tracking_uri

DEFAULT_UI_PORT = 5000


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


def runs_page_url(base: str, experiment_id: str) -> str:
    """The runs table of one experiment (charts and the compare view are one click from there)."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{ML_WORKFLOW}"


def compare_url(base: str, experiment_id: str, run_ids: Sequence[str]) -> str:
    """MLflow's compare view of these runs (params side by side, metric curves, parallel coordinates)."""
    import urllib.parse

    runs = urllib.parse.quote(json.dumps(list(run_ids)), safe="")
    experiments = urllib.parse.quote(json.dumps([experiment_id]), safe="")
    return f"{base.rstrip('/')}/#/compare-runs?runs={runs}&experiments={experiments}&{ML_WORKFLOW}"


def ui_url(store_uri: str, base: str, experiment: str | None) -> str:
    """The page `cli.py ui` opens: the experiment's runs page, or the experiment list when it has no runs yet."""
    from mlflow import MlflowClient

    if experiment:
        try:
            found = MlflowClient(store_uri).get_experiment_by_name(experiment)
        except Exception:  # noqa: BLE001 - an unreadable store shows up in the server's own page
            found = None
        if found is not None:
            return runs_page_url(base, found.experiment_id)
    return f"{base.rstrip('/')}/#/experiments?{ML_WORKFLOW}"


def server_command(store_uri: str, port: int, workers: int = 1, host: str = "127.0.0.1") -> list[str]:
    """`mlflow server` on loopback with the project's store as backend; artifacts under mlartifacts/."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri,
            "--artifacts-destination", str(REPO_ROOT / "mlartifacts"),
            "--host", host, "--port", str(port), "--workers", str(workers)]


def wait_until_up(url: str, process: subprocess.Popen | None = None, timeout: float = 120) -> None:
    """Poll `url` until it answers 200; fail if `process` exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise TrackingError(f"mlflow server exited with code {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TrackingError(f"{url} did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a server started by `start_server` and every process it spawned (its own session)."""
    import os
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


def start_server(store_uri: str, port: int, workers: int = 1, timeout: float = 120, **popen) -> subprocess.Popen:
    """Start `mlflow server` on 127.0.0.1:`port` in its own session and wait until it answers."""
    import os

    env = dict(popen.pop("env", None) or os.environ)
    # MLflow 3's GenAI job runner (a dozen huey processes) serves nothing this project logs.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    process = subprocess.Popen(server_command(store_uri, port, workers), cwd=REPO_ROOT, start_new_session=True,
                               env=env, **popen)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, timeout)
    except BaseException:
        stop(process)
        raise
    return process


def serve_ui(port: int, workers: int = 1, experiment: str | None = "house-prices", open_browser: bool = False) -> int:
    """Run the MLflow UI on the project's store until Ctrl-C; return the server's exit code.

    Prints (and with `open_browser` opens) the runs page of `experiment`, not MLflow's front page.
    """
    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        url = ui_url(uri, safe_uri(uri), experiment)
        print(f"MLFLOW_TRACKING_URI is a tracking server, whose UI is already up: {url}", flush=True)
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
    process = start_server(uri, port, workers)
    try:
        url = ui_url(uri, f"http://127.0.0.1:{port}", experiment)
        print(f"MLflow UI: {url}  (store {safe_uri(uri)}; Ctrl-C stops it)", flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(process)
