"""The preprocess stage's output on disk: features, target and flags for train; features for test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import REPO_ROOT
from pipeline.errors import DataError
from pipeline.files import atomic_path

from .data import TARGET
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
        directory.mkdir(parents=True, exist_ok=True)
        for name, frame in (("train", self.train), ("test", self.test)):
            with atomic_path(directory / f"{name}.parquet") as tmp:
                frame.to_parquet(tmp, index=False)
        self.preprocessor.save(directory / "preprocessor.json")

    @classmethod
    def load(cls, directory: Path = PROCESSED_DIR) -> "Prepared":
        paths = [directory / "train.parquet", directory / "test.parquet", directory / "preprocessor.json"]
        for path in paths:
            if not path.is_file():
                raise DataError(f"{path}: not found (run `python cli.py house preprocess` or `dvc repro`)")
        return cls(pd.read_parquet(paths[0]), pd.read_parquet(paths[1]), Preprocessor.load(paths[2]))
