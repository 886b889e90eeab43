"""The MLflow runs view, `cli.py runs`: a table of runs with chosen params and metrics.

It reads the project's tracking store (`pipeline.tracking.tracking_uri()`: `MLFLOW_TRACKING_URI`
when set, a server URL or a database, else the repo's `mlflow.db`).

Columns: the run's id, name, experiment and status, the tags that say what a run is
(pipeline, stage, model, fold, dataset, device, git commit, the DVC experiment it ran under),
then `params.<key>` and `metrics.<key>` (MLflow's own naming, as in `mlflow.search_runs`).

With no `--params` / `--metrics`, a table shows each experiment's headline score
(`pipeline.scores.headline`) and the params that tell runs of one kind apart (`telling_params`),
the same columns `cli.py ui` opens the MLflow UI on (`pipeline.ui`). With no `--experiment`, one
table per experiment, each with its own headline. CV folds (nested runs) and final fits are left
out unless asked for (`--all-runs`): their scores are the parent's, in pieces.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline import scores
from pipeline.errors import TrackingError
from pipeline.stage_names import fill_command
from pipeline.tables import as_list, fit_table, render, render_table, terminal_width, wrap_note
from pipeline.tracking import safe_uri, sqlite_path, tracking_uri

# (column, tag): what each run is, read from the tags `pipeline.tracking.run_tags` and the stages set.
TAG_COLUMNS = (("pipeline", "pipeline"), ("stage", "stage"), ("model", "model"), ("fold", "fold"),
               ("dataset", "dataset"), ("device", "device"), ("commit", "git_commit"), ("dvc_exp", "dvc_exp_name"))
BASE_COLUMNS = ("run_id", "run_name", "experiment", "status", "start")
FORMATS = ("table", "csv", "json")
_SCORE_WORDS = ("rmse", "loss", "perplexity", "acc", "error", "score", "auc", "mae")
_HELD_OUT_WORDS = ("valid", "test", "oof", "perplexity", "acc")
INNER_STAGES = ("fit",)  # stages whose runs are hidden like folds: a final fit has no held-out score
MLFLOW_DEFAULT = "Default"  # the experiment MLflow makes in every store; no stage logs to it


class NoSuchExperiment(TrackingError):
    """The experiment named is not in the store."""


def higher_is_better(metric: str) -> bool:
    """Whether a score's best value is its highest: the competition metric's own direction
    (`pipeline.scores`), else accuracies and AUCs, not losses or errors."""
    return scores.higher_is_better(metric)


def experiment_headline(experiment: str) -> tuple[str, ...]:
    """An experiment's headline scores; a competition's are its metric's, out of fold and mean over folds."""
    return scores.headline(experiment)


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


def client(uri: str | None = None):
    """An `MlflowClient` on `uri` (default: the project's store); a clear error when a SQLite store is absent."""
    from mlflow import MlflowClient

    uri = uri or tracking_uri()
    path = sqlite_path(uri)
    if path is not None and not path.is_file():
        raise TrackingError(f"no MLflow store at {path}: run a stage first (e.g. `dvc repro`), "
                            "or set MLFLOW_TRACKING_URI to the team's tracking server")
    return MlflowClient(uri)


def experiments(mlflow_client, name: str | None) -> dict[str, str]:
    """{experiment_id: name} of the one experiment named (or of all)."""
    where = safe_uri(mlflow_client.tracking_uri)
    try:
        found = mlflow_client.search_experiments(max_results=1000)
    except Exception as exc:
        raise TrackingError(f"cannot read the tracking store {where}: {type(exc).__name__}: {exc}") from exc
    by_id = {e.experiment_id: e.name for e in found}
    if name is None:
        return by_id
    chosen = {i: n for i, n in by_id.items() if n == name}
    if not chosen:
        raise NoSuchExperiment(f"no experiment '{name}' in {where}; "
                               f"experiments: {', '.join(sorted(by_id.values())) or 'none'}")
    return chosen


def search(experiment: str | None = None, filter_string: str = "", limit: int = 1000,
           top_level: bool = False, uri: str | None = None) -> list[RunRow]:
    """The runs of one experiment (or all) in `uri` (default: the project's store), newest first,
    at most `limit`; `top_level`: no nested runs."""
    mlflow_client = client(uri)
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


def is_inner(row: RunRow) -> bool:
    """A run that is part of another: a CV fold (nested under its parent) or a final fit."""
    return bool(row.parent) or row.columns.get("stage", "") in INNER_STAGES


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


