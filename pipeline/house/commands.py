"""Stage commands of the house pipeline (one per DVC stage)."""

import typer

app = typer.Typer(no_args_is_help=True)
