"""The runs tables the MLflow UI opens on: one saved view per experiment, and the page script
that makes each the default.

MLflow 3.17 keeps an experiment page's state (search facets, columns, widths, charts) in the
browser's local storage, under `MLflowLocalStorage-1.1-ExperimentPage-["<id>"]-ReactComponentState`,
and applies a saved view (an experiment tag `mlflow.sharedViewState.<key>`) only when the URL
names it (`?viewStateShareKey=<key>`). A click in the experiments list names none. So `cli.py ui`
- saves views in every experiment of the store (`save_views`): `cli-ui` (the scores, best first)
  and `cli-ui-nested` (every run, child runs under their parent), for regularization one per
  stage too; the UI's Views menu lists them;
- and the page `pipeline.ui` serves seeds each experiment's local storage with its `cli-ui`
  state (`seed_script`) where the browser has none, or has the one an earlier `cli.py ui` seeded
  and the user has not changed (their own columns, sort and filter stay).

Why the default view filters: MLflow nests child runs under their parent only while the table is
sorted by start time and unfiltered; sorted by a score it lists them flat. So `cli-ui` shows the
runs that carry the headline (the CV and blend runs, not their folds or the final fits, as
`cli.py runs` does) and `cli-ui-nested` the whole tree.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

VIEW_KEY = "cli-ui"
VIEW_NAME = "cli.py ui: scores, best first"
NESTED_KEY = "cli-ui-nested"
NESTED_NAME = "cli.py ui: every run, children under their parent"
TAG_PREFIX = "mlflow.sharedViewState."
MAX_VIEW_PARAMS = 6
# Experiments whose stages are separate experiments (a polynomial fit's loss and a Fashion-MNIST
# loss do not compare): their views group runs by stage and each stage gets a view of its own.
BY_STAGE = ("regularization",)
STORAGE_KEY = "MLflowLocalStorage-1.1-ExperimentPage-{ids}-ReactComponentState"
SEEDED_KEY = "pipeline.ui.seeded.{id}"  # what the page last seeded for an experiment: see seed_script
# The Assistant panel opens by itself on a local server's first page unless this says it did.
ASSISTANT_OPENED_KEY = "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1"
MODEL_SECTION, SYSTEM_SECTION = "pipeline-model-metrics", "pipeline-system-metrics"
DECADE = 10.0  # a metric whose values span this factor gets a log axis
MAX_HISTORIES = 40  # runs whose headline curve `spans_decades` reads


def column(kind: str, name: str) -> str:
    """MLflow's id of a runs-table column: metrics.`x`, params.`x`, tags.`x`."""
    return f"{kind}.`{name}`"


RUN_NAME_COLUMN = column("attributes", "Run Name")
# The runs table's own leading columns (name, "Created" with the nesting toggle, duration): MLflow
# applies `columnWidths` only to the columns `columnOrder` lists, so the order names them all.
LEADING_COLUMNS = (RUN_NAME_COLUMN, "runDateAndNestInfo", "duration")


def _text_width(chars: int, padding: int) -> int:
    """Pixels for `chars` characters of the table's 13 px font (digits ~7 px) and a cell's padding."""
    return min(320, max(90, 7 * chars + padding))


def _value_text(value: float) -> str:
    """How the UI prints a metric: the shortest text that reads back as the same float."""
    return repr(float(value)).replace("e-0", "e-").replace("e+0", "e+")


def _widths(rows, metrics: Sequence[str], params: Sequence[str], tags: Sequence[str],
            grouped: bool = False) -> dict[str, int]:
    """Widths that show every header and value whole (no `0.1053063...`, no cut `oof_log_rmse_`);
    `grouped`: a group's row prints its aggregate as `<value> (min)`."""
    out = {RUN_NAME_COLUMN: _text_width(max([len(r.columns.get("run_name", "")) for r in rows] or [8]), 56)}
    for kind, names, values in (("metrics", metrics, lambda r, k: _value_text(r.metrics[k]) if k in r.metrics else ""),
                                ("params", params, lambda r, k: r.params.get(k, "")),
                                ("tags", tags, lambda r, k: r.columns.get(k, ""))):
        for name in names:
            longest = max([len(values(r, name)) for r in rows] or [1])
            extra = 6 if grouped and kind == "metrics" else 0
            out[column(kind, name)] = max(_text_width(len(name), 44), _text_width(longest + extra, 28))
    return out


def shown_rows(rows) -> tuple[list, str]:
    """(the runs the scores view lists, its search filter): runs nested in another go when the
    parents carry the headline (CV folds), not when only the children do (regularization's
    configurations); final fits go (`runs_view.INNER_STAGES`), as in `cli.py runs`."""
    from pipeline import runs_view

    headline = runs_view.headline_metrics(rows)
    clauses, shown = [], list(rows)
    if any(r.parent for r in rows) and any(not r.parent and any(m in r.metrics for m in headline) for r in rows):
        clauses.append("tags.mlflow.parentRunId IS NULL")
        shown = [r for r in shown if not r.parent]
    for stage in runs_view.INNER_STAGES:
        if any(r.columns.get("stage") == stage for r in shown):
            clauses.append(f"tags.stage != '{stage}'")
            shown = [r for r in shown if r.columns.get("stage") != stage]
    return shown, " AND ".join(clauses)