def headline_metrics(rows: Sequence[RunRow]) -> list[str]:
    """The `HEADLINE_METRICS` of the listed runs' experiments that some listed run has."""
    have = {k for r in rows for k in r.metrics}
    out: list[str] = []
    for name in dict.fromkeys(r.columns.get("experiment", "") for r in rows):
        out += [m for m in experiment_headline(name) if m in have and m not in out]
    return out


def default_metrics(rows: Sequence[RunRow], most: int = 6) -> list[str]:
    """The experiments' headline scores, then other held-out scores (valid, test, out-of-fold,
    perplexity, accuracy), then other scores (rmse, loss...), then training and per-fold ones, then
    the rest (counts such as `n_valid` last); the ones most runs have first."""
    counts = Counter(k for r in rows for k in r.metrics)
    headline = headline_metrics(rows)

    def rank(k: str) -> tuple:
        name = k.lower()
        if k in headline:
            return -1, headline.index(k), k
        if name.startswith("n_"):
            group = 4
        elif "train" in name or name.startswith("fold_"):
            group = 2
        elif any(w in name for w in _HELD_OUT_WORDS):
            group = 0
        else:
            group = 1 if any(w in name for w in _SCORE_WORDS) else 3
        return group, -counts[k], k

    return sorted(counts, key=rank)[:most]


