"""Every command of `cli.py` fits a 100-column terminal, stdout and stderr: each command's help,
and a real run of each command that a small input makes quick (a new synthetic competition from
its files to `submit --dry-run`, the views on its runs and metrics). The commands left to their
help say why; a command added to the CLI fails here until it is given one or the other."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer
from test_competition_new import make_competition
from typer.testing import CliRunner

from pipeline import REPO_ROOT
from pipeline.commands import app
from pipeline.tabular.commands import summary_line
from pipeline.tabular.config import load_competition

WIDTH = 100
KEY, MODEL = "synth", "elastic_net"

# Commands run for real in `test_a_new_competition_from_files_to_submit_fits_100_columns`.
RUN = {"competition new", "competition list", "competition preset", "competition preprocess", "competition train",
       "competition cv", "competition fit", "competition blend", "competition submission", "download", "runs",
       "metrics", "exps", "submit", "house preset"}
# Commands only their help is run for, and why.
HELP_ONLY = {
    **{f"house {stage}": f"the same function as `competition {stage} house-prices` (run above on a small "
                         "competition)" for stage in ("preprocess", "train", "cv", "fit", "blend", "submission")},
    **{f"regularization {stage}": "trains on Fashion-MNIST or many fits: minutes; prints one short line a "
                                  "configuration (test_regularization_stages.py)"
       for stage in ("polynomial", "weight-decay", "dropout", "init")},
    "rnn train": "trains a language model; prints one short line and its samples of rnn.train.num_chars (50) "
                 "characters (test_rnn_pipeline.py)",
    "rnn generate": "needs a trained RNN; prints the text asked for, --num-chars long (test_rnn_pipeline.py)",
    **{f"tune {name}": "Optuna studies of many CV fits (test_tune.py)"
       for name in ("house-prices", "titanic", "house", "best", "apply")},
    "ui": "serves the MLflow UI until stopped (test_ui.py, test_browser.py)",
}


def command_paths() -> list[str]:
    """Every leaf command of the CLI, `group command` or `command`, by walking the typer app."""
    root = typer.main.get_command(app)
    context = type(root.make_context("cli.py", ["--help"], resilient_parsing=True))

    def walk(group, ctx, prefix: tuple[str, ...] = ()):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if hasattr(command, "list_commands"):
                yield from walk(command, context(command, parent=ctx, info_name=name), (*prefix, name))
            else:
                yield " ".join((*prefix, name))

    return list(walk(root, context(root)))


def too_wide(*texts: str) -> list[str]:
    return [line for text in texts for line in text.splitlines() if len(line) > WIDTH]


def test_every_command_is_run_or_its_help_is_and_says_why():
    paths = command_paths()
    assert len(paths) >= 30 and "competition train" in paths and "submit" in paths
    assert set(paths) == RUN | set(HELP_ONLY), "a command without a width check: add it to RUN or HELP_ONLY"


def test_every_commands_help_fits_100_columns():
    runner = CliRunner()
    for path in command_paths():
        out = runner.invoke(app, [*path.split(), "--help"], env={"COLUMNS": str(WIDTH)})
        assert out.exit_code == 0, (path, out.output)
        assert "Usage:" in out.output and not too_wide(out.output), (path, too_wide(out.output))


def test_each_stage_says_one_line_of_its_metrics_files():
    """The line each stage prints instead of its metrics JSON, from the repo's own metrics files."""
    for key, model in (("titanic", "lightgbm"), ("house-prices", "svr")):
        p = load_competition(key)
        folder = REPO_ROOT / "metrics" / key
        if not (folder / "cv.json").is_file():
            pytest.skip(f"{folder}: no metrics (run `dvc repro`)")
        read = {name: json.loads((folder / f"{name}.json").read_text())
                for name in ("preprocess", f"cv_{model}", f"fit_{model}", "cv", "submission")}
        lines = {"preprocess": summary_line(p, "preprocess", read["preprocess"]),
                 "cv": summary_line(p, "cv", read[f"cv_{model}"], model),
                 "train": summary_line(p, "train", {"cv": read[f"cv_{model}"], "fit": read[f"fit_{model}"]}, model),
                 "fit": summary_line(p, "fit", read[f"fit_{model}"], model),
                 "blend": summary_line(p, "blend", read["cv"]),
                 "submission": summary_line(p, "submission", read["submission"])}
        assert not too_wide(*lines.values()), lines
        headline = "oof_log_rmse_without_outliers" if key == "house-prices" else "oof_accuracy"
        said = {stage: " ".join(line.split()) for stage, line in lines.items()}
        assert said["cv"].startswith(f"{key} cv {model}: {headline} 0.") and "folds) -> metrics/" in said["cv"]
        assert said["blend"].startswith(f"{key} blend: {headline} ")
        assert said["blend"].endswith(f"-> metrics/{key}/cv.json")
        assert said["submission"] == f"{key} submission: {read['submission']['n_rows']} rows -> " \
                                     f"{p.paths.submission.relative_to(REPO_ROOT)}"


