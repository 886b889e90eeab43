"""Stage commands of the regularization pipeline (one per DVC stage).

Thin: read `regularization.<stage>` from params.yaml, set the stage up (`pipeline.stage.Stage`:
seed, CPU threads, device), run the experiment's configurations as MLflow runs (runner.run_stage),
print the final metrics. Heavy imports stay inside the commands so `python cli.py --help` and the
other pipelines' stages do not pay for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.datasets import dataset_dir
from pipeline.params import PARAMS_FILE

app = typer.Typer(no_args_is_help=True)

ParamsFile = Annotated[Path, typer.Option("--params", help="params file to read regularization.<stage> from.")]
DataDir = Annotated[Path, typer.Option(
    help="Folder with the Fashion-MNIST IDX .gz files (stage download@fashion-mnist).")]
DEFAULT_DATA = dataset_dir("fashion-mnist")  # written by stage download@fashion-mnist


def _prepare(params_file: Path, stage: str):
    """Typed params of a stage and its set-up (seeded, CPU threads capped, device picked).

    Outputs go under the working directory (the repo root under DVC), as before, so a `--params`
    run elsewhere (benchmarks/regularization.py) leaves the repo's outputs alone."""
    from pipeline.params import load_params
    from pipeline.regularization.config import stage_params
    from pipeline.stage import Stage, StageOutputs

    p = stage_params(load_params(params_file), stage)
    return p, Stage("regularization", stage, seed=p.seed, cpu_threads=p.cpu_threads, device=p.device,
                    where=f"regularization.{stage}", uses_torch=True,
                    outputs=StageOutputs("regularization", stage, root=Path(".")))


def _echo(outcomes) -> None:
    for name, outcome in outcomes.items():
        typer.echo(f"{name}: " + " ".join(f"{k}={v:.4g}" for k, v in outcome.final.items()))


@app.command()
def polynomial(params_file: ParamsFile = PARAMS_FILE) -> None:
    """Under/overfitting: fit polynomial features of several degrees and training-set sizes."""
    from pipeline.regularization import figures
    from pipeline.regularization import polynomial as experiment
    from pipeline.regularization.runner import run_stage

    p, stage = _prepare(params_file, "polynomial")
    _echo(run_stage(stage, p, experiment.configs(p, stage.device), figures.polynomial))


@app.command("weight-decay")
def weight_decay(params_file: ParamsFile = PARAMS_FILE) -> None:
    """Weight decay: ||w|| and test loss of high-dimensional linear regression for each lambda, scratch and concise."""
    from functools import partial

    from pipeline.regularization import figures
    from pipeline.regularization import weight_decay as experiment
    from pipeline.regularization.runner import run_stage

    p, stage = _prepare(params_file, "weight_decay")
    _echo(run_stage(stage, p, experiment.configs(p, stage.device), partial(figures.weight_decay, p=p)))


@app.command()
def dropout(params_file: ParamsFile = PARAMS_FILE, data_dir: DataDir = DEFAULT_DATA) -> None:
    """Dropout on Fashion-MNIST: scratch, concise (torch.nn) and no-dropout MLPs."""
    from pipeline.regularization import dropout as experiment
    from pipeline.regularization import fashion, figures
    from pipeline.regularization.runner import run_stage

    p, stage = _prepare(params_file, "dropout")
    train, test = fashion.load(data_dir, p.train_limit, p.test_limit, stage.device)
    _echo(run_stage(stage, p, experiment.configs(p, stage.device, train, test), figures.dropout))


@app.command()
def init(params_file: ParamsFile = PARAMS_FILE, data_dir: DataDir = DEFAULT_DATA) -> None:
    """Numerical stability: gradient norm by layer and short training for each init x activation."""
    from functools import partial

    from pipeline.regularization import fashion, figures
    from pipeline.regularization import initialization as experiment
    from pipeline.regularization.runner import run_stage

    p, stage = _prepare(params_file, "init")
    train, test = fashion.load(data_dir, p.train_limit, p.test_limit, stage.device)
    _echo(run_stage(stage, p, experiment.configs(p, stage.device, train, test),
                    partial(figures.initialization, p=p)))
