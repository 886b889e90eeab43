"""The typer application behind `cli.py`: shared commands plus one group per pipeline."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, ClassVar

import typer
from typer.core import TyperGroup
from typer.main import get_group_from_info
from typer.models import TyperInfo


class WholeHelpGroup(TyperGroup):
    """A command group whose `--help` lists each command's first sentence whole, folded to the
    terminal's width (click cuts it with "..." to fit one line)."""

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class PipelineGroups(WholeHelpGroup):
    """The root command: each pipeline's command group is imported only when one of its commands
    runs, so a stage imports its own pipeline and the shared plumbing, nothing of the others
    (and `dvc.yaml` deps stay exact). `--help` lists the groups without importing them."""

    LAZY: ClassVar[dict[str, tuple[str, str]]] = {
        "competition": ("pipeline.tabular.commands",
                        "Kaggle tabular competitions: new, preprocess, k-fold CV, fits, blend, submission."),
        "house": ("pipeline.tabular.commands:house_app",
                  "House Prices' stages (`competition STAGE house-prices`, shorter)."),
        "regularization": ("pipeline.regularization.commands",
                           "Regularization experiments: polynomial fit, weight decay, dropout, init."),
        "rnn": ("pipeline.rnn.commands", "Modern RNN experiments: RNN/GRU/LSTM language models, text generation."),
        "tune": ("pipeline.tune.commands",
                 "Optuna sweeps in a shared SQLite/PostgreSQL study; best params into params.yaml."),
    }
    _listing = False

    def list_commands(self, ctx):
        return [*self.LAZY, *super().list_commands(ctx)]

    def get_command(self, ctx, name):
        if name not in self.LAZY:
            return super().get_command(ctx, name)
        module, help_text = self.LAZY[name]
        if self._listing:  # the help page needs only the one-line summary
            return TyperGroup(name=name, help=help_text)
        module, _, attribute = module.partition(":")
        sub_app = getattr(importlib.import_module(module), attribute or "app")
        return get_group_from_info(TyperInfo(sub_app, name=name, help=help_text, cls=WholeHelpGroup),
                                   pretty_exceptions_short=True,
                                   suggest_commands=True, rich_markup_mode=None)

    def format_commands(self, ctx, formatter):
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=PipelineGroups,
    help="Reproducible DVC + MLflow + PyTorch pipelines. Each stage of dvc.yaml is one command here.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"max_content_width": 120},  # use the terminal's width, up to 120 columns
    rich_markup_mode=None,  # plain click help: flags shown as flags (rich mode prints `<bool>` after them)
)


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


# ---- compare and ship: thin wrappers over pipeline.runs_view, pipeline.ui and pipeline.tabular.upload


@app.command()
def runs(
    experiment: Annotated[str | None, typer.Option("--experiment", "-e", help="Experiment name (a competition: "
                                                   "house-prices, titanic...; regularization, rnn); default: every "
                                                   "experiment.")] = None,
    params: Annotated[list[str] | None, typer.Option("--params", "-p", help="Param columns, comma-separated or "
                                                     "repeated (e.g. model.cell,train.lr); default: the params "
                                                     "that tell runs of one kind apart, changed ones first, as "
                                                     "many as fit the terminal (stderr says what was left out)."
                                                     )] = None,
    metrics: Annotated[list[str] | None, typer.Option("--metrics", "-m", help="Metric columns, comma-separated "
                                                      "or repeated; default: the experiment's headline score "
                                                      "first, then other scores.")] = None,
    sort: Annotated[str | None, typer.Option(help="Sort by this metric, lowest first (runs without it "
                                             "last).")] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Sort highest first (a flag; with --sort).")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
    filter_string: Annotated[str, typer.Option("--filter", help="MLflow search filter, e.g. "
                                               "\"tags.stage = 'cv' and tags.model = 'mlp'\".")] = "",
    limit: Annotated[int, typer.Option(help="At most this many runs (newest first).")] = 1000,
    top_level: Annotated[bool, typer.Option("--top-level", help="Leave out nested runs (CV folds, "
                                            "per-configuration runs), even with --all-runs.")] = False,
    all_runs: Annotated[bool, typer.Option("--all-runs", help="Also list CV fold runs and final fits (left "
                                           "out by default: their parent holds their scores).")] = False,
) -> None:
    """MLflow runs as a table: their scores and the params that differ, sortable."""
    from pipeline import runs_view

    table, note = runs_view.runs_report(experiment, params, metrics, sort, desc, fmt, filter_string, limit, top_level,
                                        all_runs=all_runs)
    typer.echo(table)
    if note:  # on stderr: stdout stays a table (or csv/json) that programs can read
        sys.stdout.flush()
        typer.echo(note, err=True)


PipelineName = Annotated[str, typer.Argument(help="A competition (house-prices, titanic, ...), regularization or rnn.")]


@app.command()
def metrics(
    pipeline: PipelineName,
    diff: Annotated[str | None, typer.Option("--diff", help="Show the metrics that changed against this git "
                                             "revision (e.g. HEAD, main, an experiment name).")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Every metric, not only the scores; with --diff, "
                                           "unchanged ones too.")] = False,
) -> None:
    """One pipeline's `dvc metrics show` (or `diff REV`): its scores, a line each."""
    from pipeline import dvc_views

    typer.echo(dvc_views.metrics_report(pipeline, diff, show_all=show_all))


@app.command()
def exps(pipeline: PipelineName) -> None:
    """One pipeline's `dvc exp show`: a row per experiment, changed params, scores."""
    from pipeline import dvc_views

    table, note = dvc_views.exps_report(pipeline)
    typer.echo(table)
    if note:
        sys.stdout.flush()
        typer.echo(note, err=True)


@app.command()
def ui(
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: tracking.ui_port in "
                                             "params.yaml, else 5000).")] = None,
    workers: Annotated[int, typer.Option(help="Server worker processes.")] = 1,
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="Experiment whose runs page to show: "
                                            "a competition (house-prices, titanic...), regularization or "
                                            "rnn.")] = "house-prices",
    open_browser: Annotated[bool, typer.Option("--open", help="Also open that page in the default browser.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show the server's log (start-up, requests) here "
                                          "instead of in its log file.")] = False,
) -> None:
    """Serve the MLflow UI of the project's store (127.0.0.1); print its runs page."""
    from pipeline import ui as mlflow_ui

    port = port if port is not None else mlflow_ui.ui_port_param()
    raise typer.Exit(mlflow_ui.serve_ui(port, workers, experiment, open_browser, verbose=verbose))


@app.command()
def submit(
    competition: Annotated[str, typer.Argument(help="A competition under `competitions:` in params.yaml.")
                           ] = "house-prices",
    file: Annotated[str | None, typer.Option("--file", help="CSV to upload (default: the competition's "
                                             "submission, e.g. data/submission.csv for house-prices).")] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="Submission message (default: the git "
                                                "commit and the CV score).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and show what would be sent; send "
                                          "nothing (needs no credentials).")] = False,
) -> None:
    """Validate a competition's submission and upload it to Kaggle with the official client."""
    from pipeline.tables import terminal_width
    from pipeline.tabular import upload as shipping

    plan = shipping.plan(competition, file, message)
    for line in shipping.plan_lines(plan, terminal_width()):
        typer.echo(line)
    if dry_run:
        typer.echo("dry run: nothing sent")
        return
    result = shipping.submit(plan)
    typer.echo(f"submitted: Kaggle says {result['kaggle_message'] or 'ok'!r} (ref {result['kaggle_ref']})")