def _cli(repo, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    """`python cli.py ARGS` in the repo copy, in a 100-column terminal."""
    env = {**os.environ, "COLUMNS": str(WIDTH)}
    env = {k: v for k, v in env.items() if not k.startswith("KAGGLE_")}
    done = subprocess.run([sys.executable, "cli.py", *args], cwd=repo.path, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert (done.returncode == 0) == ok, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_a_new_competition_from_files_to_submit_fits_100_columns(repo_copy, tmp_path, mirror):
    """A user's session on a small new competition: every command's stdout and stderr fit 100
    columns, and a stage says one line, not its metrics JSON."""
    folder = make_competition(tmp_path / "files", kind="binary", target="bought")
    lacking = make_competition(tmp_path / "lacking", kind="binary", target="bought")
    (lacking / "sample_submission.csv").unlink()
    outputs: dict[str, subprocess.CompletedProcess] = {}

    refused = _cli(repo_copy, "competition", "new", "other", "--from", str(lacking), ok=False)
    assert refused.stderr.startswith(f"error: --from {lacking}: no sample submission:")
    assert len(refused.stderr.splitlines()) == 1 and "Kaggle" not in refused.stderr
    outputs["competition new"] = _cli(repo_copy, "competition", "new", KEY, "--from", str(folder))
    outputs["exps"] = _cli(repo_copy, "exps", KEY)  # before its first run: the whole block is new
    assert "no competitions.synth params (the block is newer)" in " ".join(outputs["exps"].stderr.split())
    repo_copy.set_params(**{f"competitions.{KEY}.cv.folds": 2, f"competitions.{KEY}.blend.models": [MODEL]})
    repo_copy.dvc("repro", f"{KEY}_submission")

    outputs["submit"] = _cli(repo_copy, "submit", KEY, "--dry-run")
    assert "dry run: nothing sent" in outputs["submit"].stdout
    # a relative --dest: the command prints the path it was given, and pytest's tmp_path (longer
    # under pytest-xdist) is not the user's
    outputs["download"] = _cli(repo_copy, "download", KEY, "--dest", "raw-again")
    outputs["competition list"] = _cli(repo_copy, "competition", "list")
    assert outputs["competition list"].stdout.splitlines()[0].split() == ["key", "kaggle", "task", "metric", "models"]
    outputs["competition preset"] = _cli(repo_copy, "competition", "preset", "original")
    outputs["house preset"] = _cli(repo_copy, "house", "preset", "original")
    for stage in ("preprocess", "blend", "submission"):
        outputs[f"competition {stage}"] = _cli(repo_copy, "competition", stage, KEY)
    for stage in ("train", "cv", "fit"):
        outputs[f"competition {stage}"] = _cli(repo_copy, "competition", stage, KEY, MODEL)
    for stage in ("preprocess", "train", "cv", "fit", "blend", "submission"):  # one line, not the JSON
        stdout = outputs[f"competition {stage}"].stdout
        assert stdout.startswith(f"{KEY} {stage}") and "{" not in stdout and len(stdout.splitlines()) <= 2, stdout
    assert f"-> metrics/{KEY}/cv_{MODEL}.json" in " ".join(outputs["competition cv"].stdout.split())
    outputs["metrics"] = _cli(repo_copy, "metrics", KEY)
    assert outputs["metrics"].stdout.splitlines()[2].split()[:2] == ["cv.json", "oof_accuracy"]
    outputs["runs"] = _cli(repo_copy, "runs")
    assert outputs["runs"].stdout.startswith(f"== {KEY}: ")
    outputs["runs -e"] = _cli(repo_copy, "runs", "-e", KEY, "--all-runs")
    outputs["runs absent"] = _cli(repo_copy, "runs", "-e", "regularization")
    assert "`dvc repro -f -s reg_polynomial" in outputs["runs absent"].stdout

    wide = {name: too_wide(done.stdout, done.stderr) for name, done in outputs.items()}
    assert not any(wide.values()), {name: lines for name, lines in wide.items() if lines}
    assert RUN <= set(outputs)
