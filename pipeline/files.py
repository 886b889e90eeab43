"""Atomic file writes, so an interrupted stage never leaves a half-written artifact for DVC to cache.

Metrics files (`write_metrics`) and plot CSVs (`pipeline.plots.write_rows`) hold floats rounded
to `DIGITS` significant digits: float noise in the last bits (another BLAS kernel, another
summation order) then does not show as a change in `git status` or `dvc metrics diff`. Files that
later stages compute from (blend weights, feature statistics) keep every bit (`write_json`).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    The temporary file lives in the same directory so the final `os.replace` is atomic.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:  # a read-only folder: name the output, not the temp file (cli.py prints it)
        raise _naming(exc, target) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs should read like any other file
        os.replace(tmp, target)
    except OSError as exc:  # a full disk: writers' errors name no file, or the temp file
        if exc.filename is not None and str(exc.filename) != tmp_name:
            raise
        raise _naming(exc, target) from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def _naming(exc: OSError, target: Path) -> OSError:
    """The same error (same errno, so the same OSError subclass) naming the output being written."""
    return OSError(exc.errno, os.strerror(exc.errno) if exc.errno else str(exc), str(target))


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON that `dvc metrics show` reads: sorted keys, plain floats, trailing newline."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


DIGITS = 10  # significant digits of every float in metrics JSON and plot CSVs (docs/reproducibility.md)


def rounded(value: Any, digits: int = DIGITS) -> Any:
    """`value` with every finite float (Python, NumPy or torch scalar) rounded to `digits`
    significant digits, through dicts, lists and tuples; anything else as it is."""
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if not isinstance(value, (bool, int, float, str)) and hasattr(value, "tolist"):
        value = value.tolist()  # a NumPy or torch scalar or array
        if isinstance(value, list):
            return rounded(value, digits)
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{digits}g}")
    return value


def same_when_written(a: Any, b: Any, digits: int = DIGITS) -> bool:
    """Whether two metric values are the same at the precision metrics are written at (a change
    below it, e.g. against a file written before rounding, is float noise)."""
    return a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                      and rounded(float(a), digits) == rounded(float(b), digits))


def write_metrics(path: str | os.PathLike, obj: Any) -> Path:
    """Write a stage's metrics file: `write_json` with floats at `DIGITS` significant digits."""
    return write_json(path, rounded(obj))


def write_csv(path: str | os.PathLike, frame) -> Path:
    """Write a pandas DataFrame as CSV without the index."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def save_torch(path: str | os.PathLike, obj: Any) -> Path:
    """`torch.save` atomically; same object, same bytes. (Saved to a file, the zip's records sit
    under a folder named after the file, here a random temporary name; from a buffer, `archive/`.)"""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return write_bytes(path, buffer.getvalue())


def _jsonable(value: Any) -> Any:
    """Turn numpy/torch scalars and paths into JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def first_non_utf8(path: str | os.PathLike) -> str:
    """Where a file stops being UTF-8, by line as an editor counts (a decoder's own offset counts
    from its last chunk), for an error message that names the file."""
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"byte {data[exc.start]:#04x} on line {line}"
    return "a byte the decoder refused"
