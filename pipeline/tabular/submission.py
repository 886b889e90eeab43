"""Write a competition's submission in Kaggle's format and refuse a file Kaggle would reject.

The competition's own sample submission is the specification: its header, its ids (and their
order), and its value type. A regression writes numbers; a classification writes labels as
the sample has them (integers stay integers), P(class 1) when a binary task is ranked by AUC
or log loss, or one probability column per class when the sample has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.files import first_non_utf8, write_csv

from .tasks import class_index, positive_probability

PROBABILITY_METRICS = ("auc", "logloss")


@dataclass(frozen=True)
class SubmissionFormat:
    """What the sample submission asks for."""

    id: str
    columns: tuple[str, ...]  # the value columns, in the sample's order
    kind: str  # "value" | "label" | "probability" | "class_probabilities"
    integer: bool  # the sample's values are integers (labels written as integers)
    domain: str = "any"  # "positive" or "non_negative" for a metric on logs

    @property
    def header(self) -> list[str]:
        return [self.id, *self.columns]


def submission_format(sample: pd.DataFrame, task: str, metric: str, classes: list, domain: str,
                      where: str) -> SubmissionFormat:
    """Read the format off the sample submission; a sample that fits no format is a DataError."""
    id_column, columns = str(sample.columns[0]), tuple(map(str, sample.columns[1:]))
    if not columns:
        raise DataError(f"{where}: the sample submission has only the id column {id_column!r}")
    # integer labels (0/1, 1..7) are written as integers; True/False stay words, as the sample has them
    integer = all(pd.api.types.is_integer_dtype(sample[c]) and not pd.api.types.is_bool_dtype(sample[c])
                  for c in sample.columns[1:])
    if task == "regression":
        if len(columns) != 1:
            raise DataError(f"{where}: a regression submission has one value column; the sample has "
                            f"{', '.join(columns)}")
        return SubmissionFormat(id_column, columns, "value", False, domain)
    if len(columns) > 1:
        _class_columns(columns, classes, where)  # fails naming both when they do not match
        return SubmissionFormat(id_column, columns, "class_probabilities", False)
    kind = "probability" if task == "binary" and metric in PROBABILITY_METRICS else "label"
    return SubmissionFormat(id_column, columns, kind, integer)


def read_sample(path: Path, task: str, metric, classes: list) -> tuple[pd.DataFrame, SubmissionFormat]:
    """The competition's sample submission and the format it asks for (`metric`: a tasks.Metric)."""
    sample = pd.read_csv(path)
    return sample, submission_format(sample, task, metric.name, classes, metric.target_domain, where=str(path))


def _class_columns(columns: tuple[str, ...], classes: list, where: str) -> list[int]:
    """For each sample column, the index of its class: `Class_3` or `3` names class 3."""
    names = [str(c) for c in classes]
    found = []
    for column in columns:
        matches = [i for i, name in enumerate(names) if column == name or column.endswith(f"_{name}")]
        if len(matches) != 1:
            raise DataError(f"{where}: sample column {column!r} names no single training label; "
                            f"labels: {', '.join(names)}; sample columns: {', '.join(columns)}")
        found.append(matches[0])
    if sorted(found) != list(range(len(names))):
        raise DataError(f"{where}: the sample's columns {', '.join(columns)} do not cover the training labels "
                        f"{', '.join(names)} once each")
    return found


def values_frame(fmt: SubmissionFormat, ids: np.ndarray, predicted: np.ndarray, classes: list,
                 threshold: float = 0.5) -> pd.DataFrame:
    """The submission rows for `ids` from predictions in the original units (regression) or
    probabilities (classification)."""
    frame = pd.DataFrame({fmt.id: ids})
    if fmt.kind == "value":
        values = np.asarray(predicted, dtype=np.float64)
        # a metric on log(1 + value) refuses negatives; a model may dip just below 0 on a few rows
        frame[fmt.columns[0]] = np.clip(values, 0.0, None) if fmt.domain == "non_negative" else values
    elif fmt.kind == "probability":
        frame[fmt.columns[0]] = positive_probability(predicted)
    elif fmt.kind == "label":
        labels = np.asarray(classes, dtype=object)[class_index(predicted, threshold)]
        frame[fmt.columns[0]] = labels.astype(np.int64) if fmt.integer else labels
    else:
        probabilities = np.asarray(predicted, dtype=np.float64)
        for column, index in zip(fmt.columns, _class_columns(fmt.columns, classes, fmt.id)):
            frame[column] = probabilities[:, index]
    return frame


