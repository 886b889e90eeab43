"""Folds that mirror how the test set was split: the `cv.scheme` param and what `auto` reads.

A random k-fold split scores a model honestly only when the test rows were drawn at random
from the same rows as train. When the test holds other times (later periods, or other days of
each month), a random fold lets every validation hour sit between training hours of the same
day, and the out-of-fold score promises more than the leaderboard gives. So the folds are
made of *blocks*: rows that must be validated together (a stretch of days, a group). The
preprocess stage, which sees both files, chooses the scheme and writes each training row's
block; the train stages deal whole blocks to folds with the cv seed.

Schemes (`competitions.<key>.cv.scheme`):
- `auto` (default): time blocks when rows carry a datetime (the id or a column) and test's
  times lie in stretches train lacks; else stratified for classification, random for regression;
- `random`, `stratified`: rows dealt at random (by class, for stratified);
- `group:COLUMN`: all rows sharing the column's value in one fold;
- `time:COLUMN`: the time rules of `auto`, on that column (refused if it holds no dates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import DataError, ParamError

SCHEMES = ("auto", "random", "stratified", "group:COLUMN", "time:COLUMN")
LATER_SHARE = 0.95  # share of test rows after all of train from which test is "a later period"
OTHER_DAYS_SHARE = 0.95  # share of test rows on calendar days train never has: "other days"


@dataclass
class Scheme:
    """How rows are dealt to folds; `blocks` (per training row) keeps rows of a block together,
    `ordered` deals blocks to folds in time order (test later than all of train)."""

    kind: str  # random | stratified | group | time
    reason: str
    column: str = ""
    blocks: np.ndarray | None = None
    ordered: bool = False

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.column}" if self.column else self.kind


def check_scheme(value: str, where: str) -> None:
    """A `cv.scheme` value is one of SCHEMES (COLUMN: any column name)."""
    kind, _, column = value.partition(":")
    if value in ("auto", "random", "stratified") or (kind in ("group", "time") and column):
        return
    raise ParamError(f"params.yaml: '{where}' is {value!r}; use one of {', '.join(SCHEMES)}")


def choose(requested: str, train: pd.DataFrame, test: pd.DataFrame, id_column: str, classification: bool,
           where: str = "cv.scheme") -> Scheme:
    """The scheme for these files: `requested` as the param says, `auto` read from the data."""
    check_scheme(requested, where)
    kind, _, column = requested.partition(":")
    default = Scheme("stratified", "classification: each fold keeps the classes' shares") if classification \
        else Scheme("random", "regression: rows dealt to folds at random")
    if kind == "random":
        return Scheme("random", f"{where} is random")
    if kind == "stratified":
        if not classification:
            raise ParamError(f"params.yaml: '{where}' is stratified, which needs a classification task")
        return Scheme("stratified", f"{where} is stratified")
    if kind in ("group", "time"):
        _require_column(column, train, test, where)
    if kind == "group":
        codes = _group_codes(train[column])
        return Scheme("group", f"{where} names it: rows sharing a {column} stay in one fold", column, codes)
    if kind == "time":
        times = _times(train[column]), _times(test[column])
        if times[0] is None or times[1] is None:
            raise ParamError(f"params.yaml: '{where}' names {column!r}, whose values do not read as dates")
        return _time_scheme(column, *times) or Scheme(
            "time", f"{where} names it; test shares train's days, so folds are whole days", column,
            _day_codes(times[0]))
    for name in _date_columns(train, test, id_column):  # auto
        scheme = _time_scheme(name, _times(train[name]), _times(test[name]))
        if scheme is not None:
            return scheme
    return default


def fold_ids(n_rows: int, folds: int, seed: int, shuffle: bool = True, strata: np.ndarray | None = None,
             blocks: np.ndarray | None = None, ordered: bool = False, where: str = "cv") -> np.ndarray:
    """The fold (0..k-1) that validates each row: every row is validated exactly once.

    Without blocks, rows are dealt as before (a seeded permutation, by class with `strata`), so
    random and stratified folds are the ones earlier versions made. With blocks, whole blocks go
    to folds: in time order into k contiguous runs (`ordered`), else in a seeded order, each to the
    fold with the fewest rows so far.
    """
    if n_rows < 2:
        raise DataError(f"train has {n_rows} row(s): cross-validation needs at least 2 (and "
                        f"'{where}.folds' of them), so add training rows")
    if n_rows < folds:  # a fold with no row to validate: the param is wrong, not the data
        raise ParamError(f"params.yaml: '{where}.folds' is {folds}, more folds than the {n_rows} rows "
                         f"to split: use 2..{n_rows}")
    if blocks is not None:
        return _block_folds(np.asarray(blocks), folds, seed, ordered, where)
    order = np.random.default_rng(seed).permutation(n_rows) if shuffle else np.arange(n_rows)
    ids = np.empty(n_rows, dtype=np.int64)
    if strata is None:
        for fold, chunk in enumerate(np.array_split(order, folds)):
            ids[chunk] = fold
        return ids
    strata = np.asarray(strata)[order]
    dealt = 0
    for label in np.unique(strata):
        rows = order[strata == label]
        ids[rows] = (np.arange(len(rows)) + dealt) % folds  # the next class starts where this one ended
        dealt += len(rows)
    return ids


def _block_folds(blocks: np.ndarray, folds: int, seed: int, ordered: bool, where: str) -> np.ndarray:
    names, codes, sizes = np.unique(blocks, return_inverse=True, return_counts=True)
    if len(names) < folds:
        raise ParamError(f"params.yaml: '{where}.folds' is {folds}, but the rows form only {len(names)} "
                         f"blocks ('{where}.scheme'); use 2..{len(names)} folds or another scheme")
    fold_of = np.empty(len(names), np.int64)
    if ordered:  # blocks are numbered in time order: k runs of about equal rows
        edges = np.cumsum(sizes) / sizes.sum()
        fold_of[:] = np.minimum((edges * folds - 1e-9).astype(np.int64), folds - 1)
        for fold in range(folds):  # every fold gets a block even when one block is huge
            if not (fold_of == fold).any():
                fold_of[np.argmax(fold_of > fold) if (fold_of > fold).any() else -1] = fold
    else:
        filled = np.zeros(folds)
        for block in np.random.default_rng(seed).permutation(len(names)):
            fold = int(np.argmin(filled))
            fold_of[block] = fold
            filled[fold] += sizes[block]
    return fold_of[codes]


# ---- reading the data


def _require_column(column: str, train: pd.DataFrame, test: pd.DataFrame, where: str) -> None:
    for name, frame in (("train.csv", train), ("test.csv", test)):
        if column not in frame.columns:
            raise ParamError(f"params.yaml: '{where}' names column {column!r}, which {name} lacks; its columns: "
                             f"{', '.join(map(str, frame.columns[:30]))}")


def _group_codes(values: pd.Series) -> np.ndarray:
    """A block per distinct value; a missing value is a block of its own row."""
    codes = pd.factorize(values)[0].astype(np.int64)
    missing = codes < 0
    codes[missing] = codes.max(initial=-1) + 1 + np.arange(missing.sum())
    return codes


def _times(values: pd.Series) -> pd.Series | None:
    from .features import read_dates  # only preprocess chooses a scheme: the other stages need not load it

    return read_dates(values)


def _date_columns(train: pd.DataFrame, test: pd.DataFrame, id_column: str) -> list[str]:
    """Columns both files have whose values read as dates, the id first."""
    names = [id_column] + [c for c in train.columns if c != id_column]
    return [c for c in names if c in test.columns and _times(train[c]) is not None]


def _day_codes(times: pd.Series) -> np.ndarray:
    days = times.dt.normalize()
    return _group_codes(days)


def _time_scheme(column: str, train: pd.Series | None, test: pd.Series | None) -> Scheme | None:
    """Time blocks when test's times lie where train has none: after all of it, or on other days."""
    if train is None or test is None or train.isna().all() or test.isna().all():
        return None
    first, last = train.min(), train.max()
    if (test > last).mean() >= LATER_SHARE:
        return Scheme("time", f"test ({_span(test)}) comes after all of train ({_span(train)}): folds are "
                              f"consecutive periods in time order", column, _period_codes(train), ordered=True)
    train_days = set(train.dropna().dt.normalize())
    test_days = test.dropna().dt.normalize()
    unseen = ~test_days.isin(train_days)
    if unseen.mean() >= OTHER_DAYS_SHARE and test_days.between(first.normalize(), last.normalize()).mean() > 0.5:
        run = _typical_run(test_days.drop_duplicates())
        return Scheme("time", f"test holds whole days train lacks (stretches of ~{run} days within train's "
                              f"span): folds are whole stretches of up to {run} days", column,
                      _stretch_codes(train, run))
    return None


