"""Pictures and plot tables of a competition's runs: fold curves and out-of-fold predictions.

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


def _steps(history: dict, metric: str) -> list[float]:
    """x values of a model's curve points: its `step` list (iterations, trees), else 1, 2, ... (epochs)."""
    return history.get("step") or list(range(1, len(history[f"valid_{metric}"]) + 1))


def has_curves(folds, metric: str) -> bool:
    """Whether every fold logged a curve (a model that trains in steps)."""
    return bool(folds) and all(f.history.get(f"valid_{metric}") for f in folds)


def curve_rows(folds, metric: str) -> list[dict]:
    """Mean train/valid score (the competition's metric) over folds per step (epoch, iteration or number of trees),
    one row per step, for `dvc plots`. Folds may stop at different steps (an elastic net
    converges when it does): the rows cover the steps every fold reached.

    Models without curves (svr, spline_net, kernel ridge) give no rows: they have no steps.
    """
    train, valid = f"train_{metric}", f"valid_{metric}"
    if not has_curves(folds, metric):
        return []
    histories = [f.history for f in folds]
    n = min(len(h[valid]) for h in histories)
    steps = _steps(histories[0], metric)
    return [{"step": steps[i],
             train: float(np.mean([h[train][i] for h in histories])),
             valid: float(np.mean([h[valid][i] for h in histories]))}
            for i in range(n)]


def fold_rows(folds, metric: str) -> list[dict]:
    """Each fold's final train/valid score, one row per fold (1, 2, ...), for `dvc plots`."""
    return [{"fold": f.fold + 1, f"train_{metric}": float(f.train_score), f"valid_{metric}": float(f.valid_score)}
            for f in folds]


def write_tables(curve_path: Path, folds_path: Path, folds, metric: str) -> list[Path]:
    """`curve_rows` and `fold_rows` as CSV; a model without curves gets the curve table's header alone."""
    curves = curve_rows(folds, metric)
    header = ",".join(("step", f"train_{metric}", f"valid_{metric}")) + "\n"
    written = write_rows(curve_path, curves) if curves else write_text(curve_path, header)
    return [written, write_rows(folds_path, fold_rows(folds, metric))]


def plot_fold_curves(path: Path, folds, title: str, metric: str, xlabel: str = "epoch") -> Path:
    """Each fold's valid (solid) and train (dashed, same colour) curves against `xlabel`; for a
    model without curves, each fold's final valid and train scores against the fold."""
    from matplotlib.lines import Line2D

    fig, ax = new_figure(figsize=(7, 4))
    train, valid = f"train_{metric}", f"valid_{metric}"
    if has_curves(folds, metric):
        with_train = False
        for f in folds:
            steps = _steps(f.history, metric)
            line, = ax.plot(steps, f.history[valid], label=f"fold {f.fold + 1} valid")
            if f.history.get(train):
                ax.plot(steps, f.history[train], linestyle="--", color=line.get_color(), alpha=0.6)
                with_train = True
        handles = ax.get_legend_handles_labels()[0]
        if with_train:
            handles.append(Line2D([], [], color="grey", linestyle="--", alpha=0.6, label="train (dashed, fold colour)"))
        drawn = [v for f in folds for k in (valid, train) for v in f.history.get(k, [])]
        wide = min(drawn) > 0 and max(drawn) / min(drawn) > 3  # a log axis only where it spans a range
        ax.set(xlabel=xlabel, ylabel=metric + (" (log scale)" if wide else ""), title=title,
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
        ax.plot(x, [f.valid_score for f in folds], "o", label="valid (held-out fold)")
        ax.plot(x, [f.train_score for f in folds], "s", markerfacecolor="none", label="train (other folds)")
        ax.set(xlabel="fold", ylabel=metric, title=f"{title} (no training curve: one fit per fold)",
               xticks=x, xlim=(min(x) - 0.5, max(x) + 0.5))
        ax.title.set_fontsize(10)
        ax.legend(fontsize=8)
    return save_figure(path, fig)


def plot_oof(path: Path, truth: np.ndarray, predicted: np.ndarray, outliers: np.ndarray, title: str,
             target: str, log_axes: bool) -> Path:
    """Regression: each training row's out-of-fold prediction against its true value."""
    fig, ax = new_figure(figsize=(5.5, 5))
    ax.scatter(truth[~outliers], predicted[~outliers], s=6, alpha=0.5, label="training rows")
    if outliers.any():
        ax.scatter(truth[outliers], predicted[outliers], s=30, color="red", label="outliers (left out of fits)")
    lo, hi = truth.min(), truth.max()
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1)
    ax.set(xlabel=target, ylabel="out-of-fold prediction", title=title)
    if log_axes:
        from matplotlib.ticker import NullFormatter

        ax.set(xscale="log", yscale="log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(NullFormatter())  # minor log-tick labels overlap on price scales
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    return save_figure(path, fig)


def plot_oof_classes(path: Path, classes_true: np.ndarray, probabilities: np.ndarray, labels: list,
                     title: str) -> Path:
    """Classification: the out-of-fold probability of each row's true class, one box per class
    (a model that separates the classes puts every box near 1)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim == 1:
        probabilities = np.column_stack([1 - probabilities, probabilities])
    own = probabilities[np.arange(len(classes_true)), classes_true]
    fig, ax = new_figure(figsize=(5.5, 4))
    present = [k for k in range(len(labels)) if np.any(classes_true == k)]
    ax.boxplot([own[classes_true == k] for k in present], showfliers=False)
    ax.set_xticks(range(1, len(present) + 1), [str(labels[k]) for k in present])
    ax.axhline(0.5, color="grey", linewidth=1, linestyle="--")
    ax.set(xlabel="true label", ylabel="out-of-fold P(true label)", ylim=(0, 1), title=title)
    ax.title.set_fontsize(9)
    return save_figure(path, fig)
