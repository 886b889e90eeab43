"""Compare runs: `cli.py runs` (a table of runs with chosen params and metrics) and `cli.py ui`.

Both read the project's tracking store (`pipeline.tracking.tracking_uri()`: `MLFLOW_TRACKING_URI`
when set, a server URL or a database, else the repo's `mlflow.db`).

Columns of `runs`: the run's id, name, experiment and status, the tags that say what a run is
(pipeline, stage, model, fold, dataset, device, git commit, the DVC experiment it ran under),
then `params.<key>` and `metrics.<key>` (MLflow's own naming, as in `mlflow.search_runs`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import REPO_ROOT
from pipeline.errors import PipelineError
from pipeline.tracking import safe_uri, tracking_uri

# (column, tag): what each run is, read from the tags `pipeline.tracking.run_tags` and the stages set.
TAG_COLUMNS = (("pipeline", "pipeline"), ("stage", "stage"), ("model", "model"), ("fold", "fold"),
               ("dataset", "dataset"), ("device", "device"), ("commit", "git_commit"), ("dvc_exp", "dvc_exp_name"))
BASE_COLUMNS = ("run_id", "run_name", "experiment", "status", "start")
FORMATS = ("table", "csv", "json")
DEFAULT_UI_PORT = 5000
_SCORE_WORDS = ("rmse", "loss", "perplexity", "acc", "error", "score")
_HELD_OUT_WORDS = ("valid", "test", "oof", "perplexity", "acc")


class TrackingStoreError(PipelineError, RuntimeError):
    """The tracking store is missing, unreachable, or has no such experiment."""


@dataclass
class RunRow:
    """One run, flattened: the fixed columns, then its params and metrics."""

    columns: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    parent: str = ""  # the parent run's id for a nested run (e.g. a CV fold)


def _split(values: Iterable[str] | None) -> list[str]:
    """`--params a,b --params c` -> [a, b, c]; MLflow-style prefixes are accepted and dropped."""
    out: list[str] = []
    for value in values or []:
        for item in value.split(","):
            item = item.strip()
            for prefix in ("params.", "metrics."):
                item = item.removeprefix(prefix)
            if item and item not in out:
                out.append(item)
    return out


def client():
    """An `MlflowClient` on the project's store; a clear error when the default SQLite store is absent."""
    from mlflow import MlflowClient

    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise TrackingStoreError(f"no MLflow store at {path}: run a stage first (e.g. `dvc repro`), "
                                     "or set MLFLOW_TRACKING_URI to the team's tracking server")
    return MlflowClient(uri)


def experiments(mlflow_client, name: str | None) -> dict[str, str]:
    """{experiment_id: name} of the one experiment named (or of all)."""
    try:
        found = mlflow_client.search_experiments(max_results=1000)
    except Exception as exc:
        raise TrackingStoreError(f"cannot read the tracking store {safe_uri(tracking_uri())}: "
                                 f"{type(exc).__name__}: {exc}") from exc
    by_id = {e.experiment_id: e.name for e in found}
    if name is None:
        return by_id
    chosen = {i: n for i, n in by_id.items() if n == name}
    if not chosen:
        raise TrackingStoreError(f"no experiment '{name}' in {safe_uri(tracking_uri())}; "
                                 f"experiments: {', '.join(sorted(by_id.values())) or 'none'}")
    return chosen


def search(experiment: str | None = None, filter_string: str = "", limit: int = 1000,
           top_level: bool = False) -> list[RunRow]:
    """The runs of one experiment (or all), newest first, at most `limit`; `top_level`: no nested runs."""
    mlflow_client = client()
    names = experiments(mlflow_client, experiment)
    runs, token = [], None
    while len(runs) < limit:
        try:
            page = mlflow_client.search_runs(list(names), filter_string=filter_string,
                                             max_results=min(1000, limit - len(runs)),
                                             order_by=["attributes.start_time DESC"], page_token=token)
        except Exception as exc:
            raise TrackingStoreError(f"run search failed: {type(exc).__name__}: {exc}") from exc
        runs.extend(page)
        token = page.token
        if not token:
            break
    rows = [_row(run, names) for run in runs]
    return [r for r in rows if not r.parent] if top_level else rows


def _row(run, names: dict[str, str]) -> RunRow:
    tags = run.data.tags
    start = ""
    if run.info.start_time:
        start = datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    columns = {"run_id": run.info.run_id, "run_name": run.info.run_name or "",
               "experiment": names.get(run.info.experiment_id, run.info.experiment_id),
               "status": run.info.status, "start": start}
    for column, tag in TAG_COLUMNS:
        columns[column] = tags.get(tag, "")
    columns["commit"] = columns["commit"][:8]
    return RunRow(columns, dict(run.data.params), dict(run.data.metrics), tags.get("mlflow.parentRunId", ""))


