"""The preprocess stage's output on disk: features, target and flags for train; features for test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import REPO_ROOT
from pipeline.errors import DataError
from pipeline.files import atomic_path

from .data import ID, TARGET
from .features import Preprocessor

PROCESSED_DIR = REPO_ROOT / "data" / "processed" / "house-prices"


@dataclass
class Prepared:
    train: pd.DataFrame  # Id, SalePrice, target, is_outlier, features...
    test: pd.DataFrame  # Id, features...
    preprocessor: Preprocessor

    @property
    def feature_columns(self) -> list[str]:
        return self.preprocessor.columns

    @property
    def log_target(self) -> bool:
        return self.preprocessor.params.log_target

    def X(self) -> np.ndarray:
        return self.train[self.feature_columns].to_numpy(np.float32)

    def X_test(self) -> np.ndarray:
        return self.test[self.feature_columns].to_numpy(np.float32)

    def y(self) -> np.ndarray:
        return self.train["target"].to_numpy(np.float64)

    def prices(self) -> np.ndarray:
        return self.train[TARGET].to_numpy(np.float64)

    def outliers(self) -> np.ndarray:
        return self.train["is_outlier"].to_numpy(bool)

    def save(self, directory: Path = PROCESSED_DIR) -> None:
        """Write the three files together: each lands only once all three are written in full
        (a full disk or a read-only folder leaves the earlier three as they were)."""
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "train.parquet") as train:  # nested: an error names the file it hit
            self.train.to_parquet(train, index=False)
            with atomic_path(directory / "test.parquet") as test:
                self.test.to_parquet(test, index=False)
                with atomic_path(directory / "preprocessor.json") as state:
                    self.preprocessor.save(state)

    @classmethod
    def load(cls, directory: Path = PROCESSED_DIR) -> Prepared:
        """Read what preprocess wrote; a missing, damaged or foreign file is a DataError naming it."""
        paths = [directory / "train.parquet", directory / "test.parquet", directory / "preprocessor.json"]
        for path in paths:
            if not path.is_file():
                raise DataError(f"{path}: not found (run `python cli.py house preprocess` or `dvc repro`)")
        train, test = _read_parquet(paths[0]), _read_parquet(paths[1])
        try:
            preprocessor = Preprocessor.load(paths[2])
        except (OSError, ValueError, KeyError, TypeError) as exc:  # not JSON, or not a preprocessor's state
            raise DataError(f"{paths[2]}: not a preprocessor written by `house preprocess` "
                            f"({exc.__class__.__name__}: {exc}){_REBUILD}") from exc
        columns = list(preprocessor.columns)
        for path, frame, needed in ((paths[0], train, [ID, TARGET, "target", "is_outlier", *columns]),
                                    (paths[1], test, [ID, *columns])):
            missing = [c for c in needed if c not in frame.columns]
            if missing:
                raise DataError(f"{path}: lacks column(s) {', '.join(missing[:5])}"
                                f"{f' and {len(missing) - 5} more' if len(missing) > 5 else ''} that "
                                f"{paths[2].name} names{_REBUILD}")
        return cls(train, test, preprocessor)


_REBUILD = "; rebuild it with `dvc repro house_preprocess`"


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:  # truncated, overwritten, not parquet at all
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise DataError(f"{path}: not a readable parquet file ({first}){_REBUILD}") from exc