def spans_decades(values: Sequence[float]) -> bool:
    """Whether positive values span a factor of `DECADE` or more (a perplexity from 500 to 1)."""
    positive = [v for v in values if v > 0]
    return bool(positive) and len(positive) == len(values) and max(positive) >= DECADE * min(positive)


def _charts(metric: str, log_scale: bool, steps: bool) -> tuple[list, list]:
    """(charts, sections) for the chart view: the headline's curves first, on a log axis where
    they span decades. MLflow appends a chart for every other metric after it (the section counts
    as reordered: otherwise it slots new charts in A-Z around the headline's)."""
    chart = {"uuid": f"pipeline-{metric}", "type": "LINE" if steps else "BAR", "runsCountToCompare": 10,
             "metricSectionId": MODEL_SECTION, "deleted": False, "isGenerated": True, "metricKey": metric}
    if steps:
        chart.update(selectedMetricKeys=[metric], lineSmoothness=0, xAxisScaleType="linear",
                     scaleType="log" if log_scale else "linear", xAxisKey="step", selectedXAxisMetricKey="",
                     range={}, yAxisKey="metric", yAxisExpressions=[], ignoreOutliers=False,
                     useGlobalXaxisKey=True, useGlobalLineSmoothing=True)
    sections = [{"uuid": MODEL_SECTION, "name": "Model metrics", "display": True, "isReordered": True,
                 "deleted": False, "isGenerated": True},
                {"uuid": SYSTEM_SECTION, "name": "System metrics", "display": True, "isReordered": False,
                 "deleted": False, "isGenerated": True}]
    return [chart], sections


def view_state(rows, histories: dict[str, list[float]] | None = None, nested: bool = False) -> dict:
    """A saved view's state for these runs (one experiment's): the headline scores first, the
    params that tell the listed runs apart (`runs_view.telling_params`, at most `MAX_VIEW_PARAMS`),
    the tags the run names do not say; widths that show them whole; sorted by the first score
    in its direction (`scores.higher_is_better`), or with `nested` by start time with child runs
    collapsed under their parent. `histories`: {run id: the headline's curve}, for its chart's axis."""
    from pipeline import runs_view

    experiment = next(iter({r.columns.get("experiment", "") for r in rows}), "")
    shown, search = (list(rows), "") if nested else shown_rows(rows)
    shown = shown or list(rows)
    metrics = runs_view.headline_metrics(shown) or runs_view.default_metrics(shown, most=2)
    params = runs_view.telling_params(shown)[0][:MAX_VIEW_PARAMS]
    restated = runs_view.restated_by_run_names(shown)
    tags = [tag for name, tag in runs_view.TAG_COLUMNS if name not in restated and name != "commit"
            and len({r.columns.get(name, "") for r in shown}) > 1]
    state = {"searchFilter": search, "startTime": "ALL", "lifecycleFilter": "Active", "datasetsFilter": [],
             "modelVersionFilter": "All Runs",
             "selectedColumns": ([column("metrics", m) for m in metrics] + [column("params", p) for p in params]
                                 + [column("tags", t) for t in tags]),
             "columnWidths": _widths(shown, metrics, params, tags, grouped=experiment in BY_STAGE and not nested),
             "runsExpanded": {}}
    state["columnOrder"] = [*LEADING_COLUMNS, *state["selectedColumns"]]  # the headline first, not A-Z
    if metrics and not nested:
        state.update(orderByKey=column("metrics", metrics[0]), orderByAsc=not runs_view.higher_is_better(metrics[0]))
    else:
        state.update(orderByKey="attributes.start_time", orderByAsc=False)
    if metrics:
        curves = [v for run_id, values in (histories or {}).items() for v in values]
        steps = any(len(values) > 1 for values in (histories or {}).values())
        state["compareRunCharts"], state["compareRunSections"] = _charts(metrics[0], spans_decades(curves), steps)
    if experiment in BY_STAGE and not nested:
        stages = sorted({r.columns.get("stage", "") for r in shown} - {""})
        best = "max" if metrics and runs_view.higher_is_better(metrics[0]) else "min"
        state.update(groupBy={"aggregateFunction": best, "groupByKeys": [{"mode": "tag", "groupByData": "stage"}]},
                     groupsExpanded={f"tag.stage.{s}": True for s in stages}, useGroupedValuesInCharts=False)
    return state


