"""Each stage's plots: wide CSV curves for `dvc plots` (one column per configuration and metric)
and a PNG where a picture beats a table (log-scale losses, ||w|| vs lambda, gradient norm by layer)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from pipeline.plots import new_figure, save_figure, write_rows
from pipeline.regularization.config import InitParams, WeightDecayParams
from pipeline.regularization.initialization import config_name as init_name
from pipeline.regularization.report import Outcome, StagePaths
from pipeline.regularization.weight_decay import config_name as wd_name


def wide_rows(index: str, columns: Mapping[str, list[float]]) -> list[dict[str, object]]:
    """Rows `{index: 1.., column: value}`; shorter columns are padded with blanks."""
    length = max((len(v) for v in columns.values()), default=0)
    return [{index: i + 1, **{name: (values[i] if i < len(values) else None) for name, values in columns.items()}}
            for i in range(length)]


def write_curves(path: Path, outcomes: Mapping[str, Outcome]) -> Path:
    """Per-epoch curves of every configuration: columns `<config>_<metric>`, e.g. `cubic_test_loss`."""
    columns = {f"{name}_{metric}": values for name, o in outcomes.items() for metric, values in o.history.items()}
    return write_rows(path, wide_rows("epoch", columns))


def _loss_axes(ax, outcome: Outcome, title: str) -> None:
    epochs = range(1, len(outcome.history["train_loss"]) + 1)
    ax.semilogy(epochs, outcome.history["train_loss"], label="train")
    ax.semilogy(epochs, outcome.history["test_loss"], label="test", linestyle="--")
    ax.set(title=title, xlabel="epoch", ylabel="loss")
    ax.legend()


def polynomial(outcomes: Mapping[str, Outcome], paths: StagePaths) -> list[Path]:
    fig, axes = new_figure(1, len(outcomes), figsize=(4.5 * len(outcomes), 3.6), squeeze=False)
    for ax, (name, o) in zip(axes[0], outcomes.items()):
        degree = sum(1 for k in o.final if k[0] == "w" and k[1:].isdigit())
        weights = ", ".join(f"{o.final[f'w{k}']:.3g}" for k in range(1, degree + 1))
        _loss_axes(ax, o, f"{name}\nw=[{weights}] b={o.final['b']:.3g}")
    return [write_curves(paths.plot("polynomial.csv"), outcomes), save_figure(paths.plot("polynomial.png"), fig)]


def weight_decay(outcomes: Mapping[str, Outcome], paths: StagePaths, p: WeightDecayParams) -> list[Path]:
    """Loss curves per lambda (first form), and ||w|| and test loss against lambda (every form)."""
    forms, lambdas = p.forms, p.lambdas
    rows = [{"lambda": lam, **{f"{form}_{metric}": outcomes[wd_name(form, lam)].final[metric]
                               for form in forms for metric in ("w_norm", "train_loss", "test_loss")}}
            for lam in sorted(lambdas)]
    fig, (curves, sweep) = new_figure(1, 2, figsize=(11, 4))
    for lam in sorted(lambdas):
        o = outcomes[wd_name(forms[0], lam)]
        epochs = range(1, len(o.history["test_loss"]) + 1)
        line, = curves.semilogy(epochs, o.history["test_loss"], label=f"test, lambda={lam:g}")
        curves.semilogy(epochs, o.history["train_loss"], linestyle=":", color=line.get_color())
    curves.set(title=f"{forms[0]}: test (solid) and train (dotted) loss", xlabel="epoch", ylabel="loss")
    curves.legend(fontsize="small")
    xs = [row["lambda"] for row in rows]
    for form, marker in zip(forms, "os^"):
        sweep.plot(xs, [row[f"{form}_w_norm"] for row in rows], marker=marker, label=f"||w|| ({form})")
        sweep.plot(xs, [row[f"{form}_test_loss"] for row in rows], marker=marker, linestyle="--",
                   label=f"test loss ({form})")
    sweep.set_xscale("symlog", linthresh=min([lam for lam in xs if lam > 0] or [1.0]))
    sweep.set_yscale("log")
    sweep.set(title="final ||w|| and test loss vs lambda", xlabel="lambda (weight decay)")
    sweep.legend(fontsize="small")
    return [write_curves(paths.plot("weight_decay.csv"), outcomes),
            write_rows(paths.plot("weight_decay_lambda.csv"), rows),
            save_figure(paths.plot("weight_decay.png"), fig)]


def dropout(outcomes: Mapping[str, Outcome], paths: StagePaths) -> list[Path]:
    fig, (loss, acc) = new_figure(1, 2, figsize=(11, 4))
    for name, o in outcomes.items():
        epochs = range(1, len(o.history["train_loss"]) + 1)
        line, = loss.semilogy(epochs, o.history["train_loss"], label=f"{name} train")
        loss.semilogy(epochs, o.history["test_loss"], linestyle="--", color=line.get_color(), label=f"{name} test")
        acc.plot(epochs, o.history["test_acc"], marker="o", label=name)
    loss.set(title="loss (train: dropout on; test: off)", xlabel="epoch", ylabel="cross-entropy")
    acc.set(title="test accuracy", xlabel="epoch", ylabel="accuracy")
    loss.legend(fontsize="small")
    acc.legend(fontsize="small")
    return [write_curves(paths.plot("dropout.csv"), outcomes), save_figure(paths.plot("dropout.png"), fig)]


def initialization(outcomes: Mapping[str, Outcome], paths: StagePaths, p: InitParams) -> list[Path]:
    """Gradient norm by layer: one panel per activation, one line per init, log scale."""
    inits, activations = p.inits, p.activations
    norms = {name: o.by_layer["grad_norm"] for name, o in outcomes.items()}
    fig, axes = new_figure(1, len(activations), figsize=(4.5 * len(activations), 3.8), squeeze=False)
    for ax, act in zip(axes[0], activations):
        for init in inits:
            values = norms[init_name(init, act)]
            ax.semilogy(range(1, len(values) + 1), values, marker="o", label=init)
        ax.set(title=f"{act}: ||dL/dW|| at init", xlabel="layer (1 = input side)", ylabel="gradient norm")
        ax.legend(fontsize="small")
    return [write_rows(paths.plot("init_grad_norms.csv"), wide_rows("layer", norms)),
            write_curves(paths.plot("init.csv"), outcomes),
            save_figure(paths.plot("init.png"), fig)]
