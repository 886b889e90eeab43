"""`cli.py ui`: the MLflow UI on the project's store, on loopback, and the page it prints."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from helpers import free_port, get_json, log_project_runs
from helpers import mlflow_client as tracking_client
from pipeline import REPO_ROOT, ui
from pipeline.errors import TrackingError


@pytest.mark.slow
def test_ui_serves_the_project_store_on_loopback_and_prints_the_experiments_runs_page(tmp_path, monkeypatch):
    log_project_runs()
    port = free_port()
    process = subprocess.Popen([sys.executable, "cli.py", "ui", "--port", str(port)], cwd=REPO_ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        deadline, line = time.monotonic() + 180, ""
        while "MLflow UI:" not in line:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        url = line.split("MLflow UI: ", 1)[1].split()[0]
        experiment_id = tracking_client().get_experiment_by_name("house-prices").experiment_id
        assert url == f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
        with urllib.request.urlopen(url.split("#")[0], timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        listed = get_json(f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search", max_results=100)
        assert "house-prices" in {e["name"] for e in listed["experiments"]}
        assert not ui.port_is_free(port)
    finally:
        process.send_signal(signal.SIGTERM)  # `ui` stops the server it started
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    deadline = time.monotonic() + 30
    while not ui.port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ui.port_is_free(port)


def test_ui_refuses_a_busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        with pytest.raises(TrackingError, match=f"port {busy} on 127.0.0.1 is in use"):
            ui.serve_ui(busy)
