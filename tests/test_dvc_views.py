"""`cli.py metrics` and `cli.py exps`: one pipeline of `dvc metrics show` / `dvc exp show` at a time,
read from DVC's own JSON in a real repo (a copy with a committed baseline and a changed workspace)."""

from __future__ import annotations

import json
import subprocess

import pytest

from pipeline import dvc_views
from pipeline.errors import ParamError

BASELINE = {"valid_log_rmse_mean": 0.1228, "oof_log_rmse": 0.1237, "oof_log_rmse_without_outliers": 0.1088,
            "weights": {"mlp": 0.21, "elastic_net": 0.79}}


def _write_metrics(root, scores: dict, perplexity: float) -> None:
    for path, data in {"metrics/house-prices/cv.json": scores,
                       "metrics/rnn/tm-gru-concise.json": {"perplexity": perplexity, "tokens_per_sec": 9000.0}}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(json.dumps(data))


@pytest.fixture
def changed_repo(repo_copy):
    """main: the baseline scores; workspace: mlp.lr changed and a better blend, as after a rerun."""
    _write_metrics(repo_copy.path, BASELINE, 1.07)
    subprocess.run(["git", "add", "-f", "metrics"], cwd=repo_copy.path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"],
                   cwd=repo_copy.path, check=True)
    repo_copy.set_params(**{"house.models.mlp.lr": 0.002})
    _write_metrics(repo_copy.path, {**BASELINE, "oof_log_rmse_without_outliers": 0.1079}, 1.07)
    return repo_copy.path


def test_exps_shows_the_changed_param_and_the_headline_scores_within_100_columns(changed_repo):
    table, note = dvc_views.exps_report("house", width=100, root=changed_repo)
    lines = table.splitlines()
    assert max(map(len, lines)) <= 100
    assert lines[0].split() == ["experiment", "models.mlp.lr", "cv:oof_log_rmse", "cv:oof_log_rmse_without_outliers",
                                "cv:valid_log_rmse_mean"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert rows["workspace"][:3] == ["0.002", "0.1237", "0.1079"]
    assert rows[next(k for k in rows if k != "workspace")][:3] == ["0.003", "0.1237", "0.1088"]
    assert note == ""


def test_exps_of_a_pipeline_with_many_scores_goes_one_score_a_line(changed_repo):
    table, note = dvc_views.exps_report("rnn", width=30, root=changed_repo)  # too narrow for a column a score
    assert table.splitlines()[2].split() == ["tm-gru-concise:perplexity", "1.07", "1.07"]
    assert note == "no rnn.* param differs between these revisions"


@pytest.mark.slow
def test_metrics_shows_one_metric_a_line_and_the_change_against_a_revision(changed_repo):
    shown = dvc_views.metrics_report("house", root=changed_repo).splitlines()
    assert shown[0].split() == ["file", "metric", "value"]
    assert "cv.json  weights.mlp" in "\n".join(shown) and all("tm-gru" not in line for line in shown)
    diff = dvc_views.metrics_report("house", diff="HEAD", root=changed_repo).splitlines()
    assert diff[0].split() == ["file", "metric", "HEAD", "workspace", "change"]
    row = next(line.split() for line in diff if "oof_log_rmse_without_outliers" in line)
    assert row[2:] == ["0.1088", "0.1079", "-0.0009"]
    assert not any("valid_log_rmse_mean" in line for line in diff)  # unchanged: left out, and said so
    assert diff[-1] == "(4 unchanged metrics not shown: --all shows them)"
    every = dvc_views.metrics_report("house", diff="HEAD", root=changed_repo, show_all=True)
    assert "valid_log_rmse_mean" in every and "unchanged metrics not shown" not in every


def test_an_unknown_pipeline_is_a_param_error():
    with pytest.raises(ParamError, match="unknown pipeline 'housing': one of house, regularization, rnn"):
        dvc_views.view("housing")
