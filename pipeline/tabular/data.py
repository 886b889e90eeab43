"""Load a competition's CSVs and refuse bad input with one error line that names the file,
the param and the columns the file has.

Only the competition's `train.csv` carries labels; nothing here reads any other source of
them (public copies of full data sets hold the test labels: using them would be leakage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DataError, MissingColumns

from .config import CompetitionParams


@dataclass
class CompetitionData:
    train: pd.DataFrame  # id, features, target
    test: pd.DataFrame  # id, features (the columns train has, in train's order)
    sample: pd.DataFrame  # the competition's sample submission
    classes: list = field(default_factory=list)  # classification: the training labels, sorted
    notes: list[str] = field(default_factory=list)  # columns left out, and why
    left_out: list[str] = field(default_factory=list)  # train's columns that test lacks (in the notes)
    paths: dict[str, Path] = field(default_factory=dict)  # role (train, test, ...) -> the file read


def class_labels(values: pd.Series) -> list:
    """A target's distinct labels in class-index order: sorted (numbers as numbers, 2 before 10;
    mixed types grouped by type), missing values left out."""
    return sorted(values.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))


def columns_of(frame: pd.DataFrame) -> str:
    """A file's columns for an error line: the first 30 and how many more."""
    names = [str(c) for c in frame.columns]
    return ", ".join(names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")


def read_csv(path: Path, key: str = "", label: str = "") -> pd.DataFrame:
    """Read a CSV, failing in one line naming it (`label`, else its path) when it is missing,
    empty or not a CSV."""
    label = label or str(path)
    if not path.is_file():
        raise DataError(f"{label}: file not found (run `python cli.py download {key or 'KEY'}` or `dvc repro`)")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{label}: file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{label}: not a readable CSV ({exc})") from exc
    if frame.empty:
        raise DataError(f"{label}: has a header but no rows")
    return frame


def _require_column(frame: pd.DataFrame, column: str, path: Path, param: str) -> None:
    if column not in frame.columns:
        raise DataError(f"{path}: no column {column!r} (params.yaml '{param}'); its columns: {columns_of(frame)}")


def _unique_ids(frame: pd.DataFrame, column: str, path: Path) -> None:
    if frame[column].duplicated().any():
        dupes = frame.loc[frame[column].duplicated(), column].head(3).tolist()
        raise DataError(f"{path}: column {column} has duplicate values, e.g. {dupes}")


def _check_target(train: pd.DataFrame, p: CompetitionParams, path: Path) -> list:
    """A regression target must be a finite number (positive where the metric or transform takes
    logs); a classification target must not be missing. Returns the classes (sorted labels)."""
    values = train[p.target]
    if p.task == "regression":
        numbers = pd.to_numeric(values, errors="coerce")
        positive = p.target_transform == "log" or p.metric_spec.target_domain == "positive"
        non_negative = p.target_transform == "log1p" or p.metric_spec.target_domain == "non_negative"
        bad = numbers.isna() | ~np.isfinite(numbers)
        if positive or non_negative:
            bad |= (numbers <= 0) if positive else (numbers < 0)
        if bad.any():
            rows = train.loc[bad, p.id].head(3).tolist()
            kind = "a positive number" if positive else "a number >= 0" if non_negative else "a finite number"
            raise DataError(f"{path}: column {p.target} must be {kind} in every row "
                            f"({p.where}.task is regression, metric {p.metric}); {int(bad.sum())} bad row(s), "
                            f"e.g. {p.id} {rows} = {values[bad].head(3).tolist()}")
        train[p.target] = numbers.astype(float)
        return []
    if values.isna().any():
        rows = train.loc[values.isna(), p.id].head(3).tolist()
        raise DataError(f"{path}: column {p.target} is missing in {int(values.isna().sum())} row(s), e.g. "
                        f"{p.id} {rows}; every training row needs a label")
    classes = class_labels(values)
    want = "exactly 2" if p.task == "binary" else "at least 3"
    if (p.task == "binary") != (len(classes) == 2) or len(classes) < 2:
        raise DataError(f"{path}: column {p.target} has {len(classes)} distinct label(s) "
                        f"({', '.join(map(str, classes[:10]))}); '{p.where}.task' is {p.task}, which needs {want}")
    return classes


def load(p: CompetitionParams, raw_dir: Path | None = None) -> CompetitionData:
    """Read train, test and the sample submission; check ids, target and shared columns."""
    raw_dir = raw_dir or p.paths.raw
    paths = {role: raw_dir / p.files[role].basename for role in ("train", "test", "sample_submission")}
    train, test = read_csv(paths["train"], p.key), read_csv(paths["test"], p.key)
    sample = read_csv(paths["sample_submission"], p.key)
    _require_column(train, p.target, paths["train"], f"{p.where}.target")
    for role, frame in (("train", train), ("test", test), ("sample_submission", sample)):
        _require_column(frame, p.id, paths[role], f"{p.where}.id")
        _unique_ids(frame, p.id, paths[role])
    if p.target in test.columns:
        raise DataError(f"{paths['test']}: has the target column {p.target!r} ('{p.where}.target'); a "
                        f"competition's test set must not: is the target right? test's columns: {columns_of(test)}")
    if sample.columns[0] != p.id:
        raise DataError(f"{paths['sample_submission']}: first column is {sample.columns[0]!r}, not the id "
                        f"column {p.id!r} ('{p.where}.id'); its columns: {columns_of(sample)}")
    _check_sample_ids(sample, test, p, paths)
    classes = _check_target(train, p, paths["train"])
    features = [c for c in train.columns if c not in (p.id, p.target)]
    unknown_at_test = [c for c in features if c not in test.columns]
    notes = [f"{c}: in {paths['train'].name} but not in {paths['test'].name}: left out (not known at prediction "
             f"time)" for c in unknown_at_test]
    features = [c for c in features if c not in unknown_at_test]
    return CompetitionData(train=train[[p.id, *features, p.target]], test=test[[p.id, *features]],
                           sample=sample, classes=classes, notes=notes, left_out=unknown_at_test, paths=paths)


def lacking_file(raw: CompetitionData, missing: MissingColumns) -> DataError:
    """The error naming the file without the columns a features module needs: test's, for a column
    only train has (left out of both, as it is not known at prediction time), else train's."""
    in_train = [c for c in missing.columns if c in raw.left_out]
    role, columns = ("test", in_train) if in_train else ("train", missing.columns)
    said = f" ({raw.paths['train'].name} has {'it' if len(columns) == 1 else 'them'})" if in_train else ""
    return DataError(f"{raw.paths[role]}: no column(s) {', '.join(map(repr, columns))}{said}, which "
                     f"{missing.why} needs")


def feature_columns(test: pd.DataFrame, id_column: str) -> list[str]:
    """The columns features are made of: test's, less the id, unless the id holds more than a row
    number (Bike Sharing's `datetime` id is the hour ridden): an id that is not a number is
    handed to the preprocessing too, which keeps dates and leaves out codes as ids."""
    columns = [c for c in test.columns if c != id_column]
    return columns if pd.api.types.is_numeric_dtype(test[id_column]) else [id_column, *columns]


def _check_sample_ids(sample: pd.DataFrame, test: pd.DataFrame, p: CompetitionParams, paths: dict) -> None:
    """The sample submission must list exactly test's ids: else a submission cannot match both."""
    sample_ids, test_ids = set(sample[p.id].astype(str)), set(test[p.id].astype(str))
    if sample_ids != test_ids:
        only_sample, only_test = sorted(sample_ids - test_ids)[:3], sorted(test_ids - sample_ids)[:3]
        raise DataError(f"{paths['sample_submission']}: its {p.id} values differ from {paths['test'].name}'s "
                        f"({len(sample_ids - test_ids)} only in the sample, e.g. {only_sample}; "
                        f"{len(test_ids - sample_ids)} only in test, e.g. {only_test}); is '{p.where}.id' right?")