def default_metrics(rows: Sequence[RunRow], most: int = 6) -> list[str]:
    """Held-out scores first (valid, test, out-of-fold, perplexity, accuracy), then other scores
    (rmse, loss...), then training and per-fold ones, then the rest; the ones most runs have first."""
    counts = Counter(k for r in rows for k in r.metrics)

    def rank(k: str) -> tuple:
        name = k.lower()
        if "train" in name or name.startswith("fold_"):
            group = 2
        elif any(w in name for w in _HELD_OUT_WORDS):
            group = 0
        else:
            group = 1 if any(w in name for w in _SCORE_WORDS) else 3
        return group, -counts[k], k

    return sorted(counts, key=rank)[:most]


def ranked_params(rows: Sequence[RunRow]) -> list[str]:
    """Every param whose value is not the same in all listed runs, the ones a comparison is about first.

    Order: params every run has with more than one value (the knob that was changed, e.g. `model.lr`
    across two cv:mlp runs), then params with several values among the runs that have them, then
    params only some runs have (e.g. `model.alpha` beside an MLP); by name within each group.
    """
    values: dict[str, set[str]] = {}
    have: Counter = Counter()
    for r in rows:
        for k, v in r.params.items():
            values.setdefault(k, set()).add(v)
            have[k] += 1

    def group(k: str) -> int:
        if len(values[k]) > 1:
            return 0 if have[k] == len(rows) else 1
        return 2 if have[k] < len(rows) else 3

    return sorted((k for k in values if group(k) < 3), key=lambda k: (group(k), k))


def default_params(rows: Sequence[RunRow], most: int = 6) -> list[str]:
    """The first `most` of `ranked_params`."""
    return ranked_params(rows)[:most]


def sort_rows(rows: list[RunRow], metric: str, descending: bool = False) -> list[RunRow]:
    """Sort by a metric; runs without it (or with NaN) always come last."""
    metric = metric.removeprefix("metrics.")
    if rows and not any(metric in r.metrics for r in rows):
        known = sorted({k for r in rows for k in r.metrics})
        raise TrackingStoreError(f"no listed run has metric '{metric}'; metrics: {', '.join(known) or 'none'}")
    have = [r for r in rows if metric in r.metrics and not math.isnan(r.metrics[metric])]
    lack = [r for r in rows if r not in have]
    return sorted(have, key=lambda r: r.metrics[metric], reverse=descending) + lack