def _span(times: pd.Series) -> str:
    return f"{times.min():%Y-%m-%d} to {times.max():%Y-%m-%d}"


def _period_codes(times: pd.Series) -> np.ndarray:
    """Blocks in time order: calendar days (missing times: one block at the end)."""
    days = times.dt.normalize()
    order = {day: i for i, day in enumerate(sorted(days.dropna().unique()))}
    return days.map(order).fillna(len(order)).to_numpy(np.int64)


def _typical_run(days: pd.Series) -> int:
    """The median length, in days, of test's runs of consecutive calendar days."""
    ordered = np.sort(days.to_numpy("datetime64[D]").astype(np.int64))
    breaks = np.flatnonzero(np.diff(ordered) > 1)
    lengths = np.diff(np.concatenate([[0], breaks + 1, [len(ordered)]]))
    return max(1, int(np.median(lengths)))


def _stretch_codes(times: pd.Series, run: int) -> np.ndarray:
    """Blocks of up to `run` consecutive calendar days of train (a gap starts a new block)."""
    day = times.dt.normalize().to_numpy("datetime64[D]").astype("float64")
    known = ~np.isnan(day)
    unique = np.unique(day[known])
    block_of, block, start, previous = {}, 0, None, None
    for d in unique:
        if previous is not None and (d - previous > 1 or d - start >= run):
            block += 1
            start = d
        if start is None:
            start = d
        block_of[d] = block
        previous = d
    codes = np.full(len(day), block + 1, np.int64)  # rows without a time: one block of their own
    codes[known] = [block_of[d] for d in day[known]]
    return codes
