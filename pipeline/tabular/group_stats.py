"""Out-of-fold group statistics: what the training labels say about a row's own group.

Some columns link rows across train and test without being features a model can use as they
are: a ticket shared by a family, a family name inside a passenger's name, a store or customer
id. Each has too many values to one-hot, so the generic preprocessing leaves them out. What
they carry is the outcome of the row's group-mates: a family that survived, a store that sells.

`discover` finds such keys from the files (string columns whose values repeat within train and
reappear in test; for free text, its first word), the preprocess stage stores them beside the
features, and `GroupEncoder` turns them into features *inside each training fold only*: the
smoothed mean target of the row's group among that fold's training rows, and how many labelled
rows that was. The rows a model is fitted on get values computed without their own label (inner
folds), the rows it is scored on (a validation fold, the test) from all the rows it was fitted
on, and test labels never exist: so the out-of-fold score stays honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from pipeline.errors import ParamError
from pipeline.params import require

FIRST_WORD = ":first_word"  # a key derived from a text column: its first word (a family name)
MIN_DISTINCT = 31  # fewer values than this are categories the generic one-hot already encodes
TEXT_WORDS = 3  # mean words per value from which a column is text (its first word may be a key)
KEY_PREFIX = "group:"  # the key columns beside the features in train/test.parquet


@dataclass
class GroupStatsParams:
    """`competitions.<key>.group_stats`: which columns become out-of-fold group statistics."""

    columns: str | list[str] = "auto"  # auto | none | column names (COL:first_word: the first word of COL)
    smoothing: float = 10.0  # a group of n labelled rows weighs its own mean n / (n + smoothing)
    min_linked_share: float = 0.2  # auto: share of test rows (and of train rows) a key must link
    inner_folds: int = 5  # fitted rows get values from the other inner folds, never their own label

    def validate(self, where: str) -> None:
        if isinstance(self.columns, str):
            require(self.columns in ("auto", "none"), f"{where}.columns",
                    f"must be auto, none or a list of column names; got {self.columns!r}")
        require(self.smoothing >= 0, f"{where}.smoothing", f"must be >= 0, got {self.smoothing}")
        require(0 < self.min_linked_share <= 1, f"{where}.min_linked_share",
                f"must be in (0, 1], got {self.min_linked_share}")
        require(self.inner_folds >= 2, f"{where}.inner_folds", f"must be >= 2, got {self.inner_folds}")


def key_values(frame: pd.DataFrame, name: str) -> pd.Series:
    """A key's values as strings (missing stays missing): the column, or its first word."""
    column = name.removesuffix(FIRST_WORD)
    values = frame[column]
    text = values.astype("str") if not isinstance(values.dtype, pd.StringDtype) else values
    text = text.where(values.notna())
    if name.endswith(FIRST_WORD):
        text = text.str.extract(r"^\s*([^\s,]+)", expand=False)
    return text.str.strip().replace("", pd.NA)


def discover(train: pd.DataFrame, test: pd.DataFrame, skip: list[str], params: GroupStatsParams,
             where: str = "group_stats") -> tuple[list[str], list[str]]:
    """(keys, notes): the columns (or first words of text columns) that link rows across train
    and test, as `params.columns` asks. `skip`: the id and the target."""
    if params.columns == "none":
        return [], []
    if isinstance(params.columns, list):
        for name in params.columns:
            column = name.removesuffix(FIRST_WORD)
            for label, frame in (("train.csv", train), ("test.csv", test)):
                if column not in frame.columns:
                    raise ParamError(f"params.yaml: '{where}.columns' names {name!r}; {label} has no column "
                                     f"{column!r}")
        return list(params.columns), [f"{name}: out-of-fold group statistics (named in {where}.columns)"
                                      for name in params.columns]
    keys, notes = [], []
    for column in train.columns:
        if column in skip or column not in test.columns:
            continue
        values = train[column]
        if is_bool_dtype(values) or is_numeric_dtype(values):
            continue  # numbers are features; an id-like number is named in group_stats.columns
        names = [column]
        if _mean_words(values) >= TEXT_WORDS:
            names = [column + FIRST_WORD]  # free text: the whole value names a row, its first word a family
        for name in names:
            linked = _linked_shares(key_values(train, name), key_values(test, name))
            if linked is None:
                continue
            train_share, test_share, distinct = linked
            if min(train_share, test_share) >= params.min_linked_share:
                keys.append(name)
                notes.append(f"{name}: links {test_share:.0%} of test rows to train rows ({distinct} values): "
                             f"out-of-fold group statistics")
    return keys, notes


def _mean_words(values: pd.Series) -> float:
    text = values.dropna().astype("str")
    return float(text.str.count(r"\S+").mean()) if len(text) else 0.0


