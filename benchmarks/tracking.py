"""What a stage process pays to log one MLflow run, by transport (docs/tracking.md).

Each variant runs fresh Python processes that import what they need, open one run (the same
calls a stage's `tracking.start_run` makes: the experiment, a search for stale runs, a search for
a free name, create, params), log one metric and end the run. Wall time is measured from the
parent (interpreter start-up included); the figure is the median of `--repeats` processes.

* `service`: the project's tracking service on a Unix socket (pipeline/tracking/service.py),
  already running (every stage after the first of a session).
* `rest`: MLflow's own tracking server (`mlflow server`, what `cli.py ui` starts), spoken to with
  plain HTTP requests (urllib, json): the cheapest client of that server.
* `mlflow-client-http`: the same server through `mlflow.MlflowClient` (imports mlflow).
* `in-process`: `MlflowClient` on the SQLite file, no server (PIPELINE_TRACKING_SERVICE=0).

Also: how long each server takes to answer its first request, and `-X importtime` of each
client's imports.

    python benchmarks/tracking.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVICE = """
import sys
from pipeline.tracking.service import ServiceClient
from pathlib import Path
client = ServiceClient(sys.argv[1], Path(sys.argv[2]))
run = client.start_run("bench", "probe", tags={"stage": "bench"}, params={"seed": "1"})
client.log_batch(run["run_id"], [["x", 1.0, 0, 0]])
if len(sys.argv) > 3:  # per-call latency: N more calls
    import time
    start = time.perf_counter()
    for step in range(int(sys.argv[3])):
        client.log_batch(run["run_id"], [["y", 1.0, 0, step]])
    print((time.perf_counter() - start) / int(sys.argv[3]) * 1000)
client.end_run(run["run_id"], "FINISHED")
"""

REST = """
import json, os, sys, time, urllib.error, urllib.parse, urllib.request
base = sys.argv[1] + "/api/2.0/mlflow/"

def call(path, body=None, query=None):
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json",
                                     "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")

try:
    experiment = call("experiments/get-by-name", query={"experiment_name": "bench"})["experiment"]["experiment_id"]
except urllib.error.HTTPError:
    experiment = call("experiments/create", {"name": "bench"})["experiment_id"]
now = int(time.time() * 1000)
call("runs/search", {"experiment_ids": [experiment], "filter": "attributes.status = 'RUNNING'", "max_results": 1000})
call("runs/search", {"experiment_ids": [experiment], "filter": "attributes.run_name LIKE 'probe%'", "max_results": 1000})
run = call("runs/create", {"experiment_id": experiment, "run_name": "probe", "start_time": now,
                           "tags": [{"key": "stage", "value": "bench"}]})["run"]["info"]["run_id"]
call("runs/log-batch", {"run_id": run, "params": [{"key": "seed", "value": "1"}]})
call("runs/log-batch", {"run_id": run, "metrics": [{"key": "x", "value": 1.0, "timestamp": now, "step": 0}]})
if len(sys.argv) > 2:  # per-call latency: N more calls
    start = time.perf_counter()
    for step in range(int(sys.argv[2])):
        call("runs/log-batch", {"run_id": run, "metrics": [{"key": "y", "value": 1.0, "timestamp": now, "step": step}]})
    print((time.perf_counter() - start) / int(sys.argv[2]) * 1000)
call("runs/update", {"run_id": run, "status": "FINISHED", "end_time": int(time.time() * 1000)})
"""

CLIENT = """
import sys, time
import mlflow
from mlflow.entities import Metric, Param
client = mlflow.MlflowClient(sys.argv[1])
experiment = client.get_experiment_by_name("bench")
experiment_id = experiment.experiment_id if experiment else client.create_experiment("bench")
client.search_runs([experiment_id], "attributes.status = 'RUNNING'", max_results=1000)
client.search_runs([experiment_id], "attributes.run_name LIKE 'probe%'", max_results=1000)
run = client.create_run(experiment_id, run_name="probe", tags={"stage": "bench"}).info.run_id
client.log_batch(run, params=[Param("seed", "1")])
client.log_batch(run, metrics=[Metric("x", 1.0, int(time.time() * 1000), 0)])
client.set_terminated(run, "FINISHED")
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def import_ms(code: str) -> float:
    """Cumulative import time (ms) of the top-level modules `code` imports, by `-X importtime`."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    total = 0
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) == 1:  # a top-level import (one space of indent)
            total += int(match.group(1))
    return total / 1000


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"median {statistics.median(ms):6.0f} ms  (min {ms[0]:.0f}, max {ms[-1]:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats

    from pipeline.tracking.service import ServiceClient
    from pipeline.ui import start_server, stop

    folder = Path(tempfile.mkdtemp(prefix="bench-tracking-"))
    env = {**os.environ, "PIPELINE_TRACKING_IDLE": "60"}
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")

    # -- servers: time to first answer
    service_store = f"sqlite:///{folder / 'service.db'}"
    start = time.perf_counter()
    wall([sys.executable, "-c", SERVICE, service_store, str(folder)], env)
    service_cold = time.perf_counter() - start
    port = free_port()
    start = time.perf_counter()
    server = start_server(f"sqlite:///{folder / 'server.db'}", port, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    server_up = time.perf_counter() - start
    env["MLFLOW_TRACKING_TOKEN"] = server.token  # the server answers its token only (pipeline/ui.py)
    url = f"http://127.0.0.1:{port}"
    try:
        print("\n== the shared process, from nothing to its first answer")
        print(f"  tracking service (Unix socket): {service_cold * 1000:6.0f} ms (a whole first stage, service start included)")
        print(f"  mlflow server (TCP 127.0.0.1):  {server_up * 1000:6.0f} ms (until /health answers)")

        wall([sys.executable, "-c", REST, url], env)  # the experiment exists for every variant below
        variants = {
            "service (Unix socket, warm)": [sys.executable, "-c", SERVICE, service_store, str(folder)],
            "rest (urllib -> mlflow server)": [sys.executable, "-c", REST, url],
            "mlflow-client-http (MlflowClient -> mlflow server)": [sys.executable, "-c", CLIENT, url],
            "in-process (MlflowClient on SQLite)": [sys.executable, "-c", CLIENT, f"sqlite:///{folder / 'inproc.db'}"],
        }
        wall(variants["in-process (MlflowClient on SQLite)"], env)  # its tables made once, not timed
        print(f"\n== a stage process: start-up, imports, one run created, logged and ended ({repeats} runs each)")
        for label, argv in variants.items():
            times = [wall(argv, env) for _ in range(repeats)]
            print(f"  {label:<52} {summary(times)}  (load {os.getloadavg()[0]:.1f})")
        print("\n== one call (log_batch of one metric) once connected, mean of 200")
        for label, argv in {"service": variants["service (Unix socket, warm)"],
                            "rest": variants["rest (urllib -> mlflow server)"]}.items():
            out = subprocess.run([*argv, "200"], check=True, env=env, cwd=ROOT, capture_output=True, text=True)
            print(f"  {label:<52} {float(out.stdout.split()[-1]):6.1f} ms")
    finally:
        stop(server)

    print("\n== imports alone (python -X importtime, cumulative ms of the top-level imports)")
    for label, code in {
        "service client: pipeline.tracking.service": "import pipeline.tracking.service",
        "rest client: urllib.request, json": "import urllib.request, json",
        "mlflow": "import mlflow",
    }.items():
        print(f"  {label:<44} {import_ms(code):6.0f} ms")
    print(f"\n(the service's socket: {ServiceClient(service_store, folder).path})")


if __name__ == "__main__":
    main()
