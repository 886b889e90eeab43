"""The typer application behind `cli.py`: shared commands plus one group per pipeline."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.house.commands import app as house_app
from pipeline.regularization.commands import app as regularization_app
from pipeline.rnn.commands import app as rnn_app

app = typer.Typer(
    help="Reproducible DVC + MLflow + PyTorch pipelines. Each stage of dvc.yaml is one command here.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(house_app, name="house", help="House Prices pipeline: preprocess, k-fold, final fit, submission.")
app.add_typer(regularization_app, name="regularization",
              help="Regularization experiments: polynomial fit, weight decay, dropout, initialization.")
app.add_typer(rnn_app, name="rnn", help="Modern RNN experiments: RNN/GRU/LSTM language models, text generation.")


@app.command()
def download(
    dataset: Annotated[str, typer.Argument(help="Dataset name: house-prices, fashion-mnist, timemachine, jaychou-lyrics.")],
    mirror: Annotated[str | None, typer.Option(help="Mirror folder or file:// / http(s):// base tried first "
                                                     "(default: $PIPELINE_DATA_MIRROR, then params data.mirror).")] = None,
    dest: Annotated[str, typer.Option(help="Folder under which DATASET/ is written.")] = "data/raw",
) -> None:
    """Download a dataset into data/raw/DATASET, verifying every file's checksum."""
    from pathlib import Path

    from pipeline import datasets
    from pipeline.params import load_params

    if mirror is None:
        mirror = datasets.mirror_from(load_params().get("data", {}).get("mirror"))
    paths = datasets.download(dataset, Path(dest), mirror)
    for path in paths:
        typer.echo(f"ok {path}")
