"""Pictures and plot tables of the House Prices runs: fold curves and out-of-fold predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.plots import new_figure, save_figure


def curve_rows(folds) -> list[dict]:
    """Per-epoch mean train/valid log-RMSE over folds (one row per epoch, for `dvc plots`).

    Models without epochs (closed-form, boosting) give one row: their final scores.
    """
    histories = [f.history for f in folds]
    if histories and all(h.get("valid_log_rmse") for h in histories):
        n = min(len(h["valid_log_rmse"]) for h in histories)
        return [{"epoch": e + 1,
                 "train_log_rmse": float(np.mean([h["train_log_rmse"][e] for h in histories])),
                 "valid_log_rmse": float(np.mean([h["valid_log_rmse"][e] for h in histories]))}
                for e in range(n)]
    return [{"epoch": 1, "train_log_rmse": float(np.mean([f.train_log_rmse for f in folds])),
             "valid_log_rmse": float(np.mean([f.valid_log_rmse for f in folds]))}]


def plot_fold_curves(path: Path, folds, title: str) -> Path:
    fig, ax = new_figure(figsize=(7, 4))
    for f in folds:
        if f.history.get("valid_log_rmse"):
            epochs = np.arange(1, len(f.history["valid_log_rmse"]) + 1)
            line, = ax.plot(epochs, f.history["valid_log_rmse"], label=f"fold {f.fold + 1} valid")
            ax.plot(epochs, f.history["train_log_rmse"], linestyle="--", color=line.get_color(), alpha=0.6)
        else:
            ax.scatter([1], [f.valid_log_rmse], label=f"fold {f.fold + 1} valid")
    ax.set(xlabel="epoch", ylabel="log-RMSE (dashed: train)", title=title, yscale="log")
    ax.legend(fontsize=8)
    return save_figure(path, fig)


def plot_oof(path: Path, prices: np.ndarray, predicted: np.ndarray, outliers: np.ndarray, title: str) -> Path:
    fig, ax = new_figure(figsize=(5.5, 5))
    ax.scatter(prices[~outliers], predicted[~outliers], s=6, alpha=0.5, label="training rows")
    ax.scatter(prices[outliers], predicted[outliers], s=30, color="red", label="partial-sale outliers")
    lo, hi = prices.min(), prices.max()
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1)
    ax.set(xscale="log", yscale="log", xlabel="SalePrice", ylabel="out-of-fold prediction", title=title)
    from matplotlib.ticker import NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())  # minor log-tick labels overlap on price scales
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    return save_figure(path, fig)
