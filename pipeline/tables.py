"""Plain text tables: aligned columns under a dashed rule (or csv, json), fitted to a width.

What `cli.py runs` (runs_view.py) and `cli.py metrics` / `exps` (dvc_views.py) print. Records
are {column: value} dicts; a missing or empty value shows as `-`, floats with 6 significant digits
at most (a blend weight below `WEIGHT_ZERO` as 0: an optimiser's 1e-16 is a weight of nothing),
lists (a list param, or MLflow's string of one) summarised to a few items.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import re
from collections.abc import Sequence
from typing import Any

LIST_WIDTH = 24  # characters a list gets in a table cell
WEIGHT_ZERO = 1e-6  # a blend weight below this is shown as 0
WIDTH = 100  # columns every command's output fits (tests/test_output_width.py)


def as_list(value: Any) -> list | None:
    """The list a value holds: a list, or a string MLflow made of one (`"[0.45, 0.27]"`); else None."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
        return parsed if isinstance(parsed, list) else None
    return None


def short_list(items: list, width: int = LIST_WIDTH) -> str:
    """`[0.4568780179, 0.27528, 0.26784]` -> `0.4569,0.2753,0.2678`; the items that fit `width`
    columns, then `+N` for the rest: `spline_net,+2`."""
    texts = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in items]
    shown: list[str] = []
    for i, text in enumerate(texts):
        rest = len(texts) - i - 1
        candidate = ",".join([*shown, text] + ([f"+{rest}"] if rest else []))
        if shown and len(candidate) > width:
            break
        shown.append(text)
    more = len(texts) - len(shown)
    return ",".join(shown + ([f"+{more}"] if more else [])) if texts else "[]"


def is_weight(name: str) -> bool:
    """Whether a column or key is a blend weight (`weights.mlp` in cv.json, `weight_mlp` in MLflow)."""
    last = name.rsplit(":", 1)[-1].removeprefix("metrics.")
    return last.startswith(("weights.", "weight_"))


def number(value: float, name: str = "") -> str:
    """A float at the precision it carries: 6 significant digits at most, a weight below
    `WEIGHT_ZERO` as 0."""
    if math.isnan(value):
        return "nan"
    if is_weight(name) and abs(value) < WEIGHT_ZERO:
        return "0"
    return f"{value:.6g}"


def cell(value: Any, name: str = "") -> str:
    """How a value of column `name` shows in a table: `-` when missing or empty, floats by
    `number`, lists summarised (`short_list`)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return number(value, name)
    items = as_list(value)
    if items is not None:
        return short_list(items)
    return str(value)


def render(names: list[str], records: list[dict[str, Any]], fmt: str) -> str:
    """The records as `fmt`: json (values as they are), csv (None empty) or an aligned table."""
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
    cells = [[cell(rec.get(n))[:8] if n == "run_id" else cell(rec.get(n), n) for n in names] for rec in records]
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


def table_width(names: list[str], records: list[dict[str, Any]]) -> int:
    """Columns the widest line of `render_table(names, records)` takes."""
    return sum(_widths(names, records)) + 2 * (len(names) - 1)


def fit_table(names: list[str], records: list[dict[str, Any]], width: int,
              optional: Sequence[str], keep: int = 1) -> tuple[list[str], list[str], dict[str, str]]:
    """The columns a `width`-wide table shows: blank columns go, columns other than params and
    metrics with one value in every row go (that value is reported instead), then `optional` ones
    (most telling first, so the last go first) while the table is too wide, keeping at least
    `keep` of them.

    Returns (shown columns, optional columns left out, {constant column: its value}).
    """
    constant: dict[str, str] = {}
    shown = []
    for n in names:
        present = {cell(rec.get(n), n) for rec in records}
        if n in ("run_id", "run_name"):
            shown.append(n)
        elif present == {"-"}:
            continue
        elif len(present) == 1 and len(records) > 1 and not n.startswith(("params.", "metrics.")):
            constant[n] = present.pop()
        else:
            shown.append(n)
    left_out: list[str] = []
    while table_width(shown, records) > width:
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


def wrap_note(note: str, width: int) -> str:
    """A note folded to the terminal's width (continuation lines indented); an option and its
    value (`-m name`, `--format csv`) stay on one line."""
    import textwrap

    glued = re.sub(r"(?<!\S)(-[mp]|--format) ", lambda m: m.group(1) + "\u00a0", note)
    return textwrap.fill(glued, width=width, subsequent_indent="  ", break_long_words=False,
                         break_on_hyphens=False).replace("\u00a0", " ")
