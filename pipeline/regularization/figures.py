"""Each stage's plots: wide CSV curves for `dvc plots` (one column per configuration and metric)
and a PNG where a picture beats a table (log-scale losses, ||w|| vs lambda, gradient norm by layer)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

from pipeline.plots import new_figure, save_figure, write_rows
from pipeline.regularization.config import InitParams, WeightDecayParams
from pipeline.regularization.initialization import config_name as init_name
from pipeline.regularization.polynomial import learned_weights
from pipeline.regularization.runner import Outcome
from pipeline.regularization.weight_decay import config_name as wd_name
from pipeline.stage import StageOutputs


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


def polynomial(outcomes: Mapping[str, Outcome], outputs: StageOutputs) -> list[Path]:
    fig, axes = new_figure(1, len(outcomes), figsize=(4.5 * len(outcomes), 3.6), squeeze=False, layout="constrained")
    for ax, (name, o) in zip(axes[0], outcomes.items()):
        weights = learned_weights(o.final)
        shown = ", ".join(f"{w:.3g}" for w in weights[:4]) + (f", ... ({len(weights)})" if len(weights) > 4 else "")
        _loss_axes(ax, o, f"{name}\nw=[{shown}]")
    return [write_curves(outputs.plot(".csv"), outcomes), save_figure(outputs.plot(".png"), fig)]


def weight_decay(outcomes: Mapping[str, Outcome], outputs: StageOutputs, p: WeightDecayParams) -> list[Path]:
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
    return [write_curves(outputs.plot(".csv"), outcomes),
            write_rows(outputs.plot("_lambda.csv"), rows),
            save_figure(outputs.plot(".png"), fig)]


def dropout(outcomes: Mapping[str, Outcome], outputs: StageOutputs) -> list[Path]:
    fig, (loss, acc) = new_figure(1, 2, figsize=(11, 4))
    for name, o in outcomes.items():
        epochs = range(1, len(o.history["train_loss"]) + 1)
        line, = loss.semilogy(epochs, o.history["train_loss"], label=f"{name} train")
        loss.semilogy(epochs, o.history["test_loss"], linestyle="--", color=line.get_color(), label=f"{name} test")
        line, = acc.plot(epochs, o.history["test_acc"], marker="o", label=f"{name} test")
        acc.plot(epochs, o.history["train_acc"], linestyle=":", color=line.get_color(), label=f"{name} train")
    loss.set(title="loss (train: dropout on; test: off)", xlabel="epoch", ylabel="cross-entropy")
    acc.set(title="accuracy (train: running, dropout on)", xlabel="epoch", ylabel="accuracy")
    loss.legend(fontsize="small")
    acc.legend(fontsize="small")
    return [write_curves(outputs.plot(".csv"), outcomes), save_figure(outputs.plot(".png"), fig)]


INIT_LABELS = {"normal": "N(0, 1)", "small": "N(0, 0.01^2)", "xavier": "Xavier", "kaiming": "He (Kaiming)"}


def log10_rows(norms: Mapping[str, list[float]]) -> list[dict[str, object]]:
    """Rows `{layer, <config>: log10 norm}`: N(0, 1) and N(0, 0.01^2) norms differ by 10+ orders of
    magnitude, so only a log axis shows every configuration; non-finite norms become blanks."""
    logs = {name: [math.log10(v) if math.isfinite(v) and v > 0 else None for v in values]
            for name, values in norms.items()}
    return wide_rows("layer", logs)


def initialization(outcomes: Mapping[str, Outcome], outputs: StageOutputs, p: InitParams) -> list[Path]:
    """Gradient norm by layer at init (top) and after probe_steps updates (bottom): one panel per
    activation, one line per init, log scale."""
    inits, activations = p.inits, p.activations
    when = {"grad_norm": "at init", "grad_norm_after": f"after {p.probe_steps} steps"}
    fig, axes = new_figure(len(when), len(activations), figsize=(4.5 * len(activations), 3.8 * len(when)),
                           squeeze=False, layout="constrained")
    for row, (key, label) in zip(axes, when.items()):
        for ax, act in zip(row, activations):
            for init in inits:
                values = outcomes[init_name(init, act)].by_layer[key]
                ax.semilogy(range(1, len(values) + 1), values, marker="o", label=INIT_LABELS.get(init, init))
            ax.set(title=f"{act}: ||dL/dW|| {label}", xlabel="layer (1 = input side)", ylabel="gradient norm")
            ax.legend(fontsize="small")
    norms = {f"{name}{'' if key == 'grad_norm' else '_after'}": o.by_layer[key]
             for key in when for name, o in outcomes.items()}
    return [write_rows(outputs.plot("_grad_norms.csv"), log10_rows(norms)),
            write_curves(outputs.plot(".csv"), outcomes),
            save_figure(outputs.plot(".png"), fig)]
