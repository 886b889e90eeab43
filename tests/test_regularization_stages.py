"""The stages end to end through a real `dvc repro` in a throw-away copy: outputs, MLflow runs, no-op rerun."""

from __future__ import annotations

import json

import pytest

from helpers import base_name, mlflow_client

TINY = {
    "regularization.polynomial.epochs": 4,
    "regularization.weight_decay.epochs": 2,
    "regularization.weight_decay.lambdas": [0, 3],
    "regularization.dropout.epochs": 1,
    "regularization.dropout.train_limit": 512,
    "regularization.dropout.test_limit": 256,
    "regularization.init.epochs": 1,
    "regularization.init.depth": 3,
    "regularization.init.width": 16,
    "regularization.init.probe_batch": 64,
    "regularization.init.probe_steps": 2,
    "regularization.init.train_limit": 512,
    "regularization.init.test_limit": 256,
}
STAGES = {"reg_polynomial": "polynomial", "reg_weight_decay": "weight_decay", "reg_dropout": "dropout",
          "reg_init": "init"}


def check_polynomial_outputs(root, client) -> None:
    """Metrics, plots, and the parent run with one nested run per case, curves stepped by epoch."""
    metrics = json.loads((root / "metrics/regularization/polynomial.json").read_text())
    assert set(metrics) == {"cubic", "linear", "degree20", "few_samples"}
    assert set(metrics["cubic"]) == {"train_loss", "test_loss", "w0", "w1", "w2", "w3"}
    assert set(metrics["degree20"]) == {"train_loss", "test_loss", *(f"w{i}" for i in range(21))}
    header = (root / "plots/regularization/polynomial.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "epoch" and "few_samples_test_loss" in header and "degree20_train_loss" in header
    assert (root / "plots/regularization/polynomial.png").read_bytes()[:4] == b"\x89PNG"

    record = json.loads((root / "runs/regularization/polynomial.json").read_text())
    parent = client.get_run(record["run_id"])
    assert base_name(parent) == "polynomial"
    assert parent.data.tags["device"] == "cpu" and parent.data.tags["seed"] == "0"
    assert parent.data.params["lr"] == "0.02"
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(base_name(r) for r in children) == ["polynomial/cubic", "polynomial/degree20",
                                                        "polynomial/few_samples", "polynomial/linear"]
    for child in children:
        assert child.data.tags["device"] == "cpu" and child.data.tags["pipeline"] == "regularization"
        name = child.data.tags["config"]
        assert child.data.params["degree"] == {"linear": "1", "degree20": "20"}.get(name, "3")
        assert child.data.metrics["test_loss"] == pytest.approx(metrics[name]["test_loss"])
        assert child.data.metrics["w1"] == pytest.approx(metrics[name]["w1"])
        history = client.get_metric_history(child.info.run_id, "train_loss")
        assert [m.step for m in history] == list(range(1, TINY["regularization.polynomial.epochs"] + 1))
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert artifacts == {"plots/polynomial.csv", "plots/polynomial.png"}


def check_dvc_plots(repo_copy) -> None:
    """`dvc plots show` finds every column the dvc.yaml definitions name (no empty curve) and every picture."""
    import yaml

    shown = json.loads(repo_copy.dvc("plots", "show", "--json", "-o", "dvc_plots").stdout)["data"]
    definitions = [d for d in yaml.safe_load((repo_copy.path / "dvc.yaml").read_text())["plots"]
                   if "regularization" in (d if isinstance(d, str) else next(iter(d)))]
    for definition in definitions:
        if isinstance(definition, str):  # a picture
            assert [item["type"] for item in shown[definition]] == ["image"], definition
            continue
        (title, spec), = definition.items()
        fields = {row.get("field") for item in shown[title] for row in item["content"]["data"]["values"]}
        named = {column for columns in spec["y"].values() for column in columns}
        assert named <= fields, (title, named - fields)


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_then_is_a_no_op(repo_copy, mirror):
    repo_copy.set_params(**TINY)
    targets = list(STAGES)
    first = repo_copy.dvc("repro", *targets)
    for stage in targets:
        assert f"Running stage '{stage}'" in first.stdout

    client = mlflow_client()
    for stage, name in STAGES.items():
        metrics = json.loads((repo_copy.path / f"metrics/regularization/{name}.json").read_text())
        assert metrics and all("test_loss" in m for m in metrics.values())
        record = json.loads((repo_copy.path / f"runs/regularization/{name}.json").read_text())
        parent = client.get_run(record["run_id"])
        assert parent.data.tags["dvc_stage"] == stage
        children = client.search_runs([parent.info.experiment_id],
                                      f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        assert {r.data.tags["config"] for r in children} == set(metrics)
    dropout = json.loads((repo_copy.path / "metrics/regularization/dropout.json").read_text())
    assert set(dropout) == {"scratch", "concise", "no_dropout"}
    check_polynomial_outputs(repo_copy.path, client)
    shown = repo_copy.dvc("metrics", "show", "--json").stdout
    for config in ("cubic", "degree20", "few_samples", "scratch_wd3", "concise_wd0", "no_dropout", "kaiming_relu"):
        assert f'"{config}"' in shown, config
    check_dvc_plots(repo_copy)

    again = repo_copy.dvc("repro", *targets)
    assert "Running stage" not in again.stdout
    for stage in targets:
        assert f"Stage '{stage}' didn't change, skipping" in again.stdout
    assert "up to date" in repo_copy.dvc("status", *targets).stdout
    runs = client.search_runs([parent.info.experiment_id], max_results=1000)
    assert len(runs) == sum(1 + len(json.loads((repo_copy.path / f"metrics/regularization/{n}.json").read_text()))
                            for n in STAGES.values())  # the no-op logged nothing