def ranked_params(rows: Sequence[RunRow]) -> list[str]:
    """Every param whose value is not the same in all listed runs (what csv and json list).

    Order: params every run has with more than one value, then params with several values among
    the runs that have them, then params only some runs have; by name within each group.
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


def base_name(run_name: str) -> str:
    """What a run is, without where it came from: `cv:svr@svr-c40 (2)` -> `cv:svr`."""
    return run_name.split("@", 1)[0].rsplit(" (", 1)[0]


def _kind(r: RunRow) -> tuple:
    """Runs whose params mean the same: one experiment and stage, one fold, the same param names."""
    return r.columns.get("experiment"), r.columns.get("stage"), r.columns.get("fold"), frozenset(r.params)


def _differing(rows: Sequence[RunRow], kind: Callable[[RunRow], Any]) -> Counter:
    """{param: how many runs it tells apart}: the runs of the kinds among which it has more than one value."""
    groups: dict[Any, list[RunRow]] = {}
    for r in rows:
        groups.setdefault(kind(r), []).append(r)
    told: Counter = Counter()
    for runs in groups.values():
        values: dict[str, set[str]] = {}
        for r in runs:
            for k, v in r.params.items():
                values.setdefault(k, set()).add(v)
        told.update({k: len(runs) for k, vs in values.items() if len(vs) > 1})
    return told


def telling_params(rows: Sequence[RunRow]) -> tuple[list[str], list[str]]:
    """(params that tell runs apart, list-valued params that would): what a table shows by default.

    A param tells runs apart when two runs of one kind (`_kind`: a cv:svr run and a cv:mlp run are
    not, their params mean different things; folds 1 and 2 are not, their sizes differ by
    construction) have different values for it. First the params that differ between runs of
    one name (the knob an experiment changed: `model.C` of cv:svr@main and cv:svr@svr-c40), then
    the others (`model.cell` across the rnn experiments), the ones that tell more runs apart, and
    split them more evenly, first. Params that only restate another column (`model.name` beside the
    `model` tag, `corpus.*` beside `dataset`) are left out; list values (`blend.weights`) are set
    apart.
    """
    changed = set(_differing(rows, lambda r: (r.columns.get("experiment"), base_name(r.columns.get("run_name", "")))))
    differing = _differing(rows, _kind)
    for k in changed:
        differing.pop(k, None)
    lists = sorted(k for k in changed | differing.keys() if any(as_list(r.params.get(k)) is not None for r in rows))

    def order(k: str) -> tuple:
        values = [r.params[k] for r in rows if k in r.params]
        most_common = Counter(values).most_common(1)[0][1]
        return k not in changed, -differing[k], -min(most_common, len(values) - most_common) / len(values), k

    chosen = sorted((changed | differing.keys()) - set(lists), key=order)
    return _not_restated(chosen, rows), lists


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
                width: int | None = None, all_runs: bool = False) -> tuple[str, str]:
    """What `cli.py runs` prints: (the table, csv or json for stdout; a note for stderr, maybe empty).

    With no `--params` / `--metrics`, a table shows the experiments' headline scores and the params
    that tell runs of one kind apart (`telling_params`), as many as fit `width` columns, and drops
    the tag columns the run names already say (`cv:svr@svr-c40`: stage, model, DVC experiment);
    the note says what it left out and how to show it. csv and json hold every differing param.
    With no `experiment`, a table holds one experiment's runs, one table per experiment. Fold and
    fit runs are left out unless `all_runs` (`top_level`: nested runs are, even then).
    """
    if fmt not in FORMATS:
        raise TrackingError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    width = width or terminal_width()
    try:
        rows = search(experiment, filter_string, limit, top_level)
    except NoSuchExperiment:
        if not fill_command(experiment or ""):
            raise
        rows = []  # a pipeline's experiment no stage has logged to yet: say what fills it
    hidden = 0
    if not all_runs:
        hidden = sum(map(is_inner, rows))
        rows = [r for r in rows if not is_inner(r)]
    hidden_note = [f"{hidden} fold and fit runs not shown: --all-runs shows them"] if hidden else []
    if sort and rows and not any(sort.removeprefix("metrics.") in r.metrics for r in rows):
        sort_rows(rows, sort)  # the error naming the metrics there are
    if fmt != "table":
        names, records = _records(rows, params, metrics, sort, descending, fmt, experiment is None)
        return render(names, records, fmt), _notes(hidden_note, width)
    if not rows:
        return _no_runs(experiment, filter_string, width), _notes(hidden_note, width)
    if experiment is not None:
        table, notes = _table(rows, params, metrics, sort, descending, width, all_experiments=False)
        return table, _notes(notes + hidden_note, width)
    tables, notes = [], []
    by_experiment: dict[str, list[RunRow]] = {}
    for r in rows:
        by_experiment.setdefault(r.columns.get("experiment", ""), []).append(r)
    for name in sorted(by_experiment):
        section = by_experiment[name]
        if sort and not any(sort.removeprefix("metrics.") in r.metrics for r in section):
            notes.append(f"{name}: no run has metric '{sort.removeprefix('metrics.')}'; sorted newest first")
            table, said = _table(section, params, metrics, None, descending, width, all_experiments=False)
        else:
            table, said = _table(section, params, metrics, sort, descending, width, all_experiments=False)
        tables.append(f"{_section_title(name, section)}\n{table}")
        notes += [f"{name}: {note}" for note in said]
    if not filter_string:
        notes += [f"{name}: no runs yet; `{fill}` logs them" for name in _pipelines()
                  if name not in by_experiment and (fill := fill_command(name))]
    return "\n\n".join(tables), _notes(notes + hidden_note, width)


def _pipelines() -> list[str]:
    """The experiments the project's stages log to: each competition's, regularization, rnn."""
    return [*(scores.competition_names()), *scores.HEADLINES]


def _section_title(experiment: str, rows: Sequence[RunRow]) -> str:
    """`== house-prices: 4 runs; headline oof_log_rmse_without_outliers, lower is better ==`."""
    title = f"{experiment}: {len(rows)} run{'s' if len(rows) != 1 else ''}"
    headline = [m for m in experiment_headline(experiment) if any(m in r.metrics for r in rows)]
    if headline:
        title += f"; headline {headline[0]}, {'higher' if higher_is_better(headline[0]) else 'lower'} is better"
    return f"== {title} =="


def _no_runs(experiment: str | None, filter_string: str, width: int) -> str:
    """No run to show, and the command that makes some."""
    where = f"experiment '{experiment}'" if experiment else "any experiment"
    said = f"no runs in {where} of {safe_uri(tracking_uri())}" + (f" matching {filter_string!r}" if filter_string
                                                                   else "")
    fill = fill_command(experiment) if experiment else "dvc repro"
    if fill and not filter_string:  # the command on a line of its own, whole where it fits
        return wrap_note(said + ":", width) + "\n" + wrap_note(f"  `{fill}` logs them", width)
    return wrap_note(said, width)


def _notes(notes: Sequence[str], width: int) -> str:
    return "\n".join(wrap_note(note, width) for note in notes)


def _records(rows: list[RunRow], params: Iterable[str] | None, metrics: Iterable[str] | None, sort: str | None,
             descending: bool, fmt: str, all_experiments: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """csv and json, for programs: every differing param, the default metrics, every run."""
    chosen_params = _split(params) or ranked_params(rows)
    chosen_metrics = _split(metrics) or default_metrics(rows)
    if sort:
        sort = sort.removeprefix("metrics.")
        rows = sort_rows(rows, sort, descending)
        if sort not in chosen_metrics:
            chosen_metrics.insert(0, sort)
    return table_records(rows, chosen_params, chosen_metrics, all_experiments)


def _table(rows: list[RunRow], params: Iterable[str] | None, metrics: Iterable[str] | None, sort: str | None,
           descending: bool, width: int, all_experiments: bool) -> tuple[str, list[str]]:
    """One experiment's table fitted to `width`, and the notes on what it left out."""
    asked_params, asked_metrics = _split(params), _split(metrics)
    lists: list[str] = []
    if asked_params:
        chosen_params = asked_params
    else:
        chosen_params, lists = telling_params(rows)
    chosen_metrics = asked_metrics or default_metrics(rows)
    if sort:
        sort = sort.removeprefix("metrics.")
        rows = sort_rows(rows, sort, descending)
        if sort not in chosen_metrics:
            chosen_metrics.insert(0, sort)
    names, records = table_records(rows, chosen_params, chosen_metrics, all_experiments)
    names = [n for n in names if n not in restated_by_run_names(rows)]
    # What may go when the table is too wide, most telling first (the last goes first): the first
    # param and the first score always stay; then params 2-3, score 2, the other params and
    # scores, the tags the run names do not say, the start time.
    p = [] if asked_params else [f"params.{k}" for k in chosen_params]
    m = [] if asked_metrics else [f"metrics.{k}" for k in chosen_metrics if k != sort]
    optional = p[1:3] + m[1:2] + p[3:] + m[2:] + [c for c, _ in TAG_COLUMNS if c in names] + ["start"]
    shown, left_out, constant = fit_table(names, records, width, optional, keep=0)
    notes = []
    if constant:
        notes.append("same in every run: " + ", ".join(f"{k}={v}" for k, v in constant.items()))
    notes += _left_out_notes(left_out)
    if lists:
        notes.append(f"list params not shown ({', '.join(lists)}): -p {lists[0]} shows them, summarised")
    return render_table(shown, records), notes


