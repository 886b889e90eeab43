"""Load the competition's CSVs and refuse bad input with errors that name the file and column.

Only the competition's `train.csv` carries prices; nothing here reads any other source of
prices (the public Ames data set holds the test houses' prices: using it would be leakage).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.datasets import DATASETS, dataset_dir
from pipeline.errors import DataError

ID = "Id"
TARGET = "SalePrice"
RAW_DIR = dataset_dir("house-prices")
TRAIN_FILE, TEST_FILE, SAMPLE_FILE, DESCRIPTION_FILE = (f.basename for f in DATASETS["house-prices"].files)


@dataclass
class HouseData:
    train: pd.DataFrame  # Id, features, SalePrice
    test: pd.DataFrame  # Id, features


def read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV, failing clearly when it is missing, empty or lacks a required column."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (run `python cli.py download house-prices` or `dvc repro`)")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc})") from exc
    if frame.empty:
        raise DataError(f"{path}: has a header but no rows")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    if frame[ID].duplicated().any():
        dupes = frame.loc[frame[ID].duplicated(), ID].head(3).tolist()
        raise DataError(f"{path}: column {ID} has duplicate values, e.g. {dupes}")
    return frame


def load(raw_dir: Path = RAW_DIR) -> HouseData:
    """Read train and test, check the target and that both share the same feature columns."""
    train_path, test_path = raw_dir / TRAIN_FILE, raw_dir / TEST_FILE
    train = read_csv(train_path, (ID, TARGET))
    test = read_csv(test_path, (ID,))
    prices = pd.to_numeric(train[TARGET], errors="coerce")
    bad = prices.isna() | ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        rows = train.loc[bad, ID].head(3).tolist()
        raise DataError(f"{train_path}: column {TARGET} must be a positive number in every row; "
                        f"{int(bad.sum())} bad row(s), e.g. {ID} {rows} = {train.loc[bad, TARGET].head(3).tolist()}")
    train[TARGET] = prices.astype(float)
    features = [c for c in train.columns if c not in (ID, TARGET)]
    missing = [c for c in features if c not in test.columns]
    if missing:
        raise DataError(f"{test_path}: missing feature column(s) {', '.join(missing[:10])} that {train_path.name} has")
    if TARGET in test.columns:
        raise DataError(f"{test_path}: has a {TARGET} column; the competition's test set must not")
    return HouseData(train=train, test=test[[ID, *features]])