def table_records(rows: Sequence[RunRow], params: Sequence[str], metrics: Sequence[str],
                  all_experiments: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and one record per run (metrics as floats, None where absent)."""
    names = [c for c in BASE_COLUMNS if all_experiments or c != "experiment"]
    names += [c for c, _ in TAG_COLUMNS]
    names += [f"params.{p}" for p in params] + [f"metrics.{m}" for m in metrics]
    records = []
    for r in rows:
        record: dict[str, Any] = {c: r.columns.get(c, "") for c in names if c in r.columns}
        record.update({f"params.{p}": r.params.get(p) for p in params})
        record.update({f"metrics.{m}": r.metrics.get(m) for m in metrics})
        records.append(record)
    return names, records


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def render(names: list[str], records: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(records, indent=2, default=str)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in rec.items()} for rec in records)
        return out.getvalue().rstrip("\n")
    return render_table(names, records)


def table_cells(names: list[str], records: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    bare = [n.split(".", 1)[1] if "." in n else n for n in names]
    headers = [b if bare.count(b) == 1 else n for b, n in zip(bare, names)]
    cells = [[_cell(rec.get(n))[:8] if n == "run_id" else _cell(rec.get(n)) for n in names] for rec in records]
    return headers, cells


def _widths(names: list[str], records: list[dict[str, Any]]) -> list[int]:
    headers, cells = table_cells(names, records)
    return [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]


def render_table(names: list[str], records: list[dict[str, Any]]) -> str:
    """Aligned columns under a dashed rule; short run ids, no prefixes where the name is unambiguous."""
    headers, cells = table_cells(names, records)
    widths = _widths(names, records)
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def fit_table(names: list[str], records: list[dict[str, Any]], width: int,
              optional: Sequence[str], keep: int = 1) -> tuple[list[str], list[str], dict[str, str]]:
    """The columns a `width`-wide table shows: blank columns go, columns with one value in every
    run go (that value is reported instead), then `optional` ones (most telling first, so the
    last go first) while the table is too wide, keeping at least `keep` of them.

    Returns (shown columns, optional columns left out, {constant column: its value}).
    """
    constant: dict[str, str] = {}
    shown = []
    for n in names:
        present = {_cell(rec.get(n)) for rec in records}
        if n in ("run_id", "run_name"):
            shown.append(n)
        elif present == {"-"}:
            continue
        elif len(present) == 1 and len(records) > 1 and n not in optional and not n.startswith("metrics."):
            constant[n] = present.pop()
        else:
            shown.append(n)
    left_out: list[str] = []
    while sum(_widths(shown, records)) + 2 * (len(shown) - 1) > width:
        droppable = [n for n in optional if n in shown]
        if len(droppable) <= keep:
            break
        left_out.insert(0, droppable[-1])
        shown.remove(droppable[-1])
    return shown, left_out, constant


def terminal_width() -> int:
    """Columns of the terminal (or $COLUMNS); 100 when there is none, e.g. in a pipe."""
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def runs_report(experiment: str | None = None, params: Iterable[str] | None = None,
                metrics: Iterable[str] | None = None, sort: str | None = None, descending: bool = False,
                fmt: str = "table", filter_string: str = "", limit: int = 1000, top_level: bool = False,
                width: int | None = None) -> tuple[str, str]:
    """What `cli.py runs` prints: (the table, csv or json for stdout; a note for stderr, maybe empty).

    With no `--params`, a table shows the params that differ between the listed runs, the changed
    ones first, as many as fit `width` columns; the note says what it left out and how to show it.
    """
    if fmt not in FORMATS:
        raise TrackingStoreError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    rows = search(experiment, filter_string, limit, top_level)
    asked_params = _split(params)
    differing = ranked_params(rows)
    chosen_params = asked_params or differing
    chosen_metrics = _split(metrics) or default_metrics(rows)
    if sort:
        sort = sort.removeprefix("metrics.")
        rows = sort_rows(rows, sort, descending)
        if sort not in chosen_metrics:
            chosen_metrics.insert(0, sort)
    names, records = table_records(rows, chosen_params, chosen_metrics, all_experiments=experiment is None)
    if fmt == "table" and not records:
        where = f"experiment '{experiment}'" if experiment else "any experiment"
        return (f"no runs in {where} of {safe_uri(tracking_uri())}"
                + (f" matching {filter_string!r}" if filter_string else ""), "")
    if fmt != "table":  # csv and json are for programs: every differing param
        return render(names, records, fmt), ""
    if not asked_params:
        chosen_params = _telling_first(chosen_params, rows)
        names = ([n for n in names if not n.startswith(("params.", "metrics."))] + [f"params.{p}" for p in chosen_params]
                 + [n for n in names if n.startswith("metrics.")])
    # What may go when the table is too wide, most telling first (the last goes first): the first
    # differing param and the first score always stay; then params 2-3, score 2, the rest.
    p = [] if asked_params else [f"params.{k}" for k in chosen_params]
    m = [] if _split(metrics) else [f"metrics.{k}" for k in chosen_metrics if k != sort]
    optional = p[1:3] + m[1:2] + p[3:] + m[2:]
    width = width or terminal_width()
    shown, left_out, constant = fit_table(names, records, width, optional, keep=0)
    notes = []
    if constant:
        notes.append("same in every run: " + ", ".join(f"{k}={v}" for k, v in constant.items()))
    notes += _left_out_notes(left_out)
    return render_table(shown, records), "\n".join(_wrap(note, width) for note in notes)


def _wrap(note: str, width: int) -> str:
    """A note folded to the terminal's width (continuation lines indented); an option and its
    value (`-m name`, `--format csv`) stay on one line."""
    import textwrap

    glued = re.sub(r"(?<!\S)(-[mp]|--format) ", lambda m: m.group(1) + "\u00a0", note)
    return textwrap.fill(glued, width=width, subsequent_indent="  ", break_long_words=False,
                         break_on_hyphens=False).replace("\u00a0", " ")


def _partition(values: Sequence[str]) -> tuple[int, ...]:
    """Which runs share a value: ("mlp", "mlp", "enet") and ("a", "a", "b") both give (0, 0, 2)."""
    first: dict[str, int] = {}
    return tuple(first.setdefault(v, i) for i, v in enumerate(values))


def _telling_first(params: list[str], rows: Sequence[RunRow]) -> list[str]:
    """Params that only restate what another column says (`model.name` and `model.type` beside the
    `model` tag) move to the end, so the width goes to the ones that tell runs apart."""
    seen = {_partition([r.columns.get(c, "") for r in rows]) for c, _ in TAG_COLUMNS}
    telling, echoes = [], []
    for p in params:
        part = _partition([r.params.get(p, "") for r in rows])
        (echoes if part in seen else telling).append(p)
        seen.add(part)
    return telling + echoes


def _left_out_notes(left_out: Sequence[str]) -> list[str]:
    """What did not fit the width, and how to show it."""
    notes = []
    for prefix, kind, flag in (("params.", "differing params", "-p"), ("metrics.", "metrics", "-m")):
        hidden = [n.removeprefix(prefix) for n in left_out if n.startswith(prefix)]
        if hidden:
            listed = ", ".join(hidden[:6]) + (", ..." if len(hidden) > 6 else "")
            notes.append(f"{len(hidden)} more {kind} not shown ({listed}): pick columns with "
                         f"{flag} {hidden[0]},... or see all with --format csv")
    return notes


# ---- the MLflow UI


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


def experiments_url(port: int, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{port}/#/experiments"


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
            raise TrackingStoreError(f"mlflow server exited with code {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TrackingStoreError(f"{url} did not answer within {timeout:.0f} s")


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
        raise TrackingStoreError(f"port {port} on 127.0.0.1 is in use: pass --port (or set tracking.ui_port "
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
