"""Default features for any Kaggle tabular competition: what every column becomes when no
competition module says otherwise.

`Preprocessor.fit` looks at each column of the statistics rows (never the target) and decides
its kind: a number (standardized, missing -> 0), a date (split into standardized parts), a
category (one-hot of its most frequent levels plus a missing indicator), or something left out
with a note saying why (a row id, free text, a constant, a user drop). The fitted state is plain
JSON, so prediction repeats the training features exactly: same columns, same order, unseen
test levels map to all-zero dummies.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_integer_dtype, is_numeric_dtype
from pandas.tseries.api import guess_datetime_format

from pipeline.errors import DataError
from pipeline.files import write_json
from pipeline.params import require

from . import numbers

UNIQUE_SHARE = 0.95  # a string column with more distinct values than this share of rows names rows
ID_SPAN = 2.0  # integer ids span at most this many times the row count (train drawn at random from 1..N)
DATE_SHARE = 0.95  # share of values that must read as dates for a string column to be a date
DATE_SAMPLE = 1000  # values tried before parsing a whole column (dateutil parsing is slow)
TEXT_WORDS = 3  # mean words per value from which a string column is free text
DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear")
TIME_PARTS = ("hour", "minute")  # added only when some value has a time other than midnight
PART_ATTRIBUTES = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}  # `.dt` names of the parts


@dataclass
class Params:
    """`competitions.<name>.features` in params.yaml, for competitions using the default features."""

    stats_from: Literal["train", "train_and_test"] = "train"  # rows the statistics come from (never the target)
    max_categories: int = 30  # a category keeps its most frequent levels up to this many; others -> zeros
    min_category_count: int = 1  # levels seen fewer times get no dummy column
    drop_columns: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)  # numbers that are really labels (codes)

    def validate(self, where: str) -> None:
        require(self.max_categories >= 1, f"{where}.max_categories", f"must be >= 1, got {self.max_categories}")
        require(self.min_category_count >= 0, f"{where}.min_category_count",
                f"must be >= 0, got {self.min_category_count}")
        for name in ("drop_columns", "categorical"):
            values = getattr(self, name)
            require(len(set(values)) == len(values), f"{where}.{name}", f"has duplicates: {values}")
        both = sorted(set(self.drop_columns) & set(self.categorical))
        require(not both, f"{where}.categorical", f"names columns also in drop_columns: {', '.join(both)}")


@dataclass
class Preprocessor:
    """Fitted feature state: everything `transform` needs, serialisable to JSON."""

    params: Params
    kinds: dict[str, str] = field(default_factory=dict)  # input column -> number, category, date, text, id, ...
    notes: list[str] = field(default_factory=list)  # one line per column left out or capped
    columns: list[str] = field(default_factory=list)  # output feature names, in order
    means: dict[str, float] = field(default_factory=dict)  # per number and date part (output name)
    stds: dict[str, float] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)  # date column -> to_datetime format
    date_parts: dict[str, list[str]] = field(default_factory=dict)
    levels: dict[str, list[str]] = field(default_factory=dict)  # category column -> kept levels, sorted

    @classmethod
    def fit(cls, rows: pd.DataFrame, params: Params) -> Preprocessor:
        """Learn kinds and statistics from `rows` (feature columns only: no id, no target)."""
        if rows.empty:
            raise DataError("no rows to fit the feature statistics on")
        _check_named(rows, params)
        state = cls(params)
        for col in rows.columns:
            state._fit_column(col, rows[col])
        _check_unique(state.columns)
        return state

    def _fit_column(self, col: str, series: pd.Series) -> None:
        p = self.params
        distinct = series.nunique(dropna=False)
        if col in p.drop_columns:
            self._leave_out(col, "dropped", "in drop_columns")
        elif distinct <= 1:
            self._leave_out(col, "constant", _constant_reason(series))
        elif col in p.categorical or (distinct == 2 and series.hasnans):  # one value or missing: a flag
            self._fit_category(col, _labels(series).value_counts())
        elif is_bool_dtype(series) or is_numeric_dtype(series):
            self._fit_numeric(col, series)
        elif is_datetime64_any_dtype(series):
            self._fit_date(col, _parse_dates(series, "ISO8601"), "ISO8601")
        else:
            self._fit_strings(col, _labels(series))

    def _leave_out(self, col: str, kind: str, reason: str) -> None:
        self.kinds[col] = kind
        self.notes.append(f"{col}: {reason}: left out")

    def _fit_numeric(self, col: str, series: pd.Series) -> None:
        span = _row_id_span(series)
        if span:
            self._leave_out(col, "id", f"a row id (integers {span[0]}..{span[1]}, all distinct)")
        else:
            self.kinds[col] = "number"
            self._fit_number(col, _numbers(series))

    def _fit_number(self, name: str, values: pd.Series) -> None:
        """Mean and std of the stats rows (no finite value overflows them: numbers.py); a constant
        column divides by 1, never making NaN."""
        mean, std = numbers.mean_std(values)
        self.notes += filter(None, [numbers.huge_note(name, values)])
        self.means[name] = float(mean) if pd.notna(mean) else 0.0
        self.stds[name] = float(std) if pd.notna(std) and std > 0 else 1.0
        self.columns.append(name)

    def _fit_strings(self, col: str, labels: pd.Series) -> None:
        fmt = _date_format(labels.dropna())
        if fmt is not None:
            parsed = _parse_dates(labels, fmt)
            if parsed.notna().sum() >= DATE_SHARE * labels.notna().sum():
                return self._fit_date(col, parsed, fmt)
        counts = labels.value_counts()
        words = _mean_words(counts)
        text = f"free text ({len(counts)} distinct values, ~{words:.0f} words each)"
        if len(counts) > UNIQUE_SHARE * len(labels):
            if words >= TEXT_WORDS:
                return self._leave_out(col, "text", text)
            return self._leave_out(col, "id", f"an id ({len(counts)} distinct values in {len(labels)} rows)")
        if words >= TEXT_WORDS and len(counts) > self.params.max_categories:
            return self._leave_out(col, "text", text)
        self._fit_category(col, counts)

    def _fit_date(self, col: str, parsed: pd.Series, fmt: str) -> None:
        self.kinds[col] = "date"
        self.date_formats[col] = fmt
        known = parsed.dropna()
        with_time = bool((known != known.dt.normalize()).any())
        self.date_parts[col] = list(DATE_PARTS + TIME_PARTS if with_time else DATE_PARTS)
        for part, values in _date_part_values(parsed, self.date_parts[col]).items():
            self._fit_number(f"{col}_{part}", values)

    def _fit_category(self, col: str, counts: pd.Series) -> None:
        """Keep the most frequent levels (ties by name, so refits agree); output them sorted by name."""
        p = self.params
        frequent = counts[counts >= max(p.min_category_count, 1)]
        order = pd.DataFrame({"level": frequent.index, "count": frequent.to_numpy()})
        kept = order.sort_values(["count", "level"], ascending=[False, True])["level"].head(p.max_categories)
        self.kinds[col] = "category"
        self.levels[col] = sorted(kept)
        if len(frequent) > p.max_categories:
            self.notes.append(f"{col}: {len(counts)} levels, kept the {len(kept)} most frequent")
        elif len(frequent) < len(counts):
            self.notes.append(f"{col}: {len(counts)} levels, kept the {len(kept)} seen at least "
                              f"{p.min_category_count} times")
        self.columns += [f"{col}_{level}" for level in self.levels[col]] + [f"{col}_nan"]

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Features for `frame` in exactly `self.columns` order (float32); other columns are ignored."""
        needed = [c for c, kind in self.kinds.items() if kind in ("number", "date", "category")]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataError(f"missing column(s) {', '.join(map(repr, missing))} that the features were fitted "
                            f"with ({', '.join(f'{c}: {self.kinds[c]}' for c in missing)})")
        matrix = np.zeros((len(self.columns), len(frame)), np.float32)  # a row per feature: its .T is the frame
        row = {name: i for i, name in enumerate(self.columns)}
        for col in needed:
            kind = self.kinds[col]
            if kind == "number":
                matrix[row[col]] = self._standardized(col, _numbers(frame[col]))
            elif kind == "date":
                parts = _date_part_values(_parse_dates(frame[col], self.date_formats[col]), self.date_parts[col])
                for part, values in parts.items():
                    matrix[row[f"{col}_{part}"]] = self._standardized(f"{col}_{part}", values)
            else:
                end = row[f"{col}_nan"] + 1
                self._fill_dummies(matrix[end - len(self.levels[col]) - 1:end], col, frame[col])
        return pd.DataFrame(matrix.T, index=frame.index, columns=self.columns, copy=False)

    def _standardized(self, name: str, values: pd.Series) -> np.ndarray:
        """The course's recipe: standardize with the fitted statistics, then missing -> 0. A z-score
        past float32's range becomes inf, quietly here: `Prepared.save` refuses it naming the column."""
        with np.errstate(over="ignore"):
            return numbers.standardized(values, self.means[name], self.stds[name]).fillna(0.0).to_numpy(np.float32)

    def _fill_dummies(self, block: np.ndarray, col: str, series: pd.Series) -> None:
        """One-hot of the kept levels into `block` (zeros; a row per level, then the missing indicator):
        other and unseen levels stay all zeros."""
        codes = pd.Index(self.levels[col], dtype="str").get_indexer(_labels(series))
        seen = np.flatnonzero(codes >= 0)
        block[codes[seen], seen] = 1.0
        block[-1] = series.isna().to_numpy(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON values; kinds as [column, kind] pairs, so their order survives sorted keys."""
        state = asdict(self)
        state["kinds"] = [[col, kind] for col, kind in self.kinds.items()]
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessor:
        state = dict(state)
        state["params"] = Params(**state["params"])
        state["kinds"] = {col: kind for col, kind in state["kinds"]}
        return cls(**state)

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Preprocessor:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _check_named(rows: pd.DataFrame, params: Params) -> None:
    """Columns the params name must be in the data: a typo would otherwise silently do nothing."""
    for name in ("drop_columns", "categorical"):
        absent = [c for c in getattr(params, name) if c not in rows.columns]
        if absent:
            raise DataError(f"features.{name} names column(s) not in the data: {', '.join(map(repr, absent))}; "
                            f"the columns are: {', '.join(map(str, rows.columns))}")


def _check_unique(columns: list[str]) -> None:
    """Two features with one name would make the model see one of them twice."""
    names = pd.Index(columns)
    twice = list(names[names.duplicated()].unique())
    if twice:
        raise DataError(f"feature name(s) made twice: {', '.join(map(repr, twice))} (a column named like another "
                        f"column's dummy or date part); drop or rename one of them")


def _constant_reason(series: pd.Series) -> str:
    if series.isna().all():
        return "missing in every row"
    return f"the same value ({_label(series.dropna().iloc[0])}) in every row"


def _row_id_span(series: pd.Series) -> tuple[int, int] | None:
    """(first, last) when an integer column numbers the rows: all distinct, (nearly) consecutive.
    Floats and booleans are never ids."""
    if is_bool_dtype(series) or not is_integer_dtype(series) or series.isna().any() or not series.is_unique:
        return None
    first, last = int(series.min()), int(series.max())
    return (first, last) if last - first + 1 <= ID_SPAN * len(series) else None


def _numbers(series: pd.Series) -> pd.Series:
    """Values as float64; text where a number was expected and infinities count as missing."""
    values = series.astype("float64") if is_bool_dtype(series) else pd.to_numeric(series, errors="coerce")
    return numbers.finite(values.astype("float64"))


def _labels(series: pd.Series) -> pd.Series:
    """Values as category labels (`str` dtype, missing stays missing); 3, 3.0 and "3" all read "3", so a
    code column read as ints in train and floats in test (it has gaps there) meets the same levels."""
    if isinstance(series.dtype, pd.StringDtype):
        return series
    codes, uniques = pd.factorize(series)
    names = np.array([_label(value) for value in uniques] + [None], dtype=object)
    return pd.Series(names[codes], index=series.index, dtype="str")


def _label(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _mean_words(counts: pd.Series) -> float:
    """Mean whitespace-separated words per value, over rows (`counts`: rows per distinct value)."""
    words = counts.index.to_series().str.count(r"\S+").to_numpy(float)
    return float(np.average(words, weights=counts.to_numpy())) if len(counts) else 0.0


def _date_format(values: pd.Series) -> str | None:
    """The to_datetime format that reads >= DATE_SHARE of a sample of `values` (non-missing strings) as
    dates: ISO 8601, the format guessed from the first value, then "mixed" (dateutil, per value). Plain
    numbers and values without digits ("2021", "May") are not dates."""
    if values.empty:
        return None
    sample = values.iloc[np.unique(np.linspace(0, len(values) - 1, min(len(values), DATE_SAMPLE)).astype(int))]
    datelike = sample.str.contains(r"\d", regex=True) & pd.to_numeric(sample, errors="coerce").isna()
    if datelike.mean() < DATE_SHARE:
        return None
    for fmt in dict.fromkeys(["ISO8601", guess_datetime_format(sample.iloc[0]) or "ISO8601", "mixed"]):
        if (_parse_dates(sample, fmt).notna() & datelike).mean() >= DATE_SHARE:
            return fmt
    return None


def _parse_dates(series: pd.Series, fmt: str) -> pd.Series:
    """Naive datetimes (UTC for values with a zone); unreadable -> NaT. Each distinct value is parsed once."""
    if is_datetime64_any_dtype(series):
        values = pd.to_datetime(series, utc=True)
        return values.dt.tz_convert(None)
    codes, uniques = pd.factorize(series)
    with warnings.catch_warnings():  # "mixed" warns that it parses value by value
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(pd.Index(uniques, dtype=object).astype(str), format=fmt, errors="coerce", utc=True)
    table = np.append(parsed.tz_convert(None).to_numpy("datetime64[ns]"), np.datetime64("NaT", "ns"))
    return pd.Series(table[codes], index=series.index)


def _date_part_values(parsed: pd.Series, parts: list[str]) -> dict[str, pd.Series]:
    """Each part as float64 (NaT -> NaN)."""
    return {part: getattr(parsed.dt, PART_ATTRIBUTES.get(part, part)).astype("float64") for part in parts}


def read_dates(series: pd.Series) -> pd.Series | None:
    """The column as naive datetimes when its values read as dates (as `Preprocessor.fit` would
    treat it), else None: numbers and booleans are never dates."""
    if is_datetime64_any_dtype(series):
        return _parse_dates(series, "ISO8601")
    if is_bool_dtype(series) or is_numeric_dtype(series):
        return None
    labels = _labels(series)
    fmt = _date_format(labels.dropna())
    if fmt is None:
        return None
    parsed = _parse_dates(labels, fmt)
    return parsed if parsed.notna().sum() >= DATE_SHARE * labels.notna().sum() else None
