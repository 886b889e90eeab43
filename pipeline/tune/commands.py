"""`python cli.py tune ...`: sweep a competition model's params on Optuna, then apply the best to params.yaml.

`tune KEY MODEL` searches `competitions.KEY.models.MODEL`: one command per competition in
params.yaml (`tune house MODEL` is kept, hidden, for House Prices). `tune best` / `tune apply`
work on a study by name, whichever competition it is for.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)

Storage = Annotated[str | None, typer.Option(help="SQLAlchemy URL of the study storage, or an SQLite file "
                                             "in the repo root (default: tune.storage, optuna.db). Team: "
                                             "postgresql+psycopg2://user@host/db.")]
StudyName = Annotated[str, typer.Argument(help="Study name (a study defaults to KEY-MODEL, e.g. titanic-lightgbm).")]
Model = Annotated[str, typer.Argument(help="A model under competitions.KEY.models with a space under "
                                           "tune.spaces.KEY.")]
# `tune house MODEL`, as before competitions were generic (hidden: `tune house-prices MODEL` is listed)
ALIASES = {"house": "house-prices"}


StudyOption = Annotated[str | None, typer.Option("--study", help="Study name; workers with the same name and "
                                                 "storage share it (default: KEY-MODEL).")]
Trials = Annotated[int | None, typer.Option(help="Trials this worker runs (default: tune.trials).")]
Timeout = Annotated[float | None, typer.Option(help="Seconds this worker starts trials for; 0: no limit "
                                               "(default: tune.timeout).")]
Pruner = Annotated[str | None, typer.Option(help="median | none (default: tune.pruner).")]
Seed = Annotated[int | None, typer.Option(help="Sampler seed (leave unset when several workers share a study, "
                                          "or they propose the same params).")]
Folds = Annotated[int | None, typer.Option(help="Override competitions.KEY.cv.folds for this study (default: "
                                           "the configured folds, as the cv stage uses).")]
Metric = Annotated[str | None, typer.Option(help="valid_mean (mean fold score) | oof (out-of-fold score, without "
                                            "the outliers where the competition flags some) | blend_oof (the "
                                            "model in the competition's blend, scored as the blend); default: "
                                            "tune.metric. The competition's metric, maximised or minimised as "
                                            "it ranks.")]


def _competition_command(key: str):
    """`tune KEY MODEL`: one command per competition configured in params.yaml."""

    def command(model: Model, study: StudyOption = None, trials: Trials = None, timeout: Timeout = None,
                storage: Storage = None, pruner: Pruner = None, seed: Seed = None, folds: Folds = None,
                metric: Metric = None) -> None:
        from .config import load_tune
        from .worker import Options, tune_competition

        summary = tune_competition(key, model, load_tune(),
                                   Options(study, trials, timeout, storage, pruner, seed, folds, metric),
                                   echo=typer.echo)
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))

    return command


def _competitions() -> dict[str, str]:
    """Configured competitions -> how their score goes (`accuracy, maximised`), read without
    validating the blocks (a bad block fails when its sweep starts, naming the param)."""
    from pipeline.errors import ParamError
    from pipeline.params import load_params
    from pipeline.tabular.tasks import METRICS

    try:
        blocks = load_params().get("competitions") or {}
    except ParamError:
        return {}
    if not isinstance(blocks, dict):
        return {}
    out = {}
    for key, block in blocks.items():
        metric = block.get("metric") if isinstance(block, dict) else None
        spec = METRICS.get(metric) if isinstance(metric, str) else None
        out[str(key)] = f"{metric}, {'maximised' if spec.greater_is_better else 'minimised'}" if spec else "its metric"
    return out


def _register() -> None:
    found = _competitions()
    for key, scored in found.items():
        if key in ("best", "apply"):  # the commands below keep their names; such a key is unreachable
            continue
        app.command(key, help=f"Search MODEL's params in competitions.{key} (space: tune.spaces.{key}.MODEL) "
                              f"by the cv stage's k-fold score ({scored}); one MLflow run per trial.")(
            _competition_command(key))
    for alias, key in ALIASES.items():
        if key in found and alias not in found:
            app.command(alias, hidden=True, help=f"`tune {key}` (shorter).")(_competition_command(key))


_register()


@app.command()
def best(
    study: StudyName,
    storage: Storage = None,
    dvc_args: Annotated[bool, typer.Option("--dvc-args", help="Print `-S key=value ...` for `dvc exp run "
                                           "STEM_submission ...` (e.g. house_prices_submission).")] = False,
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
    scores = {k: v for k, v in trial.user_attrs.items() if isinstance(v, float)}  # the cv stage's scores
    typer.echo(json.dumps({"study": study, "target": found.user_attrs.get("target"),
                           "metric": found.user_attrs.get("metric"), "direction": found.direction.name.lower(),
                           "trial": trial.number, "value": trial.value, "scores": scores,
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
