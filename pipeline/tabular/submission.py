"""Write `submission.csv` in Kaggle's format and refuse a file Kaggle would reject."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.files import first_non_utf8, write_csv

from .data import ID, TARGET


def write_submission(path: Path, ids: np.ndarray, prices: np.ndarray, sample_path: Path) -> pd.DataFrame:
    """Write `Id,SalePrice` atomically, but only after the frame passes `check_frame`."""
    frame = pd.DataFrame({ID: np.asarray(ids, dtype=np.int64), TARGET: np.asarray(prices, dtype=np.float64)})
    check_frame(frame, _sample_ids(sample_path), where=str(path))
    write_csv(path, frame)
    return frame


def validate_submission(path: Path, sample_path: Path) -> pd.DataFrame:
    """Re-read a written submission and check it as Kaggle would; return it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: submission not found")
    try:
        frame = pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError as exc:  # Kaggle reads UTF-8: a file saved in another encoding, or not text
        raise DataError(f"{path}: not UTF-8 text ({first_non_utf8(path)})") from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc})") from exc
    check_frame(frame, _sample_ids(sample_path), where=str(path))
    return frame



def _sample_ids(sample_path: Path) -> np.ndarray:
    sample = pd.read_csv(sample_path)
    if list(sample.columns) != [ID, TARGET]:
        raise DataError(f"{sample_path}: expected header {ID},{TARGET}, got {','.join(sample.columns)}")
    return sample[ID].to_numpy()


def check_frame(frame: pd.DataFrame, expected_ids: np.ndarray, where: str) -> None:
    """Same header, every test Id exactly once in the sample's order, finite positive prices."""
    if list(frame.columns) != [ID, TARGET]:
        raise DataError(f"{where}: header must be exactly '{ID},{TARGET}', got '{','.join(map(str, frame.columns))}'")
    ids = pd.to_numeric(frame[ID], errors="coerce")
    if ids.isna().any():
        raise DataError(f"{where}: column {ID} has non-integer values")
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise DataError(f"{where}: column {ID} repeats {duplicated.head(3).astype(int).tolist()}")
    missing = np.setdiff1d(expected_ids, ids.to_numpy())
    extra = np.setdiff1d(ids.to_numpy(), expected_ids)
    if len(missing) or len(extra):
        raise DataError(f"{where}: Ids differ from the sample submission: "
                        f"{len(missing)} missing (e.g. {missing[:3].tolist()}), {len(extra)} unexpected "
                        f"(e.g. {extra[:3].astype(int).tolist()})")
    if not np.array_equal(ids.to_numpy(), expected_ids):
        raise DataError(f"{where}: Ids are not in the sample submission's order")
    prices = pd.to_numeric(frame[TARGET], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        raise DataError(f"{where}: column {TARGET} must be finite and positive; {int(bad.sum())} bad value(s) "
                        f"for {ID} {ids[bad].head(3).astype(int).tolist()}")
