"""Pictures and plot tables of the House Prices runs: fold curves and out-of-fold predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.plots import new_figure, save_figure


def _steps(history: dict) -> list[float]:
    """x values of a model's curve points: its `step` list (iterations, trees), else 1, 2, ... (epochs)."""
    return history.get("step") or list(range(1, len(history["valid_log_rmse"]) + 1))


def curve_rows(folds) -> list[dict]:
    """Mean train/valid log-RMSE over folds per step (epoch, iteration or number of trees),
    one row per step, for `dvc plots`. Folds may stop at different steps (an elastic net
    converges when it does): the rows cover the steps every fold reached.

    Models without curves (kernel ridge) give one row: their final scores.
    """
    histories = [f.history for f in folds]
    if histories and all(h.get("valid_log_rmse") for h in histories):
        n = min(len(h["valid_log_rmse"]) for h in histories)
        steps = _steps(histories[0])
        return [{"step": steps[i],
                 "train_log_rmse": float(np.mean([h["train_log_rmse"][i] for h in histories])),
                 "valid_log_rmse": float(np.mean([h["valid_log_rmse"][i] for h in histories]))}
                for i in range(n)]
    return [{"step": 1, "train_log_rmse": float(np.mean([f.train_log_rmse for f in folds])),
             "valid_log_rmse": float(np.mean([f.valid_log_rmse for f in folds]))}]


def plot_fold_curves(path: Path, folds, title: str, xlabel: str = "epoch") -> Path:
    fig, ax = new_figure(figsize=(7, 4))
    for f in folds:
        if f.history.get("valid_log_rmse"):
            steps = _steps(f.history)
            line, = ax.plot(steps, f.history["valid_log_rmse"], label=f"fold {f.fold + 1} valid")
            ax.plot(steps, f.history["train_log_rmse"], linestyle="--", color=line.get_color(), alpha=0.6)
        else:
            ax.scatter([1], [f.valid_log_rmse], label=f"fold {f.fold + 1} valid")
    ax.set(xlabel=xlabel, ylabel="log-RMSE (dashed: train)", title=title, yscale="log")
    if xlabel == "iteration":
        ax.set_xscale("log")  # FISTA points are log-spaced
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