def _linked_shares(train: pd.Series, test: pd.Series) -> tuple[float, float, int] | None:
    """(share of train rows whose value another train row has, share of test rows whose value
    train has, distinct values), or None for a low-cardinality column."""
    counts = train.value_counts()
    if len(counts) < MIN_DISTINCT:
        return None
    repeated = float(train.map(counts).gt(1).mean())
    linked = float(test.isin(counts.index).mean())
    return repeated, linked, len(counts)


def _targets(y: np.ndarray, n_classes: int) -> np.ndarray:
    """What is averaged per group: the target (regression, binary) or each class's indicator."""
    if n_classes > 2:
        return np.eye(n_classes)[y.astype(np.int64)]
    return np.asarray(y, np.float64)[:, None]


@dataclass
class GroupEncoder:
    """Group statistics of `keys` (codes per row and key, -1 = missing) from labels `y`."""

    train_codes: np.ndarray  # (n_train, n_keys) int
    y: np.ndarray  # target space: number, 0/1, or class index
    n_classes: int  # 0 regression, 2 binary, k multiclass
    params: GroupStatsParams
    names: list[str]
    test_codes: np.ndarray | None = None  # (n_test, n_keys): what the submission predicts

    @property
    def _mean_columns(self) -> int:
        return self.n_classes - 1 if self.n_classes > 2 else 1  # the last class's share follows from the rest

    @property
    def n_columns(self) -> int:
        return len(self.names) * (self._mean_columns + 1)

    @property
    def columns(self) -> list[str]:
        means = [f"_mean_{k}" for k in range(self._mean_columns)] if self.n_classes > 2 else ["_mean"]
        return [f"group_{name.replace(':', '_')}{suffix}" for name in self.names for suffix in (*means, "_count")]

    def encode(self, fit_rows: np.ndarray, apply_codes: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(features of the fitted rows, features of the rows `apply_codes` describes). Fitted rows
        get statistics from the other inner folds of the fitted rows; applied rows from all of them."""
        fit_index = np.flatnonzero(fit_rows)
        targets = _targets(self.y, self.n_classes)
        inner = np.random.default_rng(seed).permutation(len(fit_index)) % self.params.inner_folds
        fitted = np.empty((len(fit_index), self.n_columns), np.float32)
        for fold in range(self.params.inner_folds):
            source, target = fit_index[inner != fold], inner == fold
            fitted[target] = self._features(source, self.train_codes[fit_index[target]], targets)
        return fitted, self._features(fit_index, apply_codes, targets)

    def _features(self, source: np.ndarray, codes: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Per key: the smoothed mean target of each row's group among `source` rows (as a
        difference from their overall mean; classes but the last), and log1p of the group's size."""
        prior = targets[source].mean(axis=0) if len(source) else np.zeros(targets.shape[1])
        blocks = []
        for k in range(codes.shape[1]):
            n_codes = int(max(self.train_codes[:, k].max(initial=-1), codes[:, k].max(initial=-1))) + 1
            source_codes = self.train_codes[source, k]
            known = source_codes >= 0
            sums = np.zeros((n_codes + 1, targets.shape[1]))
            np.add.at(sums, source_codes[known], targets[source][known])
            counts = np.bincount(source_codes[known], minlength=n_codes + 1).astype(np.float64)
            row = np.where(codes[:, k] >= 0, codes[:, k], n_codes)  # missing: the empty last group
            m = self.params.smoothing
            means = (sums[row] + m * prior) / (counts[row][:, None] + m) - prior if m > 0 or counts.any() \
                else np.zeros((len(row), targets.shape[1]))
            means = np.nan_to_num(means)  # a group of none with no smoothing: no evidence, 0
            shown = means[:, :-1] if targets.shape[1] > 2 else means
            blocks += [shown, np.log1p(counts[row])[:, None]]
        return np.hstack(blocks).astype(np.float32) if blocks else np.empty((len(codes), 0), np.float32)


def codes(train_keys: pd.DataFrame, test_keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes per key shared by train and test (-1: missing)."""
    train_codes, test_codes = [], []
    for name in train_keys.columns:
        values = pd.concat([train_keys[name], test_keys[name]], ignore_index=True)
        coded = pd.factorize(values)[0]
        train_codes.append(coded[: len(train_keys)])
        test_codes.append(coded[len(train_keys):])
    shape = (len(train_keys), 0), (len(test_keys), 0)
    return (np.column_stack(train_codes) if train_codes else np.empty(shape[0], np.int64),
            np.column_stack(test_codes) if test_codes else np.empty(shape[1], np.int64))


def encoder(prepared, n_classes: int, params: GroupStatsParams) -> GroupEncoder | None:
    """The encoder of the keys preprocess stored beside the features (None when it found none)."""
    if not prepared.group_keys:
        return None
    train_codes, test_codes = prepared.group_codes()
    return GroupEncoder(train_codes, prepared.y(), n_classes, params, prepared.group_keys, test_codes)
