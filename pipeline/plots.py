"""Plot files for `dvc plots show` (CSV curves) and pictures (PNG) where a picture beats a table.

Both are DVC outputs that git tracks, so the same numbers must give the same bytes: CSV floats are
written at `pipeline.files.DIGITS` significant digits, and pictures carry no date or library
version in their metadata (docs/reproducibility.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pipeline.files import atomic_path, rounded

# Metadata matplotlib writes unless told not to: its version (PNG, PDF) and the time (PDF); None
# leaves the entry out. (SVG would also need rcParams["svg.hashsalt"]: no stage writes one.)
STABLE_METADATA = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}


def write_rows(path: str | Path, rows: Iterable[Mapping[str, object]]) -> Path:
    """Write rows (one dict per point, same keys) as CSV, the format DVC plots read best; floats
    at `pipeline.files.DIGITS` significant digits."""
    import pandas as pd

    frame = pd.DataFrame([rounded(dict(row)) for row in rows])
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def save_figure(path: str | Path, fig) -> Path:
    """Save a matplotlib figure atomically and close it; for PNG and PDF, same figure, same bytes
    (no date or matplotlib version in the file)."""
    import matplotlib.pyplot as plt

    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight", metadata=STABLE_METADATA.get(fmt))
    plt.close(fig)
    return Path(path)


def new_figure(*args, **kwargs):
    """A matplotlib figure on the non-interactive backend (stages run headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)
