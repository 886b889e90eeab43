"""Stage commands of the rnn pipeline (one per DVC stage), plus text generation from a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command()
def train(
    name: Annotated[str, typer.Argument(help="Experiment name under rnn.experiments in params.yaml.")],
    raw_dir: Annotated[Path, typer.Option(help="Folder holding the downloaded corpora.")] = Path("data/raw"),
    progress: Annotated[bool, typer.Option(help="Show a progress bar over epochs (on a terminal only).")] = True,
) -> None:
    """Train one experiment (stage rnn_train@NAME): model, samples, metrics, per-epoch plot, MLflow run."""
    from pipeline.params import load_params
    from pipeline.rnn.config import load_experiment
    from pipeline.rnn.experiment import run_experiment
    from pipeline.stage import StageOutputs

    exp = load_experiment(load_params(), name)
    result = run_experiment(exp, raw_dir, StageOutputs("rnn", name), progress=progress)
    typer.echo(f"{name}: perplexity {result['perplexity']:.3f}, {result['tokens_per_sec']:.0f} tokens/s "
               f"on {result['device']}, {result['train_seconds']:.1f} s")
    for sample in result["samples"]:
        typer.echo(f"  {sample}")


@app.command()
def generate(
    model: Annotated[Path, typer.Option(help="Model file of a train stage, e.g. models/rnn/tm-gru-concise.pt.")],
    prefix: Annotated[str, typer.Option(help="Text to continue (characters outside the vocabulary are fed as <unk>).")],
    num_chars: Annotated[int, typer.Option(help="How many characters to generate.")] = 50,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
) -> None:
    """Continue PREFIX with a trained model by greedy decoding (deterministic)."""
    from pipeline.rnn.generate import generate as generate_text
    from pipeline.rnn.models import load_model
    from pipeline.runtime import pick_device

    if num_chars < 1:
        from pipeline.errors import ParamError

        raise ParamError(f"--num-chars must be >= 1; got {num_chars}")
    if not prefix:
        from pipeline.errors import ParamError

        raise ParamError("--prefix must not be empty: generation starts from at least one character")
    where = pick_device(device)
    loaded = load_model(model, where)
    typer.echo(generate_text(loaded.model, loaded.vocab, prefix, num_chars, where, corpus=loaded.corpus))