def restated_by_run_names(rows: Sequence[RunRow]) -> set[str]:
    """Tag columns every run's name already says: `cv:svr@svr-c40` has its stage, model and DVC
    experiment, `tm-gru-scratch@91f9722` its commit."""
    out = set()
    for column, _ in TAG_COLUMNS:
        values = [(r.columns.get(column, ""), r.columns.get("run_name", "")) for r in rows]
        if all(value in name or (column == "commit" and value[:7] in name) for value, name in values if value):
            out.add(column)
    return out


def _partition(values: Sequence[str]) -> tuple[int, ...]:
    """Which runs share a value: ("mlp", "mlp", "enet") and ("a", "a", "b") both give (0, 0, 2)."""
    first: dict[str, int] = {}
    return tuple(first.setdefault(v, i) for i, v in enumerate(values))


# Tag columns that say what a run is (not where it came from: a changed param and the DVC
# experiment that changed it split the runs alike, and the param is still what tells them apart).
_DESCRIBING = ("stage", "model", "fold", "dataset")


def _not_restated(params: list[str], rows: Sequence[RunRow]) -> list[str]:
    """The params that do not only restate what another column or an earlier param says
    (`model.name` and `model.type` beside the `model` tag, `corpus.*` beside `dataset`: the same
    runs share a value; an `experiment` param beside the run names: the same text), so the width
    goes to the ones that tell runs apart. Columns with a different value in every run group no
    runs together, so sharing that with one is no sign of restating it."""
    def grouping(values: list[str]) -> tuple[int, ...] | None:
        part = _partition(values)
        return part if len(set(part)) < len(part) else None

    seen = {grouping([r.columns.get(c, "") for r in rows]) for c in _DESCRIBING}
    seen.add(grouping([base_name(r.columns.get("run_name", "")) for r in rows]))
    telling = []
    for p in params:
        part = grouping([r.params.get(p, "") for r in rows])
        named = all(r.params.get(p) in (None, base_name(r.columns.get("run_name", ""))) for r in rows)
        if not named and (part is None or part not in seen):
            telling.append(p)
        seen.add(part)
    return telling


def _left_out_notes(left_out: Sequence[str]) -> list[str]:
    """What did not fit the width, and how to show it."""
    notes = []
    for prefix, kind, flag in (("params.", "differing params", "-p"), ("metrics.", "metrics", "-m")):
        hidden = [n.removeprefix(prefix) for n in left_out if n.startswith(prefix)]
        if hidden:
            listed = ", ".join(hidden[:6]) + (", ..." if len(hidden) > 6 else "")
            kind = kind if len(hidden) > 1 else kind.removesuffix("s")
            notes.append(f"{len(hidden)} more {kind} not shown ({listed}): pick columns with "
                         f"{flag} {hidden[0]},... or see all with --format csv")
    others = [n for n in left_out if not n.startswith(("params.", "metrics."))]
    if others:
        notes.append(f"not shown for width: {', '.join(others)} (--format csv has every column)")
    return notes
