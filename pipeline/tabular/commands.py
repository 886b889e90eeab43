"""Commands of the tabular-competition pipeline: one per DVC stage, plus `new` and `list`.

`python cli.py competition STAGE KEY [MODEL]` runs stage `<stem>_STAGE` of the competition
configured under `competitions.KEY` in params.yaml. `python cli.py house STAGE` is the same
for House Prices (the key `house-prices`), as before competitions were generic.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)

Key = Annotated[str, typer.Argument(help="A competition under `competitions:` in params.yaml, e.g. house-prices, "
                                         "titanic (`python cli.py competition list`).")]
ModelName = Annotated[str, typer.Argument(help="A model under competitions.KEY.models in params.yaml.")]


def _params(key: str):
    from .config import load_competition

    return load_competition(key)


def _show(result: dict) -> None:
    typer.echo(json.dumps(result, indent=2, sort_keys=True))


@app.command("list")
def list_competitions() -> None:
    """The configured competitions: key, Kaggle slug, task, metric, models blended."""
    from .config import competition_names, load_competition

    for key in competition_names():
        p = load_competition(key)
        typer.echo(f"{key:<16} {p.kaggle:<45} {p.task:<10} {p.metric:<9} {'+'.join(p.blend.models)}")


@app.command()
def new(
    slug: Annotated[str, typer.Argument(help="The competition's Kaggle slug (its URL's last part).")],
    source: Annotated[str | None, typer.Option("--from", help="Folder or file:// / http(s):// URL holding train.csv, "
                                                              "test.csv and the sample submission (default: the "
                                                              "data mirror's SLUG/ folder, then the Kaggle API).")] = None,
    key: Annotated[str | None, typer.Option("--name", help="Key of the block under competitions: (default: SLUG).")] = None,
) -> None:
    """Start a competition: infer id, target, task and metric; write its params block and stages."""
    from .starter import new_competition

    typer.echo(new_competition(slug, source=source, key=key).text())


@app.command()
def preprocess(key: Key) -> None:
    """Infer column types; standardize numbers, fill missing, one-hot categories; write train/test features."""
    from . import stages

    _show(stages.preprocess(_params(key)))


@app.command()
def train(key: Key, model: ModelName) -> None:
    """K-fold CV of MODEL, then its final fit on all training rows (stage <stem>_train@MODEL)."""
    from . import stages

    _show(stages.train(_params(key), model))


@app.command()
def cv(key: Key, model: ModelName) -> None:
    """K-fold cross-validation of MODEL only (the first half of `train`): out-of-fold predictions, fold scores, curves."""
    from . import stages

    _show(stages.cross_validation(_params(key), model))


@app.command()
def fit(key: Key, model: ModelName) -> None:
    """Final fit of MODEL only (the second half of `train`); saves it under models/KEY/."""
    from . import stages

    _show(stages.fit(_params(key), model))


@app.command()
def blend(key: Key) -> None:
    """Choose blend weights (and a binary threshold) on out-of-fold predictions only; report the CV score."""
    from . import stages

    _show(stages.blend(_params(key)))


@app.command()
def submission(key: Key) -> None:
    """Predict the test set, write the submission CSV and validate it against the sample submission."""
    from . import stages

    _show(stages.submission(_params(key)))


@app.command()
def preset(name: Annotated[str, typer.Argument(help="Preset name, e.g. `original` (the course's first recipe).")]) -> None:
    """Print `-S key=value` overrides of a named preset, for `dvc exp run $(python cli.py competition preset NAME)`."""
    from .presets import dvc_set_args

    typer.echo(" ".join(dvc_set_args(name)))


# ---- `python cli.py house STAGE`: the House Prices stages, as before competitions were generic

house_app = typer.Typer(no_args_is_help=True)
HOUSE = "house-prices"
HouseModel = Annotated[str, typer.Argument(help="A model under competitions.house-prices.models in params.yaml.")]


@house_app.command("preprocess")
def house_preprocess() -> None:
    """Same as `competition preprocess house-prices`."""
    preprocess(HOUSE)


@house_app.command("train")
def house_train(model: HouseModel) -> None:
    """Same as `competition train house-prices MODEL`."""
    train(HOUSE, model)


@house_app.command("cv")
def house_cv(model: HouseModel) -> None:
    """Same as `competition cv house-prices MODEL`."""
    cv(HOUSE, model)


@house_app.command("fit")
def house_fit(model: HouseModel) -> None:
    """Same as `competition fit house-prices MODEL`."""
    fit(HOUSE, model)


@house_app.command("blend")
def house_blend() -> None:
    """Same as `competition blend house-prices`."""
    blend(HOUSE)


@house_app.command("submission")
def house_submission() -> None:
    """Same as `competition submission house-prices`."""
    submission(HOUSE)


house_app.command("preset")(preset)
