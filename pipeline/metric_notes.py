"""What `cli.py metrics KEY` says beside a competition's scores: how sure the headline is, how
the folds were drawn, and how far the test set is from the training set.

cv.json may hold `<headline>_se` (the standard error across folds), for accuracy
`oof_accuracy_test_se` (the binomial standard error at the test set's size), `cv_scheme` and
`cv_scheme_reason`; `shift.json` (written by preprocess) says whether a classifier tells train
rows from test rows. Each is shown only when present: older files have none of them.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any


SCHEME_KEYS = ("cv_scheme", "cv_scheme_reason")
MOST_FEATURES = 5  # shift's most telling features shown
MOST_LEFT_OUT = 4  # columns left out of the shift check named


def _key(first: str) -> str:
    """`cv:oof_accuracy` -> `oof_accuracy`: the headline's key in cv.json."""
    return first.split(":", 1)[-1]


def folded_keys(cv: dict) -> set[str]:
    """cv.json keys shown beside a score or under the table instead of as rows of their own: a
    score's `_se` (House Prices has `oof_log_rmse_se`, shown on that row, not on the headline's),
    the test-size error, the scheme."""
    return {k for k in cv if k.endswith("_se") and k.removesuffix("_se") in cv} | {"oof_accuracy_test_se",
                                                                                     *SCHEME_KEYS}


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def with_error(value: float, se: float) -> str:
    """`0.8316 ± 0.0120`: the value to the decimals its standard error's 3 significant digits need."""
    if se <= 0:
        return f"{value:.6g} ± 0"
    decimals = max(0, 2 - math.floor(math.log10(se)))
    return f"{value:.{decimals}f} ± {se:.{decimals}f}"


def headline_value(cv: dict, key: str) -> str:
    """The headline `key` of cv.json with its standard error ('' when cv.json has no error for it)."""
    value, se = _float(cv.get(key)), _float(cv.get(f"{key}_se"))
    return with_error(value, se) if value is not None and se is not None else ""


def cv_lines(cv: dict, first: str) -> list[str]:
    """How the folds were drawn and why; the error expected on the test set, for accuracy."""
    lines = []
    scheme, reason = cv.get("cv_scheme"), cv.get("cv_scheme_reason")
    if scheme:
        lines.append(f"folds: {scheme}" + (f" ({reason})" if reason else ""))
    test_se = _float(cv.get("oof_accuracy_test_se"))
    if test_se is not None and _key(first) == "oof_accuracy":
        lines.append(f"on the test set's rows, accuracy varies by ± {test_se:.4f} (binomial standard error)")
    return lines


def shift_lines(shift: dict) -> list[str]:
    """A few lines of shift.json: can a classifier tell train from test rows, and by what."""
    auc, se = _float(shift.get("auc")), _float(shift.get("auc_se"))
    if auc is None:
        return []
    head = f"train/test shift: AUC {with_error(auc, se) if se is not None else f'{auc:.4f}'}"
    if shift.get("verdict"):
        head += f", {shift['verdict']}"
    if shift.get("n_train") is not None and shift.get("n_test") is not None:
        head += f" ({shift['n_train']} train, {shift['n_test']} test rows)"
    lines = [head]
    top = [t for t in shift.get("top") or [] if isinstance(t, dict) and "feature" in t]
    if top:
        shares = [f"{t['feature']} {100 * (_float(t.get('share')) or 0):.0f}%" for t in top[:MOST_FEATURES]]
        lines.append("  columns that drive it: " + ", ".join(shares))
    left_out = shift.get("left_out") or {}
    if isinstance(left_out, dict) and left_out:
        named = [f"{k} ({v})" for k, v in list(left_out.items())[:MOST_LEFT_OUT]]
        more = len(left_out) - len(named)
        lines.append("  left out: " + ", ".join(named) + (f" and {more} more" if more > 0 else ""))
    return lines


def notes_under(cv: dict, shift: dict, first: str, width: int) -> list[str]:
    """The lines under the metrics table, each folded to `width` columns."""
    lines = (cv_lines(cv, first) if first else []) + shift_lines(shift)
    return [textwrap.fill(line, width, subsequent_indent=" " * (len(line) - len(line.lstrip()) + 2),
                          break_long_words=False, break_on_hyphens=False) for line in lines]
