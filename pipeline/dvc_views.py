"""Screen-wide views of `dvc metrics show` and `dvc exp show`, one pipeline at a time.

Both DVC commands print one row per revision with every metric (and param) of every pipeline as
a column: 243 and 535 columns here, unreadable at any width. These views read the same data
(`--json`) and show one pipeline: `metrics` as one line per metric (file, key, value, and the
change against a revision; the pipeline's scores unless `--all`), `exps` as one row per
experiment with the params that differ between the rows and the pipeline's headline scores.
Both fit the terminal's width.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import REPO_ROOT
from pipeline.errors import ParamError, PipelineError
from pipeline.files import same_when_written
from pipeline.params import flatten
from pipeline.metric_notes import folded_keys, headline_value, notes_under
from pipeline.tables import (as_list, fit_table, number, render_table, short_list, table_width, terminal_width,
                             wrap_note)


@dataclass(frozen=True)
class PipelineView:
    params: str  # top-level params.yaml section
    metrics_dir: str  # folder of its metrics files
    headline: str  # regex over `<file stem>:<dotted key>` of the scores worth a column in `exps`
    scores: str  # regex over the same: the metrics `cli.py metrics` shows without --all
    first: str = ""  # `<file stem>:<dotted key>` of the score that judges the pipeline: shown first


def competition_view(key: str, metric: str, outliers: bool = False) -> PipelineView:
    """A competition's view: its block's params, its metrics folder, its metric's scores (each
    model's without the outliers, when the competition leaves outliers out of its fits), the
    blend's out-of-fold score first (`pipeline.scores.headline`)."""
    m = re.escape(metric)
    per_model = rf"models\.[\w-]+\.oof_{m}" + ("_without_outliers" if outliers else "")
    return PipelineView(f"competitions.{key}", f"metrics/{key}/",
                        rf"^cv:(valid_{m}_mean|oof_{m}|oof_{m}_without_outliers)$",
                        rf"^cv:({per_model}|oof_\w+|valid_{m}_mean|weights\.[\w-]+|threshold)$",
                        f"cv:oof_{metric}" + ("_without_outliers" if outliers else ""))


VIEWS = {
    "regularization": PipelineView("regularization", "metrics/regularization/",
                                   r"^(dropout:\w+\.test_acc|polynomial:\w+\.test_loss)$",
                                   r"^((dropout|init):\w+\.test_acc|(polynomial|weight_decay):\w+\.test_loss)$"),
    "rnn": PipelineView("rnn", "metrics/rnn/", r"^[\w-]+:perplexity$", r"^[\w-]+:perplexity$"),
}
ALIASES = {"house": "house-prices", "reg": "regularization"}


class DvcError(PipelineError, RuntimeError):
    """A `dvc` command this view runs failed."""


def view(name: str) -> PipelineView:
    """A pipeline's view, or a competition's (any key under `competitions:` in params.yaml)."""
    key = ALIASES.get(name, name)
    if key in VIEWS:
        return VIEWS[key]
    from pipeline.params import load_params

    competitions = load_params().get("competitions") or {}
    if key in competitions:
        block = competitions[key]
        return competition_view(key, str(block.get("metric", "")), bool(block.get("drop_outliers")))
    raise ParamError(f"unknown pipeline '{name}': one of {', '.join([*competitions, *VIEWS])}")


