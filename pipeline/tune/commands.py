"""`python cli.py tune ...`: sweep a model's params on Optuna, then apply the best to params.yaml."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)

Storage = Annotated[str | None, typer.Option(help="SQLAlchemy URL of the study storage, or an SQLite file "
                                             "in the repo root (default: tune.storage, optuna.db). Team: "
                                             "postgresql+psycopg2://user@host/db.")]
StudyName = Annotated[str, typer.Argument(help="Study name (a house study defaults to house-MODEL).")]


@app.command()
def house(
    model: Annotated[str, typer.Argument(help="A model under house.models with a space under tune.house.")],
    study: Annotated[str | None, typer.Option(help="Study name; workers with the same name and storage "
                                              "share it (default: house-MODEL).")] = None,
    trials: Annotated[int | None, typer.Option(help="Trials this worker runs (default: tune.trials).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds this worker starts trials for; 0: no limit "
                                                  "(default: tune.timeout).")] = None,
    storage: Storage = None,
    pruner: Annotated[str | None, typer.Option(help="median | none (default: tune.pruner).")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampler seed (leave unset when several workers "
                                             "share a study, or they propose the same params).")] = None,
    folds: Annotated[int | None, typer.Option(help="Override house.cv.folds for this study (default: the "
                                              "configured folds, as the cv stage uses).")] = None,
    metric: Annotated[str | None, typer.Option(help="valid_log_rmse_mean | oof_log_rmse_without_outliers | "
                                               "blend_oof_log_rmse_without_outliers (the model in "
                                               "house.blend, scored as the blend; default: tune.metric).")] = None,
) -> None:
    """Search MODEL's params (space: tune.house.MODEL) by the cv stage's k-fold score; one MLflow run per trial."""
    from .config import load_tune
    from .worker import Options, tune_house

    summary = tune_house(model, load_tune(), Options(study, trials, timeout, storage, pruner, seed, folds, metric),
                         echo=typer.echo)
    typer.echo(json.dumps(summary, indent=2, sort_keys=True))


@app.command()
def best(
    study: StudyName,
    storage: Storage = None,
    dvc_args: Annotated[bool, typer.Option("--dvc-args", help="Print `-S key=value ...` for "
                                           "`dvc exp run house_submission ...`.")] = False,
) -> None:
    """Show the study's best complete trial (or its params as `dvc exp run -S` arguments)."""
    from . import apply as applying
    from . import study as study_mod
    from .config import load_tune

    found = study_mod.load_study(study, study_mod.storage_url(storage or load_tune().storage))
    changes = applying.overrides(found)
    if dvc_args:
        typer.echo(" ".join(f"-S {change}" for change in changes))
        return
    trial = applying.best_trial(found)
    typer.echo(json.dumps({"study": study, "trial": trial.number, "value": trial.value,
                           "oof_log_rmse": trial.user_attrs.get("oof_log_rmse"),
                           "overrides": changes, **study_mod.counts(found)}, indent=2))


@app.command()
def apply(
    study: StudyName,
    storage: Storage = None,
    params_file: Annotated[str, typer.Option("--params", help="The params file to write.")] = "params.yaml",
) -> None:
    """Write the study's best params into params.yaml (only those keys); `dvc repro` then reruns what reads them."""
    from pathlib import Path

    from pipeline import REPO_ROOT

    from . import apply as applying
    from . import study as study_mod
    from .config import load_tune

    path = Path(params_file)
    path = path if path.is_absolute() else REPO_ROOT / path
    found = study_mod.load_study(study, study_mod.storage_url(storage or load_tune(path).storage))
    for change in applying.apply(found, path):
        typer.echo(f"set {change.removeprefix('++')}")
