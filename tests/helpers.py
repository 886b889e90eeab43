"""Small helpers several test modules share (pytest puts this folder on sys.path)."""

from __future__ import annotations

import difflib
import json
import os
import socket
import urllib.parse
import urllib.request


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mlflow_client():
    """A client bound to this test's own store.

    Explicit on purpose: `mlflow.set_tracking_uri` calls made by earlier tests in the same
    process would otherwise point a bare `MlflowClient()` at another test's store. Made through
    `MlflowStore`, which creates a fresh store's tables under the same file lock as the tracking
    service (a stage may have started one on this store in the background).
    """
    from pipeline.tracking.store import MlflowStore

    return MlflowStore(os.environ["MLFLOW_TRACKING_URI"]).client()


def get_json(url: str, **query) -> dict:
    """The JSON answer of a GET on an MLflow server's REST API (query params as keywords), sent
    with `MLFLOW_TRACKING_TOKEN` as MlflowClient sends it (a server `ui.start_server` started
    answers its token only)."""
    if query:
        url += "?" + urllib.parse.urlencode(query)
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def log_project_runs(folds=(0.14, 0.12), alpha=0.0005, exp_name="") -> str:
    """A House Prices CV run the way the pipeline logs one: house params, standard tags, nested folds."""
    from pipeline import tracking
    from pipeline.tabular import models
    from pipeline.tabular.config import load_competition

    p = load_competition("house-prices")
    params = {"seed": p.seed, "cv": p.cv, "model": {"name": "elastic_net",
                                                    **models.to_dict(p.model("elastic_net")), "alpha": alpha}}
    tags = {"stage": "cv", "model": "elastic_net", "dataset": "house-prices", "seed": p.seed, "device": "cpu"}
    os.environ["DVC_STAGE"], os.environ["DVC_EXP_NAME"] = "house_prices_train@elastic_net", exp_name
    try:
        with tracking.start_run("house-prices", "cv:elastic_net", params=params, tags=tags) as run:
            for k, score in enumerate(folds, 1):
                with tracking.start_run("house-prices", f"cv:elastic_net:fold{k}", nested=True,
                                        tags={**tags, "fold": k}):
                    tracking.log_history({"valid_log_rmse": [score + 0.02, score + 0.01, score]})
                    tracking.log_metrics({"n_train": 1000})
            tracking.log_metrics({"valid_log_rmse_mean": sum(folds) / len(folds), "oof_log_rmse": max(folds)})
    finally:
        del os.environ["DVC_STAGE"], os.environ["DVC_EXP_NAME"]
    return run.info.run_id


def base_name(run) -> str:
    """A run's name without the `@label (n)` that `tracking.unique_run_name` adds: `cv:mlp@2d107d7 (2)` -> `cv:mlp`."""
    name = run if isinstance(run, str) else run.info.run_name
    return name.split("@", 1)[0]


def changed_lines(before: str, after: str) -> list[str]:
    """The `-`/`+` lines of a diff between two texts: what an edit of params.yaml really changed."""
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


# RNN settings that make an `rnn_train@...` stage take seconds in a repo copy (`set_params(**...)`).
TINY_RNN = {
    "rnn.train.hidden": 16,
    "rnn.train.batch_size": 4,
    "rnn.train.num_steps": 8,
    "rnn.train.num_chars": 5,
    "rnn.train.device": "cpu",
    "rnn.corpora.timemachine.max_tokens": 600,
}


def stop_ui(process, port: int) -> None:
    """Stop a `cli.py ui` process as a user's Ctrl-C would (SIGTERM; `ui` stops its server), killing
    its group if it hangs, then wait for the port to be free again."""
    import signal
    import subprocess
    import time

    from pipeline import ui

    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 30
    while not ui.port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.5)
