"""The MLflow runs view, `cli.py runs`: a table of runs with chosen params and metrics.

It reads the project's tracking store (`pipeline.tracking.tracking_uri()`: `MLFLOW_TRACKING_URI`
when set, a server URL or a database, else the repo's `mlflow.db`).

Columns: the run's id, name, experiment and status, the tags that say what a run is
(pipeline, stage, model, fold, dataset, device, git commit, the DVC experiment it ran under),
then `params.<key>` and `metrics.<key>` (MLflow's own naming, as in `mlflow.search_runs`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import TrackingError
from pipeline.tables import fit_table, render, render_table, terminal_width, wrap_note
from pipeline.tracking import safe_uri, sqlite_path, tracking_uri

# (column, tag): what each run is, read from the tags `pipeline.tracking.run_tags` and the stages set.
TAG_COLUMNS = (("pipeline", "pipeline"), ("stage", "stage"), ("model", "model"), ("fold", "fold"),
               ("dataset", "dataset"), ("device", "device"), ("commit", "git_commit"), ("dvc_exp", "dvc_exp_name"))
BASE_COLUMNS = ("run_id", "run_name", "experiment", "status", "start")
FORMATS = ("table", "csv", "json")
_SCORE_WORDS = ("rmse", "loss", "perplexity", "acc", "error", "score")
_HELD_OUT_WORDS = ("valid", "test", "oof", "perplexity", "acc")


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
    path = sqlite_path(uri)
    if path is not None and not path.is_file():
        raise TrackingError(f"no MLflow store at {path}: run a stage first (e.g. `dvc repro`), "
                            "or set MLFLOW_TRACKING_URI to the team's tracking server")
    return MlflowClient(uri)


def experiments(mlflow_client, name: str | None) -> dict[str, str]:
    """{experiment_id: name} of the one experiment named (or of all)."""
    try:
        found = mlflow_client.search_experiments(max_results=1000)
    except Exception as exc:
        raise TrackingError(f"cannot read the tracking store {safe_uri(tracking_uri())}: "
                                 f"{type(exc).__name__}: {exc}") from exc
    by_id = {e.experiment_id: e.name for e in found}
    if name is None:
        return by_id
    chosen = {i: n for i, n in by_id.items() if n == name}
    if not chosen:
        raise TrackingError(f"no experiment '{name}' in {safe_uri(tracking_uri())}; "
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
            raise TrackingError(f"run search failed: {type(exc).__name__}: {exc}") from exc
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


def sort_rows(rows: list[RunRow], metric: str, descending: bool = False) -> list[RunRow]:
    """Sort by a metric; runs without it (or with NaN) always come last."""
    metric = metric.removeprefix("metrics.")
    if rows and not any(metric in r.metrics for r in rows):
        known = sorted({k for r in rows for k in r.metrics})
        raise TrackingError(f"no listed run has metric '{metric}'; metrics: {', '.join(known) or 'none'}")
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


def runs_report(experiment: str | None = None, params: Iterable[str] | None = None,
                metrics: Iterable[str] | None = None, sort: str | None = None, descending: bool = False,
                fmt: str = "table", filter_string: str = "", limit: int = 1000, top_level: bool = False,
                width: int | None = None) -> tuple[str, str]:
    """What `cli.py runs` prints: (the table, csv or json for stdout; a note for stderr, maybe empty).

    With no `--params`, a table shows the params that differ between the listed runs, the changed
    ones first, as many as fit `width` columns; the note says what it left out and how to show it.
    """
    if fmt not in FORMATS:
        raise TrackingError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
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
    return render_table(shown, records), "\n".join(wrap_note(note, width) for note in notes)


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
