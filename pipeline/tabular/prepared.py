"""The preprocess stage's output on disk, the one input of every later stage.

`train.parquet` and `test.parquet` hold the id and the model-ready features; `labels.parquet`
holds per training row the original target (`label`), the target in target space (`y`: the
transformed number, or the class index) and the outlier flag; `meta.json` says what they mean
(task, classes, transform, feature columns). Labels live apart from the features so that no
feature name can clash with them. Reading these needs no features module: training, blending
and predicting never import the competition's feature code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.files import atomic_path

from .paths import stage_stem

FILES = ("train.parquet", "test.parquet", "labels.parquet", "meta.json")


@dataclass
class Prepared:
    train: pd.DataFrame  # id, features...
    test: pd.DataFrame  # id, features...
    labels: pd.DataFrame  # id, label, y, is_outlier
    meta: dict[str, Any]  # id, target, task, classes, target_transform, columns, notes

    @property
    def feature_columns(self) -> list[str]:
        return self.meta["columns"]

    @property
    def id_column(self) -> str:
        return self.meta["id"]

    @property
    def task(self) -> str:
        return self.meta["task"]

    @property
    def classes(self) -> list:
        return self.meta["classes"]

    def X(self) -> np.ndarray:
        return self.train[self.feature_columns].to_numpy(np.float32)

    def X_test(self) -> np.ndarray:
        return self.test[self.feature_columns].to_numpy(np.float32)

    def y(self) -> np.ndarray:
        """Target space: the transformed number, or the class index (int)."""
        y = self.labels["y"].to_numpy()
        return y.astype(np.int64) if self.task != "regression" else y.astype(np.float64)

    def truth(self) -> np.ndarray:
        """What metrics compare with: the target's own values (regression) or class indices."""
        return self.labels["label"].to_numpy(np.float64) if self.task == "regression" else self.y()

    def ids(self) -> np.ndarray:
        return self.train[self.id_column].to_numpy()

    def test_ids(self) -> np.ndarray:
        return self.test[self.id_column].to_numpy()

    def outliers(self) -> np.ndarray:
        return self.labels["is_outlier"].to_numpy(bool)

    def cv_scheme(self) -> dict[str, Any]:
        """How preprocess chose to deal rows to folds (pipeline/tabular/validation.py); files from
        before schemes existed: stratified for classification, random for regression."""
        default = "stratified" if self.task != "regression" else "random"
        return self.meta.get("cv_scheme") or {"kind": default, "column": "", "ordered": False,
                                               "reason": "the default of its task"}

    def blocks(self) -> np.ndarray | None:
        """Per training row, the block its fold must keep whole (None: rows are dealt one by one)."""
        return self.labels["block"].to_numpy(np.int64) if "block" in self.labels.columns else None

    @property
    def group_keys(self) -> list[str]:
        return list(self.meta.get("group_keys", []))

    def group_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(train, test) integer codes of the group keys (pipeline/tabular/group_stats.py)."""
        from .group_stats import KEY_PREFIX, codes

        names = [KEY_PREFIX + key for key in self.group_keys]
        return codes(self.train[names], self.test[names])

    def save(self, directory: Path, sources: tuple[str, str] = ("train rows", "test rows")) -> None:
        """Write the four files together: each lands only once all are written in full (a full
        disk or a read-only folder leaves the earlier ones as they were). Non-finite features write
        nothing: an error names the column and the `sources` (train's and test's file) row."""
        for frame, source in zip((self.train, self.test), sources):
            _check_finite(frame, self.feature_columns, self.id_column, source)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "train.parquet") as train:  # nested: an error names the file it hit
            self.train.to_parquet(train, index=False)
            with atomic_path(directory / "test.parquet") as test:
                self.test.to_parquet(test, index=False)
                with atomic_path(directory / "labels.parquet") as labels:
                    self.labels.to_parquet(labels, index=False)
                    with atomic_path(directory / "meta.json") as meta:
                        meta.write_text(json.dumps(self.meta, indent=2, sort_keys=True, default=_plain) + "\n")

    @classmethod
    def load(cls, directory: Path, key: str = "") -> Prepared:
        """Read what preprocess wrote; a missing, damaged or foreign file is a DataError naming it."""
        rebuild = f"; rebuild it with `dvc repro {stage_stem(key)}_preprocess`" if key else ""
        paths = [directory / name for name in FILES]
        for path in paths:
            if not path.is_file():
                raise DataError(f"{path}: not found (run `python cli.py competition preprocess "
                                f"{key or 'KEY'}` or `dvc repro`)")
        train, test, labels = (_read_parquet(path, rebuild) for path in paths[:3])
        try:
            meta = json.loads(paths[3].read_text())
            columns, id_column = list(meta["columns"]), meta["id"]
            columns += ["group:" + key for key in meta.get("group_keys", [])]  # group_stats.KEY_PREFIX
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{paths[3]}: not the metadata `preprocess` writes "
                            f"({exc.__class__.__name__}: {exc}){rebuild}") from exc
        for path, frame, needed in ((paths[0], train, [id_column, *columns]), (paths[1], test, [id_column, *columns]),
                                    (paths[2], labels, [id_column, "label", "y", "is_outlier"])):
            missing = [c for c in needed if c not in frame.columns]
            if missing:
                raise DataError(f"{path}: lacks column(s) {', '.join(map(str, missing[:5]))}"
                                f"{f' and {len(missing) - 5} more' if len(missing) > 5 else ''} that "
                                f"{paths[3].name} names{rebuild}")
        if len(labels) != len(train) or not np.array_equal(labels[id_column].to_numpy(), train[id_column].to_numpy()):
            raise DataError(f"{paths[2]}: its rows are not train.parquet's{rebuild}")
        return cls(train, test, labels, meta)


def _check_finite(frame: pd.DataFrame, columns: list[str], id_column: str, source: str) -> None:
    """Every feature a finite number: a model fed inf or NaN fails far from the cause, or learns zeros."""
    values = frame[columns].to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        col = int(np.flatnonzero(bad.any(axis=0))[0])
        rows = np.flatnonzero(bad[:, col])
        kind = "inf" if np.isinf(values[rows, col]).any() else "NaN"
        raise DataError(f"{source}: feature {columns[col]!r} is {kind} in {len(rows)} row(s) ({id_column} "
                        f"{frame[id_column].iloc[rows[:3]].tolist()}) after preprocessing (a value too far from "
                        f"the others to standardise in float32?); nothing written")


def _plain(value):
    """NumPy scalars (class labels read by pandas) as plain JSON values."""
    return value.item() if hasattr(value, "item") else str(value)


def _read_parquet(path: Path, rebuild: str) -> pd.DataFrame:
    import pyarrow

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:  # truncated, overwritten, not parquet at all
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise DataError(f"{path}: not a readable parquet file ({first}){rebuild}") from exc
