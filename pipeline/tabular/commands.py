"""Stage commands of the House Prices pipeline (one per DVC stage in dvc.yaml)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)

ModelName = Annotated[str, typer.Argument(help="A model defined under house.models in params.yaml.")]


def _params():
    from .config import load_house

    return load_house()


def _show(result: dict) -> None:
    typer.echo(json.dumps(result, indent=2, sort_keys=True))


@app.command()
def preprocess() -> None:
    """Standardize numbers, fill missing values, one-hot categories; write train/test features."""
    from . import stages

    _show(stages.preprocess(_params()))


@app.command()
def train(model: ModelName) -> None:
    """K-fold CV of MODEL, then its final fit on all training rows (stage house_train@MODEL)."""
    from . import stages

    _show(stages.train(_params(), model))


@app.command()
def cv(model: ModelName) -> None:
    """K-fold cross-validation of MODEL only (the first half of `train`): out-of-fold predictions, fold scores, curves, MLflow runs."""
    from . import stages

    _show(stages.cross_validation(_params(), model))


@app.command()
def fit(model: ModelName) -> None:
    """Final fit of MODEL only (the second half of `train`); saves it with its preprocessing state under models/."""
    from . import stages

    _show(stages.fit(_params(), model))


@app.command()
def blend() -> None:
    """Choose blend weights on out-of-fold predictions only and report the blend's CV score."""
    from . import stages

    _show(stages.blend(_params()))


@app.command()
def submission() -> None:
    """Predict the test set, write data/submission.csv and validate it against the sample submission."""
    from . import stages

    _show(stages.submission(_params()))


@app.command()
def preset(name: Annotated[str, typer.Argument(help="Preset name, e.g. `original` (the course's first recipe).")]) -> None:
    """Print `-S key=value` overrides of a named preset, for `dvc exp run $(python cli.py house preset NAME)`."""
    from .presets import dvc_set_args

    typer.echo(" ".join(dvc_set_args(name)))
