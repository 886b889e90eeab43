"""Commands of the tabular-competition pipeline: one per DVC stage, plus `new` and `list`.

`python cli.py competition STAGE KEY [MODEL]` runs stage `<stem>_STAGE` of the competition
configured under `competitions.KEY` in params.yaml. `python cli.py house STAGE` is the same
for House Prices (the key `house-prices`), as before competitions were generic.

Each stage prints one summary line (its score, where its metrics went); the whole metrics JSON
is in that file and in `python cli.py metrics KEY`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)

Key = Annotated[str, typer.Argument(help="A competition under `competitions:` in params.yaml, e.g. house-prices, "
                                         "titanic (`python cli.py competition list`).")]
ModelName = Annotated[str, typer.Argument(help="A model under competitions.KEY.models in params.yaml.")]


def _params(key: str):
    from .config import load_competition

    return load_competition(key)


def _where(path: Path) -> str:
    """A path as the user reads it: relative to the repo."""
    from pipeline import REPO_ROOT

    try:
        return str(Path(path).relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _score(value: float) -> str:
    """A score in a summary line: 4 decimals below 1 (0.8316), else 6 significant digits."""
    return f"{value:.4f}" if abs(value) < 1 else f"{value:.6g}"


def _headline(p, result: dict) -> str:
    """`oof_accuracy 0.8316` (with `± se` when the result has it) of a cv or blend result."""
    from pipeline.metric_notes import with_error
    from pipeline.scores import headline

    key = next((k for k in headline(p.key)[:1] if k in result), f"oof_{p.metric}")
    value, se = result.get(key), result.get(f"{key}_se")
    if not isinstance(value, (int, float)):
        return f"{key} -"
    return f"{key} {with_error(value, se) if isinstance(se, (int, float)) else _score(value)}"


def summary_line(p, stage: str, result: dict, model: str = "") -> str:
    """One line saying what a stage did, e.g. `titanic cv lightgbm: oof_accuracy 0.8328 (5 folds)
    -> metrics/titanic/cv_lightgbm.json`; folded to the terminal's width."""
    from pipeline.tables import terminal_width, wrap_note

    metrics = Path(p.paths.cv_scores).parent
    what = f"{p.key} {stage}" + (f" {model}" if model else "")
    if stage == "preprocess":
        said = f"{result.get('n_train')} train and {result.get('n_test')} test rows, {result.get('n_features')} features"
        said += "".join(f", {result[k]} {noun}" for k, noun in (("n_outliers", "outliers"),
                                                                 ("n_columns_left_out", "columns left out"))
                        if result.get(k))
        said += f" -> {_where(metrics / 'preprocess.json')}"
    elif stage in ("cv", "train"):
        said = f"{_headline(p, result.get('cv', result))} ({p.cv.folds} folds)"
        said += f" -> {_where(metrics / f'cv_{model}.json')}"
    elif stage == "fit":
        said = (f"train_{p.metric} {_score(result[f'train_{p.metric}'])} on {result.get('n_train')} rows"
                f" -> {_where(p.paths.model_file(model))}")
    elif stage == "blend":
        said = _headline(p, result)
        if "threshold" in result:
            said += f" at threshold {result['threshold']:.4g}"
        weights = ", ".join(f"{m} {w:.2f}" for m, w in sorted((result.get("weights") or {}).items(),
                                                                key=lambda item: -item[1]))
        said += (f", weights {weights}" if weights else "") + f" -> {_where(p.paths.cv_scores)}"
    else:
        said = f"{result.get('n_rows')} rows -> {_where(p.paths.submission)}"
    return wrap_note(f"{what}: {said}", terminal_width())


def _show(p, stage: str, result: dict, model: str = "") -> None:
    typer.echo(summary_line(p, stage, result, model))


@app.command("list")
def list_competitions() -> None:
    """The configured competitions: key, Kaggle slug, task, metric, models blended."""
    from pipeline.tables import render_table, short_list, table_width, terminal_width

    from .config import competition_names, load_competition

    competitions = [load_competition(key) for key in competition_names()]
    names = ["key", "kaggle", "task", "metric", "models"]
    records = [{"key": p.key, "kaggle": p.kaggle, "task": p.task, "metric": p.metric} for p in competitions]
    room = max(12, terminal_width() - table_width(names[:-1], records) - 2)  # long blends: a few, then +N
    for record, p in zip(records, competitions):
        record["models"] = short_list(p.blend.models, room)
    typer.echo(render_table(names, records))


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

    p = _params(key)
    _show(p, "preprocess", stages.preprocess(p))


@app.command()
def train(key: Key, model: ModelName) -> None:
    """K-fold CV of MODEL, then its final fit on all training rows (stage <stem>_train@MODEL)."""
    from . import stages

    p = _params(key)
    _show(p, "train", stages.train(p, model), model)


@app.command()
def cv(key: Key, model: ModelName) -> None:
    """K-fold cross-validation of MODEL only (the first half of `train`): out-of-fold predictions, fold scores, curves."""
    from . import stages

    p = _params(key)
    _show(p, "cv", stages.cross_validation(p, model), model)


@app.command()
def fit(key: Key, model: ModelName) -> None:
    """Final fit of MODEL only (the second half of `train`); saves it under models/KEY/."""
    from . import stages

    p = _params(key)
    _show(p, "fit", stages.fit(p, model), model)


@app.command()
def blend(key: Key) -> None:
    """Choose blend weights (and a binary threshold) on out-of-fold predictions only; report the CV score."""
    from . import stages

    p = _params(key)
    _show(p, "blend", stages.blend(p))


@app.command()
def submission(key: Key) -> None:
    """Predict the test set, write the submission CSV and validate it against the sample submission."""
    from . import stages

    p = _params(key)
    _show(p, "submission", stages.submission(p))


@app.command()
def preset(name: Annotated[str, typer.Argument(help="Preset name, e.g. `original` (the course's first recipe).")]) -> None:
    """Print `-S key=value` overrides of a named preset, for `dvc exp run $(python cli.py competition preset NAME)`."""
    from pipeline.tables import terminal_width

    from .presets import dvc_set_args

    args = dvc_set_args(name)
    pairs = [f"{flag} {value}" for flag, value in zip(args[::2], args[1::2])]
    lines: list[str] = []
    for pair in pairs:  # lines of whole `-S key=value` pairs: the shell's $(...) splits on newlines too
        if lines and len(lines[-1]) + 1 + len(pair) <= terminal_width():
            lines[-1] += f" {pair}"
        else:
            lines.append(pair)
    typer.echo("\n".join(lines))


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
