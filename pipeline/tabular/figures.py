"""Pictures and plot tables of the House Prices runs: fold curves and out-of-fold predictions.

A model that trains in steps (epochs, FISTA iterations, trees) has curves: `cv_<model>.csv` holds
their mean over folds, one row per step, and its picture draws each fold's. A model that fits in
one go (svr, spline_net, kernel ridge) has none: its curve table is empty (the header alone) and
its picture draws each fold's final scores against the fold. Every model also gets
`cv_<model>_folds.csv`, one row per fold (x = fold), for `dvc plots`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.files import write_text
from pipeline.plots import new_figure, save_figure, write_rows

CURVE_COLUMNS = ("step", "train_log_rmse", "valid_log_rmse")
FOLD_COLUMNS = ("fold", "train_log_rmse", "valid_log_rmse")


def _steps(history: dict) -> list[float]:
    """x values of a model's curve points: its `step` list (iterations, trees), else 1, 2, ... (epochs)."""
    return history.get("step") or list(range(1, len(history["valid_log_rmse"]) + 1))


def has_curves(folds) -> bool:
    """Whether every fold logged a curve (a model that trains in steps)."""
    return bool(folds) and all(f.history.get("valid_log_rmse") for f in folds)


def curve_rows(folds) -> list[dict]:
    """Mean train/valid log-RMSE over folds per step (epoch, iteration or number of trees),
    one row per step, for `dvc plots`. Folds may stop at different steps (an elastic net
    converges when it does): the rows cover the steps every fold reached.

    Models without curves (svr, spline_net, kernel ridge) give no rows: they have no steps.
    """
    if not has_curves(folds):
        return []
    histories = [f.history for f in folds]
    n = min(len(h["valid_log_rmse"]) for h in histories)
    steps = _steps(histories[0])
    return [{"step": steps[i],
             "train_log_rmse": float(np.mean([h["train_log_rmse"][i] for h in histories])),
             "valid_log_rmse": float(np.mean([h["valid_log_rmse"][i] for h in histories]))}
            for i in range(n)]


def fold_rows(folds) -> list[dict]:
    """Each fold's final train/valid log-RMSE, one row per fold (1, 2, ...), for `dvc plots`."""
    return [{"fold": f.fold + 1, "train_log_rmse": float(f.train_log_rmse), "valid_log_rmse": float(f.valid_log_rmse)}
            for f in folds]


def write_tables(curve_path: Path, folds_path: Path, folds) -> list[Path]:
    """`curve_rows` and `fold_rows` as CSV; a model without curves gets the curve table's header alone."""
    curves = curve_rows(folds)
    written = write_rows(curve_path, curves) if curves else write_text(curve_path, ",".join(CURVE_COLUMNS) + "\n")
    return [written, write_rows(folds_path, fold_rows(folds))]


def plot_fold_curves(path: Path, folds, title: str, xlabel: str = "epoch") -> Path:
    """Each fold's valid (solid) and train (dashed, same colour) curves against `xlabel`; for a
    model without curves, each fold's final valid and train scores against the fold."""
    from matplotlib.lines import Line2D

    fig, ax = new_figure(figsize=(7, 4))
    if has_curves(folds):
        with_train = False
        for f in folds:
            steps = _steps(f.history)
            line, = ax.plot(steps, f.history["valid_log_rmse"], label=f"fold {f.fold + 1} valid")
            if f.history.get("train_log_rmse"):
                ax.plot(steps, f.history["train_log_rmse"], linestyle="--", color=line.get_color(), alpha=0.6)
                with_train = True
        handles = ax.get_legend_handles_labels()[0]
        if with_train:
            handles.append(Line2D([], [], color="grey", linestyle="--", alpha=0.6, label="train (dashed, fold colour)"))
        drawn = [v for f in folds for k in ("valid_log_rmse", "train_log_rmse") for v in f.history.get(k, [])]
        wide = min(drawn) > 0 and max(drawn) / min(drawn) > 3  # a log axis only where it spans a range
        ax.set(xlabel=xlabel, ylabel="log-RMSE" + (" (log scale)" if wide else ""), title=title,
               yscale="log" if wide else "linear")
        if wide:
            from matplotlib.ticker import FuncFormatter

            plain = FuncFormatter(lambda v, _: f"{v:.2g}")  # 0.12, not 1.2 x 10^-1
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
        if xlabel == "iteration":
            ax.set_xscale("log")  # FISTA points are log-spaced
        ax.legend(handles=handles, fontsize=8)
    else:
        x = [f.fold + 1 for f in folds]
        ax.plot(x, [f.valid_log_rmse for f in folds], "o", label="valid (held-out fold)")
        ax.plot(x, [f.train_log_rmse for f in folds], "s", markerfacecolor="none", label="train (other folds)")
        ax.set(xlabel="fold", ylabel="log-RMSE", title=f"{title} (no training curve: one fit per fold)",
               xticks=x, xlim=(min(x) - 0.5, max(x) + 0.5))
        ax.title.set_fontsize(10)
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
