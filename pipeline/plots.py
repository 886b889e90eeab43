"""Plot files for `dvc plots show` (CSV curves) and pictures (PNG) where a picture beats a table."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from pipeline.files import atomic_path


def write_rows(path: str | Path, rows: Iterable[Mapping[str, object]]) -> Path:
    """Write rows (one dict per point, same keys) as CSV, the format DVC plots read best."""
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def save_figure(path: str | Path, fig) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def new_figure(*args, **kwargs):
    """A matplotlib figure on the non-interactive backend (stages run headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)
