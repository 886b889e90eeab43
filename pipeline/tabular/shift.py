"""How test differs from train, seen through the model-ready features.

A model learns nothing usable from a feature whose test values lie where train has none: a
day-of-month that is 20..31 in test and 1..19 in train, a year after all of train's, levels
train never has. `unsupported_features` names such features, each with the reason, so the
preprocess stage can leave them out. `adversarial` scores a classifier that tells train rows
from test rows, out of fold: an AUC near 0.5 means a random split, and the columns that drive
a high one are where test differs. Both read the values only (no feature names): the frames
are what preprocess writes (float32, standardized numbers and date parts, 0/1 dummies).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

UNSUPPORTED_SHARE = 0.5  # a feature is unsupported when more than this share of test rows is
MAX_LEVELS = 64  # a column with at most this many distinct train values is discrete
REPEATED_SHARE = 0.05  # ... and so is one where at most this share of train rows hold a value seen once
LATTICE_FILL = 0.5  # ... or one on an even grid (integers, standardized) filling this share of its slots
MAX_SLOTS = 5000  # grids wider than this are counts or amounts, not labels: judged by their range
RARE_IN_TRAIN = 0.05  # a category's "level not kept" state train holds in fewer rows is one train lacks
NO_SHIFT_AUC = 0.55  # adversarial AUC below this: no detectable shift
MILD_AUC = 0.7  # ... below this: mild; else strong
FOLDS = 5
TOP = 5  # columns named as driving the adversarial classifier
WIDTH = 99  # printed lines stay under 100 columns
LGBM = {"objective": "binary", "num_leaves": 15, "learning_rate": 0.1, "min_data_in_leaf": 20, "max_bin": 63,
        "deterministic": True, "force_col_wise": True, "verbose": -1}  # small and quick: a check, not a model
ROUNDS = 100


# ---- features whose test values lie where train has none


def unsupported_features(train: pd.DataFrame, test: pd.DataFrame, columns: list[str], keep: Iterable[str] = (),
                         units: Mapping[str, tuple[float, float]] | None = None) -> dict[str, str]:
    """feature -> one-line reason, for the features (of `columns`) most of whose test values
    (share > UNSUPPORTED_SHARE) lie where train has none; `keep` names features never flagged.

    Discrete columns count a test value train never has (so holes count: days 20..31 of a month
    against 1..19), continuous ones a test value outside train's [min, max] (`value_kind`), so a
    few test values past train's maximum keep a column. One-hot groups (`C_level`..., `C_nan`)
    also count test rows with no level train holds. `keep` entries are features or the input
    columns they come from (`datetime` keeps `datetime_day`, `store` every `store_*` dummy).
    `units`: feature -> (mean, std) to report values in the feature's units rather than
    standardized (pass the preprocessor's statistics of plainly standardized features)."""
    kept, units = tuple(keep), units or {}
    keep = {col for col in columns if any(col == k or col.startswith(f"{k}_") for k in kept)}
    found: dict[str, str] = {}
    for col in columns:
        if col in keep:
            continue
        reason = _column_reason(col, train[col].to_numpy(np.float64), test[col].to_numpy(np.float64),
                                units.get(col))
        if reason:
            found[col] = reason
    for name, members in _dummy_groups(train, columns).items():
        reason = _group_reason(name, train[members].to_numpy(), test[members].to_numpy())
        for col in members:
            if reason and col not in keep and col not in found:
                found[col] = reason
    return {col: found[col] for col in columns if col in found}


def value_kind(values: np.ndarray) -> tuple[str, float]:
    """How a column's train values are judged, read off the values: ("levels", 0) for few
    distinct values or values that repeat (a test value train never has is unsupported),
    ("grid", step) for an even grid train fills, one value each (a day of year in daily rows: a
    test value two or more steps from any of train's sits in a hole), else ("range", 0) (a test
    value outside train's [min, max] is unsupported)."""
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= MAX_LEVELS or counts[counts == 1].sum() <= REPEATED_SHARE * len(values):
        return "levels", 0.0
    step = _grid_step(distinct)
    return ("grid", step) if step else ("range", 0.0)


def _grid_step(distinct: np.ndarray) -> float | None:
    """The step of the even grid the sorted distinct values sit on (all but one, so the mean a
    missing value is filled with may sit off it) when they fill LATTICE_FILL of its slots."""
    step, span = float(np.median(np.diff(distinct))), float(distinct[-1] - distinct[0])
    if step <= 0 or span / step > MAX_SLOTS:
        return None
    slots = round(span / step)
    step = span / slots  # the span's rounding error is a value's, not the sum of every gap's
    offsets = (distinct - distinct[0]) / step
    on_grid = int((np.abs(offsets - np.round(offsets)) < 0.02).sum())
    return step if on_grid >= len(distinct) - 1 and on_grid >= LATTICE_FILL * (slots + 1) else None


def _far(test: np.ndarray, train: np.ndarray, step: float) -> np.ndarray:
    """Test values two or more grid steps from every train value."""
    grid = np.unique(train)
    at = np.clip(np.searchsorted(grid, test), 1, len(grid) - 1)
    nearest = np.minimum(np.abs(test - grid[at - 1]), np.abs(grid[at] - test))
    return nearest > 1.5 * step


def _column_reason(col: str, train: np.ndarray, test: np.ndarray, unit: tuple[float, float] | None) -> str:
    if not len(test) or not len(train):
        return ""
    low, high, show = train.min(), train.max(), _shower(unit)
    units = "" if unit else ", standardized values"
    kind, step = value_kind(train)
    if kind != "range":
        lacking = ~np.isin(test, np.unique(train)) if kind == "levels" else _far(test, train, step)
        share = lacking.mean()
        if share <= UNSUPPORTED_SHARE:
            return ""
        what = "values train never has" if kind == "levels" else "values 2+ steps from any train value"
        return (f"{col}: {share:.0%} of test rows take {what} ({_where(test[lacking], low, high)}test "
                f"{_span(show, test[lacking])}, train {_span(show, train)}{units})")
    above, below = (test > high).mean(), (test < low).mean()
    if above + below <= UNSUPPORTED_SHARE:
        return ""
    where = ("past train's maximum, a later period" if above > UNSUPPORTED_SHARE else
             "below train's minimum, an earlier period" if below > UNSUPPORTED_SHARE else "outside train's range")
    return (f"{col}: {above + below:.0%} of test rows lie {where} (test {_span(show, test)}, "
            f"train {_span(show, train)}{units})")


def _span(show, values: np.ndarray) -> str:
    low, high = show(values.min()), show(values.max())
    return low if low == high else f"{low}..{high}"


def _where(lacking: np.ndarray, low: float, high: float) -> str:
    if (lacking > high).all():
        return "all past train's maximum: "
    if (lacking < low).all():
        return "all below train's minimum: "
    if ((lacking > low) & (lacking < high)).all():
        return "all inside train's range: "
    return ""


def _shower(unit: tuple[float, float] | None):
    """A value as the report prints it: in the feature's units when known, else standardized."""
    if unit is None:
        return lambda value: f"{value + 0.0:.3g}"  # + 0.0: -0.0 prints 0
    mean, std = unit

    def show(value: float) -> str:
        original = value * std + mean + 0.0
        return f"{original:.0f}" if abs(original - round(original)) < 1e-3 * max(std, 1) else f"{original:.4g}"
    return show


def _dummy_groups(train: pd.DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """Category name -> its one-hot columns (`C_<level>`... and `C_nan`), each column in the
    group of the longest such name; only groups whose train values are 0/1, one per row at most."""
    names = sorted((c[:-4] for c in columns if c.endswith("_nan")), key=len, reverse=True)
    groups: dict[str, list[str]] = {}
    for col in columns:
        owner = next((name for name in names if col.startswith(name + "_")), None)
        if owner is not None:
            groups.setdefault(owner, []).append(col)
    valid = {}
    for name, members in groups.items():
        values = train[members].to_numpy()
        if np.isin(values, (0.0, 1.0)).all() and (values.sum(axis=1) <= 1).all():
            valid[name] = members
    return valid


def _group_reason(name: str, train: np.ndarray, test: np.ndarray) -> str:
    """A category whose test rows mostly hold levels train lacks (every dummy zero), where train
    rarely has such rows (a level it did not keep)."""
    if not len(test) or not len(train):
        return ""
    test_share, train_share = (test.sum(axis=1) == 0).mean(), (train.sum(axis=1) == 0).mean()
    if test_share <= UNSUPPORTED_SHARE or train_share >= RARE_IN_TRAIN:
        return ""
    return (f"{name}: {test_share:.0%} of test rows take levels train never has (every dummy 0; "
            f"{train_share:.0%} of train rows)")


# ---- a classifier that tells train rows from test rows


def verdict(auc: float) -> str:
    return "no detectable shift" if auc < NO_SHIFT_AUC else "mild shift" if auc < MILD_AUC else "strong shift"


def even_rows(n: int, size: int) -> np.ndarray:
    """`size` row positions spread evenly over `n` rows (all of them when size >= n)."""
    return np.arange(n) if size >= n else np.unique(np.linspace(0, n - 1, size).round().astype(int))


def adversarial(train: pd.DataFrame, test: pd.DataFrame, columns: list[str], seed: int, max_rows: int = 20000,
                num_threads: int = 1) -> dict:
    """Out-of-fold AUC of LightGBM telling test rows (1) from train rows (0) over `columns`,
    its standard error across the stratified folds, and the columns with the most split gain.
    More than `max_rows` rows are thinned evenly, each side keeping its share."""
    import lightgbm
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    n_train, n_test = len(train), len(test)
    report = {"auc": None, "auc_se": None, "n_train": n_train, "n_test": n_test, "rows_used": 0, "folds": 0,
              "top": [], "verdict": "too few rows to tell"}
    share = max_rows / max(n_train + n_test, 1)  # each side keeps its share of the rows
    rows_train, rows_test = even_rows(n_train, round(share * n_train)), even_rows(n_test, round(share * n_test))
    x = np.concatenate([train[columns].to_numpy(np.float32)[rows_train],
                        test[columns].to_numpy(np.float32)[rows_test]])
    y = np.concatenate([np.zeros(len(rows_train)), np.ones(len(rows_test))])
    folds = min(FOLDS, len(rows_train), len(rows_test))
    report["rows_used"] = len(y)
    if not columns:
        return {**report, "verdict": "no features to compare"}
    if folds < 2:
        return report
    params = {**LGBM, "seed": seed, "num_threads": num_threads}
    aucs, gain = [], np.zeros(len(columns))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fit, held in splitter.split(x, y):
        data = lightgbm.Dataset(x[fit], y[fit], feature_name=[f"f{i}" for i in range(len(columns))],
                                params={"verbose": -1}, free_raw_data=True)
        booster = lightgbm.train(params, data, num_boost_round=ROUNDS)
        aucs.append(float(roc_auc_score(y[held], booster.predict(x[held]))))
        gain += booster.feature_importance(importance_type="gain")
    auc = float(np.mean(aucs))
    order = [i for i in np.argsort(-gain, kind="stable")[:TOP] if gain[i] > 0]
    report.update(auc=round(auc, 4), auc_se=round(float(np.std(aucs, ddof=1) / np.sqrt(folds)), 4), folds=folds,
                  top=[{"feature": columns[i], "share": round(float(gain[i] / gain.sum()), 4)} for i in order],
                  verdict=verdict(auc))
    return report


# ---- both, as the preprocess stage and `competition new` use them


def check(train: pd.DataFrame, test: pd.DataFrame, columns: list[str], seed: int, keep: Iterable[str] = (),
          units: Mapping[str, tuple[float, float]] | None = None, max_rows: int = 20000,
          num_threads: int = 1) -> dict:
    """`adversarial`'s report over every feature, with `unsupported`: feature -> reason."""
    report = adversarial(train, test, columns, seed, max_rows=max_rows, num_threads=num_threads)
    report["unsupported"] = unsupported_features(train, test, columns, keep=keep, units=units)
    return report


def units_of(preprocessor) -> dict[str, tuple[float, float]]:
    """feature -> (mean, std) of a fitted preprocessor's plainly standardized features (not those
    it log-transformed first), so reasons can print values as the data has them."""
    skewed = set(getattr(preprocessor, "skewed", ()))
    means, stds = getattr(preprocessor, "means", {}), getattr(preprocessor, "stds", {})
    return {name: (float(means[name]), float(stds[name])) for name in preprocessor.columns
            if name in means and name in stds and name not in skewed}


# ---- what a human reads


def format_report(report: dict, unsupported: Mapping[str, str]) -> list[str]:
    """The adversarial check and the unsupported features as lines under 100 columns."""
    if report.get("auc") is None:
        lines = [f"Train vs test: {report['verdict']} ({report['n_train']} train rows, {report['n_test']} test)"]
    else:
        lines = [f"Train vs test: a classifier tells them apart with AUC {report['auc']:.3f} "
                 f"± {report['auc_se']:.3f}: {report['verdict']}",
                 f"  (out of fold, {report['folds']} folds, {report['rows_used']} of "
                 f"{report['n_train'] + report['n_test']} rows; 0.5: test looks like a random split of the data)"]
        top = [item for item in report["top"] if item["share"] >= 0.01]
        if top:
            lines.append("  columns that drive it: " + ", ".join(f"{item['feature']} {item['share']:.0%}"
                                                                 for item in top))
    if unsupported:
        lines.append(f"Left out: {len(unsupported)} feature(s) whose test values mostly lie where train has none:")
        lines += [f"  {reason}" for reason in _grouped(unsupported)]
    else:
        lines.append("Left out for train/test shift: none (every feature's test values mostly lie where train's do)")
    return [part for line in lines for part in _fold(line)]


def _grouped(unsupported: Mapping[str, str]) -> list[str]:
    """One line per reason: a category's dummies share one."""
    reasons: dict[str, list[str]] = {}
    for col, reason in unsupported.items():
        reasons.setdefault(reason, []).append(col)
    return [reason if len(cols) == 1 else f"{reason} [{len(cols)} dummies]" for reason, cols in reasons.items()]


def _fold(line: str) -> list[str]:
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False) or [line]
