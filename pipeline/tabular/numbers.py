"""Numbers as every features module treats them: an infinity is a missing value, and
standardisation holds for any finite value.

A column holding 1e308 in one row overflows the textbook sums (its square is inf), so its std
becomes inf and every z-score 0: a whole feature silently zeroed. Here the statistics of such a
column are taken on its values divided by a power of two near their largest magnitude. Dividing
by a power of two is exact in floating point, so the figures are bit for bit pandas' own on every
column whose sums would not overflow (those keep pandas' plain path anyway).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pandas.api.types import is_float_dtype

# Largest magnitude that takes the plain path: cubes of differences stay below 2**753 and sums of
# them over any row count far from overflow (real columns are below 2**40).
PLAIN_LIMIT = 2.0 ** 250
LARGEST = float(np.finfo(np.float64).max)


def finite(values: pd.Series) -> pd.Series:
    """`values` with inf and -inf as missing (NaN), as pandas reads `NaN`; other values as they are."""
    if not is_float_dtype(values) or not np.isinf(values.to_numpy()).any():
        return values
    return values.mask(np.isinf(values))


def finite_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every float column's infinities as missing (a copy only where one had some)."""
    infinite = [c for c in frame.columns if is_float_dtype(frame[c]) and np.isinf(frame[c].to_numpy()).any()]
    if not infinite:
        return frame
    frame = frame.copy()
    for col in infinite:
        frame[col] = finite(frame[col])
    return frame


def scale_of(*magnitudes: float) -> float:
    """1 when the largest of `magnitudes` (NaN ignored) is below PLAIN_LIMIT, else the power of two
    that brings it into [1, 2): dividing by it is exact, and squares and cubes cannot overflow."""
    largest = max((abs(float(m)) for m in magnitudes if math.isfinite(float(m))), default=0.0)
    if largest < PLAIN_LIMIT:
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1] - 1)


def _largest(values: pd.Series) -> float:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = numbers[np.isfinite(numbers)]
    return float(np.abs(numbers).max()) if numbers.size else 0.0


def mean_std(values: pd.Series) -> tuple[float, float]:
    """pandas' `values.mean()` and `values.std()` (ddof 1, missing skipped; NaN when undefined),
    computed on scaled values when the plain sums could overflow. A spread beyond float64's range
    is capped at its largest value, so z-scores stay finite and in order."""
    scale = scale_of(_largest(values))
    if scale == 1.0:
        return values.mean(), values.std()
    scaled = values / scale
    mean, std = scaled.mean() * scale, scaled.std()
    return mean, min(std * scale, LARGEST) if pd.notna(std) else std


def huge_note(name: str, values: pd.Series) -> str | None:
    """A note for a column whose statistics took the scaled path: one value that large is likely an
    entry error, and beside it the column's ordinary values barely differ once standardised."""
    largest = _largest(values)
    if largest < PLAIN_LIMIT:
        return None
    return f"{name}: values up to {largest:.3g} (an entry error?): its statistics are taken without overflow"


def standardized(values: pd.Series, mean: float, std: float) -> pd.Series:
    """(values - mean) / std as float64; when a difference overflows (a huge value of the other sign
    than the mean), the same division on values scaled by a power of two."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = (values - mean) / std
        overflowed = np.isinf(z.to_numpy(dtype=np.float64, na_value=np.nan))
        if not overflowed.any():
            return z
        scale = scale_of(_largest(values), mean, std)
        return (values / scale - mean / scale) / (std / scale)


def skewness(values: np.ndarray) -> float:
    """Sample skewness (the biased estimator, as scipy.stats.skew) of finite `values`, without
    importing scipy.stats; scale-free, so taken on scaled values when cubes could overflow."""
    largest = float(np.abs(values).max()) if values.size else 0.0
    values = values / scale_of(largest) if largest >= PLAIN_LIMIT else values
    centred = values - values.mean()
    return float(np.mean(centred ** 3) / np.mean(centred ** 2) ** 1.5)