def write_submission(path: Path, frame: pd.DataFrame, sample: pd.DataFrame, fmt: SubmissionFormat,
                     classes: list) -> pd.DataFrame:
    """Put the rows in the sample's id order, check them, and only then write the file atomically."""
    order = pd.Index(frame[fmt.id]).get_indexer(sample[fmt.id])
    if (order < 0).any():
        missing = sample[fmt.id][order < 0].head(3).tolist()
        raise DataError(f"{path}: no prediction for {fmt.id} {missing} of the sample submission")
    frame = frame.iloc[order].reset_index(drop=True)
    check_frame(frame, sample, fmt, classes, where=str(path))
    write_csv(path, frame)
    return frame


def read_submission(path: Path) -> pd.DataFrame:
    """A written submission as Kaggle reads it (UTF-8 CSV)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: submission not found")
    try:
        return pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError as exc:  # Kaggle reads UTF-8: a file saved in another encoding, or not text
        raise DataError(f"{path}: not UTF-8 text ({first_non_utf8(path)})") from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc})") from exc


def check_frame(frame: pd.DataFrame, sample: pd.DataFrame, fmt: SubmissionFormat, classes: list,
                where: str) -> None:
    """The sample's header, every sample id exactly once in its order, values of the right type."""
    if list(map(str, frame.columns)) != fmt.header:
        raise DataError(f"{where}: header must be exactly '{','.join(fmt.header)}' (the sample submission's), "
                        f"got '{','.join(map(str, frame.columns))}'")
    _check_ids(frame[fmt.id], sample[fmt.id], fmt.id, where)
    ids = frame[fmt.id]
    for column in fmt.columns:
        _check_values(frame[column], fmt, column, classes, ids, where)


def _check_ids(ids: pd.Series, expected: pd.Series, name: str, where: str) -> None:
    got, want = ids.astype(str).to_numpy(), expected.astype(str).to_numpy()
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise DataError(f"{where}: column {name} repeats {duplicated.head(3).tolist()}")
    missing, extra = np.setdiff1d(want, got), np.setdiff1d(got, want)
    if len(missing) or len(extra):
        raise DataError(f"{where}: {name} values differ from the sample submission: "
                        f"{len(missing)} missing (e.g. {missing[:3].tolist()}), {len(extra)} unexpected "
                        f"(e.g. {extra[:3].tolist()})")
    if not np.array_equal(got, want):
        raise DataError(f"{where}: {name} values are not in the sample submission's order")


def _check_values(values: pd.Series, fmt: SubmissionFormat, column: str, classes: list, ids: pd.Series,
                  where: str) -> None:
    if fmt.kind == "label":
        allowed = {str(c) for c in classes}
        bad = ~values.astype(str).isin(allowed)
        if bad.any():
            raise DataError(f"{where}: column {column} must hold training labels ({', '.join(sorted(allowed))}); "
                            f"{int(bad.sum())} bad value(s) for {fmt.id} {ids[bad].head(3).tolist()}")
        if fmt.integer and not pd.api.types.is_integer_dtype(values):
            raise DataError(f"{where}: column {column} must be integers, as in the sample submission")
        return
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    rule = "finite"
    if fmt.kind in ("probability", "class_probabilities"):
        bad |= (numbers < 0) | (numbers > 1)
        rule = "a probability in [0, 1]"
    elif fmt.domain == "positive":
        bad |= numbers <= 0
        rule = "finite and positive"
    elif fmt.domain == "non_negative":
        bad |= numbers < 0
        rule = "finite and >= 0"
    if bad.any():
        raise DataError(f"{where}: column {column} must be {rule}; {int(bad.sum())} bad value(s) "
                        f"for {fmt.id} {ids[bad].head(3).tolist()}")