def envelope(name: str, state: dict, now_ms: int | None = None) -> str:
    """A saved view as MLflow's UI stores one in its tag: a name, creation times (ms), the state as text."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return json.dumps({"name": name, "createdAt": now, "updatedAt": now, "state": json.dumps(state)})


def save_view(client, experiment_id: str, state: dict, key: str = VIEW_KEY, name: str = VIEW_NAME) -> str:
    """Save `state` as the experiment's saved view `key`, replacing an earlier one; returns `key`."""
    client.set_experiment_tag(experiment_id, f"{TAG_PREFIX}{key}", envelope(name, state))
    return key


def _histories(client, rows, metric: str) -> dict[str, list[float]]:
    """{run id: the metric's values over its steps} of the first `MAX_HISTORIES` runs that have it."""
    out = {}
    for r in [r for r in rows if metric in r.metrics][:MAX_HISTORIES]:
        try:
            out[r.columns["run_id"]] = [m.value for m in client.get_metric_history(r.columns["run_id"], metric)]
        except Exception:  # noqa: BLE001, S112 - without its curve, the chart keeps a linear axis
            continue
    return out


def experiment_views(client, rows) -> dict[str, tuple[str, dict]]:
    """{key: (name, state)}: every view `cli.py ui` saves in the experiment of these runs."""
    from pipeline import runs_view

    shown, _ = shown_rows(rows)
    headline = runs_view.headline_metrics(shown or rows)
    histories = _histories(client, shown or rows, headline[0]) if headline else {}
    views = {VIEW_KEY: (VIEW_NAME, view_state(rows, histories)),
             NESTED_KEY: (NESTED_NAME, view_state(rows, histories, nested=True))}
    experiment = next(iter({r.columns.get("experiment", "") for r in rows}), "")
    if experiment in BY_STAGE:
        for stage in sorted({r.columns.get("stage", "") for r in rows} - {""}):
            own = [r for r in rows if r.columns.get("stage") == stage]
            state = view_state(own, {k: v for k, v in histories.items() if k in {r.columns["run_id"] for r in own}})
            state["searchFilter"] = " AND ".join(filter(None, [f"tags.stage = '{stage}'", state["searchFilter"]]))
            state.pop("groupBy", None)
            views[f"{VIEW_KEY}-{stage}"] = (f"cli.py ui: {stage} only", state)
    return views


def save_views(store_uri: str) -> dict[str, str]:
    """Save `experiment_views` in every experiment of the store that has runs; {name: experiment id}
    of every experiment (empty ones too: the UI lists them)."""
    from mlflow import MlflowClient

    from pipeline import runs_view

    client = MlflowClient(store_uri)
    found = {e.name: e.experiment_id for e in client.search_experiments(max_results=1000)}
    for name, experiment_id in found.items():
        rows = runs_view.search(name, uri=store_uri)
        if not rows:
            continue
        for key, (title, state) in experiment_views(client, rows).items():
            save_view(client, experiment_id, state, key, title)
    return found


def stored_views(store) -> dict[str, dict]:
    """{experiment id: the state of its `cli-ui` view} in a tracking store (the server's own)."""
    out = {}
    for experiment in store.search_experiments(max_results=1000):
        tags = experiment.tags if isinstance(experiment.tags, dict) else {t.key: t.value for t in experiment.tags}
        text = tags.get(f"{TAG_PREFIX}{VIEW_KEY}")
        if text:
            try:
                out[experiment.experiment_id] = json.loads(json.loads(text)["state"])
            except (ValueError, KeyError, TypeError):
                continue
    return out


def seed_script(views: dict[str, dict]) -> str:
    """The page's script (no `<script>` tags) that makes each experiment's `cli-ui` state the one
    its runs page opens on when reached without a share key, and keeps the Assistant panel from
    opening by itself. It writes an experiment's state where the browser has none, or where the
    one it has still shows the columns, sort and filter this script last wrote (a user's own stay)."""
    data = json.dumps(views, separators=(",", ":")).replace("</", "<\\/")
    storage = json.dumps(STORAGE_KEY.split("{ids}"))
    seeded = json.dumps(SEEDED_KEY.split("{id}"))
    return ("try{var L=localStorage,V=" + data + ",S=" + storage + ",M=" + seeded + ";"
            "function sig(s){return JSON.stringify([s.selectedColumns,s.orderByKey,s.orderByAsc,s.searchFilter,"
            "s.groupBy||null])}"
            "for(var id in V){var k=S[0]+JSON.stringify([id])+S[1],m=M[0]+id+M[1],now=L.getItem(k),"
            "last=L.getItem(m),s=V[id];"
            "if(now===null||(last!==null&&sig(JSON.parse(now))===last&&last!==sig(s))){"
            "L.setItem(k,JSON.stringify(s));L.setItem(m,sig(s))}}"
            f"if(L.getItem('{ASSISTANT_OPENED_KEY}')===null)L.setItem('{ASSISTANT_OPENED_KEY}','true')"
            "}catch(e){}")
