"""rnn pipeline end to end: two `rnn_train@...` stages through a real `dvc repro` in a throw-away copy."""

from __future__ import annotations

import json
import os

import pytest

from helpers import TINY_RNN, base_name, mlflow_client

STAGES = ("rnn_train@tm-gru-scratch", "rnn_train@lyrics-lstm-concise")
TINY = {
    **TINY_RNN,
    "rnn.train.epochs": 2,
    "rnn.corpora.jaychou-lyrics.max_tokens": 600,
    "rnn.experiments.lyrics-lstm-concise.train": {"epochs": 2},
}


def _runs():
    import mlflow

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    experiment = mlflow.get_experiment_by_name("rnn")
    assert experiment is not None, "no MLflow experiment 'rnn'"
    return mlflow.search_runs([experiment.experiment_id], output_format="list")


@pytest.mark.slow
@pytest.mark.usefixtures("mirror")
def test_rnn_stages_run_once_and_track(repo_copy):
    repo_copy.set_params(**TINY)
    first = repo_copy.dvc("repro", *STAGES)
    for name in ("tm-gru-scratch", "lyrics-lstm-concise"):
        metrics = json.loads((repo_copy.path / "metrics" / "rnn" / f"{name}.json").read_text())
        assert metrics["device"] == "cpu" and metrics["epochs"] == 2
        assert metrics["perplexity"] > 1 and set(metrics) == {"perplexity", "epochs", "device"}  # no speed: MLflow's
        samples = (repo_copy.path / "models" / "rnn" / f"{name}.samples.txt").read_text(encoding="utf-8").splitlines()
        assert len(samples) == 2
        curve = (repo_copy.path / "plots" / "rnn" / f"{name}.csv").read_text().splitlines()
        assert curve[0] == "epoch,perplexity" and len(curve) == 3
        record = json.loads((repo_copy.path / "runs" / "rnn" / f"{name}.json").read_text())
        assert base_name(record["run_name"]) == name
    assert samples[0].startswith("分开") and samples[1].startswith("不分开")

    runs = {base_name(r): r for r in _runs()}
    assert set(runs) == {"tm-gru-scratch", "lyrics-lstm-concise"}
    run = runs["tm-gru-scratch"]
    assert run.data.tags["device"] == "cpu" and run.data.tags["seed"] == "0"
    assert run.data.tags["dvc_stage"] == "rnn_train@tm-gru-scratch"
    assert run.data.tags["model"] == "gru-scratch" and run.data.tags["dataset"] == "timemachine"
    assert run.data.params["model.cell"] == "gru" and run.data.params["train.hidden"] == "16"
    assert {"perplexity", "tokens_per_sec", "train_seconds"} <= set(run.data.metrics)

    artifacts = {a.path for a in mlflow_client().list_artifacts(run.info.run_id)}
    assert {"samples", "model"} <= artifacts

    generated = repo_copy.run("python", "cli.py", "rnn", "generate", "--model", "models/rnn/tm-gru-scratch.pt",
                              "--prefix", "Time Traveller", "--num-chars", "7")
    text = generated.stdout.rstrip("\n")
    assert text.startswith("Time Traveller") and len(text) == len("Time Traveller") + 7

    second = repo_copy.dvc("repro", *STAGES)
    assert "Running stage 'rnn_train" not in second.stdout, second.stdout
    assert len(_runs()) == 2, first.stdout
    status = repo_copy.dvc("status", *STAGES)
    assert "up to date" in status.stdout, status.stdout
