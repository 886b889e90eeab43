"""Reader for the IDX format of (Fashion-)MNIST, with errors that say what is wrong with the file.

IDX layout: two zero bytes, a type code, the number of dimensions, one big-endian uint32 per
dimension, then the values big-endian in row-major order. `.gz` files are read through gzip.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pipeline.errors import DataError

# type code -> big-endian numpy dtype
DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _read_exactly(fh: BinaryIO, size: int, path: Path, what: str) -> bytes:
    try:
        data = fh.read(size)
    except (OSError, EOFError) as exc:  # a cut gzip stream surfaces here
        raise DataError(f"{path}: truncated or corrupt file while reading the {what}: {exc}") from exc
    if len(data) != size:
        raise DataError(f"{path}: truncated {what}: expected {size} bytes, got {len(data)}")
    return data


def read_idx(path: str | Path, limit: int | None = None) -> np.ndarray:
    """Read an IDX file into an array (native byte order); `limit` reads only the first records.

    Raises DataError naming the file for a wrong magic number, a truncated payload or trailing
    bytes (the latter only checked on full reads).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: IDX file not found")
    with _open(path) as fh:
        magic = _read_exactly(fh, 4, path, "magic number")
        zero, code, ndim = struct.unpack(">HBB", magic)
        if zero != 0 or code not in DTYPES or ndim == 0:
            raise DataError(f"{path}: bad IDX magic number 0x{magic.hex()} (expected 0x0000TTNN: "
                            f"type TT in {', '.join(f'{c:02x}' for c in DTYPES)}, NN >= 1 dimensions)")
        shape = list(struct.unpack(f">{ndim}I", _read_exactly(fh, 4 * ndim, path, "dimensions")))
        if limit is not None:
            shape[0] = min(shape[0], limit)
        dtype = np.dtype(DTYPES[code])
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        payload = _read_exactly(fh, size, path, f"payload of shape {tuple(shape)}")
        if limit is None and fh.read(1):
            raise DataError(f"{path}: trailing bytes after the payload of shape {tuple(shape)}")
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