def _dvc_json(*args: str, root: Path = REPO_ROOT) -> Any:
    dvc = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    done = subprocess.run([dvc, *args, "--json"], cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DvcError(f"`dvc {' '.join(args)}` failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return json.loads(done.stdout or "null")


def _value(v: Any, key: str = "") -> str:
    """How a metric or param of `key` shows: floats at the precision they carry (`tables.number`)."""
    if isinstance(v, float):
        return number(v, key)
    items = as_list(v)
    if items is not None:  # `blend.models: [a, b, c]` -> `a,b,c`, long ones cut to `a,+2`
        return short_list(items)
    return "-" if v is None else str(v)


def metric_rows(metrics: dict[str, Any], pipeline: PipelineView) -> dict[tuple[str, str], Any]:
    """{(file, dotted key): value} of one revision's metrics files of `pipeline`."""
    rows = {}
    for file, content in sorted(metrics.items()):
        if file.startswith(pipeline.metrics_dir):
            for key, value in flatten((content or {}).get("data") or {}).items():
                rows[(file.removeprefix(pipeline.metrics_dir), key)] = value
    return rows


def metrics_report(name: str, diff: str | None = None, root: Path = REPO_ROOT, show_all: bool = False,
                   width: int | None = None) -> str:
    """`dvc metrics show` of one pipeline, one metric a line: its scores (`PipelineView.scores`),
    every metric with `show_all`. With `diff REV`, `dvc metrics diff REV`: the metrics that
    changed, all with `show_all`. Fitted to `width` columns (`_fitted`)."""
    pipeline = view(name)
    width = width or terminal_width()
    if diff is None:
        shown = _dvc_json("metrics", "show", root=root)
        rows = metric_rows(next(iter(shown.values()))["data"] if shown else {}, pipeline)
        if not rows:
            return f"no metrics under {pipeline.metrics_dir}: run `dvc repro` first"
        cv = _read_json(root / pipeline.metrics_dir / "cv.json") if pipeline.first else {}
        folded = folded_keys(cv)
        rows = {(f, k): v for (f, k), v in rows.items() if f != "cv.json" or k not in folded}
        scores = re.compile(pipeline.scores)
        picked = {(f, k): v for (f, k), v in rows.items() if show_all or scores.search(f"{Path(f).stem}:{k}")} or rows
        records = [{"file": f, "metric": k, "value": _value(v, k)} for (f, k), v in _headline_first(picked, pipeline)]
        for record in records:  # a score with its standard error: `0.8316 ± 0.0120`
            if record["file"] == "cv.json":
                record["value"] = headline_value(cv, record["metric"]) or record["value"]
        more = len(rows) - len(picked)
        notes = notes_under(cv, _read_json(root / pipeline.metrics_dir / "shift.json"), pipeline.first, width)
        return _fitted(["file", "metric", "value"], records, width) + "".join(f"\n{n}" for n in notes) + (
            f"\n({more} more metrics not shown: --all shows them)" if more else "")
    changed = _dvc_json("metrics", "diff", diff, "--all", root=root)
    records, same = [], 0
    for file, keys in sorted((changed or {}).items()):
        if not file.startswith(pipeline.metrics_dir):
            continue
        for key, change in sorted(keys.items()):
            if not show_all and same_when_written(change.get("old"), change.get("new")):  # below files.DIGITS: noise
                same += 1
                continue
            records.append({"file": file.removeprefix(pipeline.metrics_dir), "metric": key,
                            diff: _value(change.get("old"), key), "workspace": _value(change.get("new"), key),
                            "change": _value(change.get("diff"), key)})
    table = _fitted(["file", "metric", diff, "workspace", "change"], records, width) if records else \
        f"no metrics under {pipeline.metrics_dir} differ from {diff}"
    return table + (f"\n({same} unchanged metrics not shown: --all shows them)" if same else "")


def _read_json(path: Path) -> dict:
    """A metrics file's content; {} when it is absent or not a JSON object (an older layout)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _headline_first(rows: dict[tuple[str, str], Any], pipeline: PipelineView) -> list[tuple[tuple[str, str], Any]]:
    """The rows with the pipeline's headline score first, then the blend's other scores, each
    model's, and the rest (weights, threshold) in file order."""
    def rank(item: tuple[tuple[str, str], Any]) -> int:
        (file, key), _ = item
        name = f"{Path(file).stem}:{key}"
        if name == pipeline.first:
            return 0
        if re.search(pipeline.headline, name):
            return 1
        if file == "cv.json" and key.startswith(("oof_", "valid_")):
            return 2
        return 3 if key.startswith("models.") else 4

    return sorted(rows.items(), key=rank)


def _fitted(names: list[str], records: list[dict[str, Any]], width: int) -> str:
    """The table, or where it is wider than `width`, the same with file and metric in one column
    named as `exps` names them (`cv_svr.json`, `folds.fold1.valid_log_rmse` -> `cv_svr:folds.fold1.valid_log_rmse`)."""
    if table_width(names, records) <= width:
        return render_table(names, records)
    merged = [{**r, "metric": f"{Path(r['file']).stem}:{r['metric']}"} for r in records]
    return render_table(names[1:], merged)


def _revisions(shown: list[dict]) -> list[tuple[str, dict]]:
    """(label, data) of the workspace, each baseline commit and each of its experiments."""
    out = []
    for entry in shown or []:
        data = entry.get("data") or {}
        rev = data.get("rev") or entry.get("rev", "")
        label = entry.get("name") or (rev[:7] if re.fullmatch(r"[0-9a-f]{40}", rev) else rev)
        out.append((label, data))
        for exp in entry.get("experiments") or []:
            for rev in exp.get("revs") or []:
                out.append((rev.get("name") or exp.get("name") or rev.get("rev", "")[:7], rev.get("data") or {}))
    return out


def _section(params: dict, dotted: str) -> dict:
    """The params under a dotted section (`competitions.titanic`), {} where absent."""
    for key in dotted.split("."):
        params = params.get(key) if isinstance(params, dict) else None
    return params if isinstance(params, dict) else {}


def exps_report(name: str, width: int | None = None, root: Path = REPO_ROOT) -> tuple[str, str]:
    """`dvc exp show` for one pipeline: (table, note for stderr)."""
    pipeline = view(name)
    headline = re.compile(pipeline.headline)
    records, param_values, without = [], {}, []
    for label, data in _revisions(_dvc_json("exp", "show", root=root)):
        params = flatten(_section(((data.get("params") or {}).get("params.yaml") or {}).get("data", {}),
                                  pipeline.params))
        metrics = {f"{Path(f).stem}:{k}": v for (f, k), v in metric_rows(data.get("metrics") or {}, pipeline).items()}
        record = {"experiment": label, **{f"params.{k}": _value(v, k) for k, v in params.items()},
                  **{f"metrics.{k}": _value(v, k) for k, v in metrics.items() if headline.search(k)}}
        records.append(record)
        if not params:  # a revision before the pipeline's block existed (a new competition)
            without.append(label)
        for k, v in params.items():
            param_values.setdefault(k, set()).add(_value(v, k))
    having = [r for r in records if r["experiment"] not in without]
    changed = sorted(k for k, values in param_values.items()
                     if len(values) > 1 or any(f"params.{k}" not in r for r in having))
    metric_names = sorted({k for r in records for k in r if k.startswith("metrics.")},
                          key=lambda k: (k != f"metrics.{pipeline.first}", k))  # the headline first
    names = ["experiment"] + [f"params.{k}" for k in changed] + metric_names
    width = width or terminal_width()
    shown, left_out, _ = fit_table(names, records, width, [f"params.{k}" for k in changed])
    new = [f"{_some(without)}: no {pipeline.params} params (the block is newer)"] if without and having else []
    if table_width(shown, records) > width:  # many scores (rnn): one line each
        table, hidden = _transposed(names, records, width)
        notes = [f"{len(hidden)} more revisions not shown for width: {_some(hidden)}"] if hidden else []
        return table, _notes(notes + new + [note_if_unchanged(changed, pipeline)], width)
    notes = [f"{len(left_out)} more changed params not shown: {_some([n.removeprefix('params.') for n in left_out])}"
             " (`dvc exp show` has them all)"] if left_out else []
    return render_table(shown, records), _notes(notes + new + [note_if_unchanged(changed, pipeline)], width)


def _some(names: list[str], most: int = 6) -> str:
    """The first `most` names, then how many more: a new competition's block is 42 new params."""
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _notes(notes: list[str], width: int) -> str:
    """The notes for stderr, each folded to `width` columns."""
    return "\n".join(wrap_note(note, width) for note in notes if note)


def note_if_unchanged(changed: list[str], pipeline: PipelineView) -> str:
    return "" if changed else f"no {pipeline.params}.* param differs between these revisions"


def _transposed(names: list[str], records: list[dict[str, Any]], width: int) -> tuple[str, list[str]]:
    """One line per param or metric, one column per experiment, as many as fit `width`: for
    pipelines with many scores. Returns (table, labels of the experiments left out)."""
    labels = [r["experiment"] for r in records]
    rows = [{"": n.split(".", 1)[1], **{label: r.get(n, "-") for label, r in zip(labels, records)}}
            for n in names[1:]]
    shown = labels
    while len(shown) > 1 and table_width(["", *shown], rows) > width:
        shown = shown[:-1]
    return render_table(["", *shown], rows), labels[len(shown):]
