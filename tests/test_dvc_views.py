"""`cli.py metrics` and `cli.py exps`: one pipeline of `dvc metrics show` / `dvc exp show` at a time,
read from DVC's own JSON in a real repo (a copy with a committed baseline and a changed workspace)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from pipeline import dvc_views
from pipeline.errors import ParamError

BASELINE = {"valid_log_rmse_mean": 0.1228, "oof_log_rmse": 0.1237, "oof_log_rmse_without_outliers": 0.1088,
            "weights": {"mlp": 0.21, "elastic_net": 0.79}}


def _write_metrics(root, scores: dict, perplexity: float) -> None:
    for path, data in {"metrics/house-prices/cv.json": scores,
                       "metrics/house-prices/cv_lightgbm_linear.json": {
                           "oof_log_rmse": scores["oof_log_rmse"],
                           "folds": {"fold1": {"train_log_rmse": 0.0672, "valid_log_rmse": scores["oof_log_rmse"]}}},
                       "metrics/rnn/tm-gru-concise.json": {"perplexity": perplexity, "tokens_per_sec": 9000.0}}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(json.dumps(data))


def _baseline_label(root) -> str:
    """How `dvc exp show` names the committed baseline: its branch."""
    return subprocess.run(["git", "branch", "--show-current"], cwd=root, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def changed_repo(repo_copy):
    """main: the baseline scores; workspace: mlp.lr changed and a better blend, as after a rerun."""
    _write_metrics(repo_copy.path, BASELINE, 1.07)
    subprocess.run(["git", "add", "-f", "metrics"], cwd=repo_copy.path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"],
                   cwd=repo_copy.path, check=True)
    repo_copy.set_params(**{"competitions.house-prices.models.mlp.lr": 0.002})
    _write_metrics(repo_copy.path, {**BASELINE, "oof_log_rmse_without_outliers": 0.1079}, 1.07)
    return repo_copy.path


def test_exps_shows_the_changed_param_and_the_headline_scores_within_100_columns(changed_repo):
    table, note = dvc_views.exps_report("house", width=100, root=changed_repo)
    lines = table.splitlines()
    assert max(map(len, lines)) <= 100
    # the headline (out of fold without the outliers, House Prices' score) first
    assert lines[0].split() == ["experiment", "models.mlp.lr", "cv:oof_log_rmse_without_outliers", "cv:oof_log_rmse",
                                "cv:valid_log_rmse_mean"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert rows["workspace"][:3] == ["0.002", "0.1079", "0.1237"]
    assert rows[next(k for k in rows if k != "workspace")][:3] == ["0.003", "0.1088", "0.1237"]
    assert note == ""


def test_exps_of_a_pipeline_with_many_scores_goes_one_score_a_line(changed_repo):
    table, note = dvc_views.exps_report("rnn", width=36, root=changed_repo)  # too narrow for a column a score
    assert max(map(len, table.splitlines())) <= 36
    assert table.splitlines()[0].split() == ["workspace"]  # the other revision does not fit: said on stderr
    assert table.splitlines()[2].split() == ["tm-gru-concise:perplexity", "1.07"]
    assert max(map(len, note.splitlines())) <= 36  # the notes fold to the width too
    assert " ".join(note.split()) == (f"1 more revisions not shown for width: {_baseline_label(changed_repo)} "
                                      "no rnn.* param differs between these revisions")


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
    assert diff[-1] == "(7 unchanged metrics not shown: --all shows them)"
    every = dvc_views.metrics_report("house", diff="HEAD", root=changed_repo, show_all=True)
    assert "valid_log_rmse_mean" in every and "unchanged metrics not shown" not in every


@pytest.mark.slow
def test_metrics_shows_the_scores_and_fits_100_columns(changed_repo):
    shown = dvc_views.metrics_report("house", root=changed_repo, width=100).splitlines()
    keys = sorted(line.split()[1] for line in shown[2:-1])
    assert keys == ["oof_log_rmse", "oof_log_rmse_without_outliers", "valid_log_rmse_mean", "weights.elastic_net",
                    "weights.mlp"]  # the blend's scores and weights; no per-fold number
    assert shown[-1] == "(3 more metrics not shown: --all shows them)"  # cv_lightgbm_linear.json's
    every = dvc_views.metrics_report("house", root=changed_repo, show_all=True).splitlines()
    assert "folds.fold1.train_log_rmse" in "\n".join(every) and "more metrics" not in every[-1]

    # A change of a long key beside a long file name: over 100 columns as file + metric, so the
    # two go in one column, named as `exps` names them
    _write_metrics(changed_repo, {**BASELINE, "oof_log_rmse": 0.123456, "models": {
        "lightgbm_linear": {"oof_log_rmse_without_outliers": 0.109481234}}}, 1.07)
    wide = dvc_views.metrics_report("house", diff="HEAD", root=changed_repo, width=200).splitlines()
    assert max(map(len, wide)) > 100 and wide[0].split()[:2] == ["file", "metric"]
    fitted = dvc_views.metrics_report("house", diff="HEAD", root=changed_repo, width=100).splitlines()
    assert max(map(len, fitted)) <= 100
    assert fitted[0].split() == ["metric", "HEAD", "workspace", "change"]
    assert "cv_lightgbm_linear:folds.fold1.valid_log_rmse" in {line.split()[0] for line in fitted[2:]}


@pytest.mark.slow
def test_exps_summarises_a_changed_list_param(changed_repo, repo_copy):
    repo_copy.set_params(**{"competitions.house-prices.blend.models": ["elastic_net", "mlp", "lightgbm_linear",
                                                                    "spline_net"]})
    table, _ = dvc_views.exps_report("house", width=100, root=changed_repo)
    lines = table.splitlines()
    assert max(map(len, lines)) <= 100
    # two changed params and three scores: one line each, the list summarised, not
    # ['elastic_net', 'mlp', 'lightgbm_linear', 'spline_net']
    row = next(line.split() for line in lines if line.startswith("blend.models "))
    assert row[1] == "elastic_net,mlp,+2" and "[" not in table


def test_an_unknown_pipeline_is_a_param_error():
    with pytest.raises(ParamError, match="unknown pipeline 'housing': one of house-prices, titanic, regularization, "
                                         "rnn"):
        dvc_views.view("housing")


def test_a_competitions_view_is_its_params_block_and_its_metrics_scores():
    house = dvc_views.view("house-prices")
    assert dvc_views.view("house") == house  # the old name still works
    assert (house.params, house.metrics_dir) == ("competitions.house-prices", "metrics/house-prices/")
    titanic = dvc_views.view("titanic")
    assert (titanic.params, titanic.metrics_dir) == ("competitions.titanic", "metrics/titanic/")
    assert re.search(titanic.headline, "cv:oof_accuracy") and not re.search(titanic.headline, "cv:oof_log_rmse")
    assert re.search(house.headline, "cv:oof_log_rmse_without_outliers")


TITANIC_CV = {"oof_accuracy": 0.8316498316, "oof_auc": 0.8731558709, "oof_logloss": 0.3996886418, "threshold": 0.5,
              "valid_accuracy_mean": 0.831630155, "weights": {"elastic_net": 1.40107e-16, "lightgbm": 1.0},
              "models": {"lightgbm": {"oof_accuracy": 0.8327721661}}}


def test_metrics_shows_the_headline_first_with_its_error_how_the_folds_were_drawn_and_the_shift(repo_copy):
    """What `cli.py metrics titanic` prints when cv.json holds standard errors and the scheme and
    preprocess wrote shift.json; and, from older files without them, the table alone."""
    folder = repo_copy.path / "metrics" / "titanic"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cv.json").write_text(json.dumps({
        **TITANIC_CV, "oof_accuracy_se": 0.0120, "oof_accuracy_test_se": 0.0183, "cv_scheme": "stratified",
        "cv_scheme_reason": "a binary target: each fold keeps the share of survivors"}))
    (folder / "shift.json").write_text(json.dumps({
        "auc": 0.5123, "auc_se": 0.021, "verdict": "no shift", "n_train": 891, "n_test": 418,
        "top": [{"feature": "Fare", "share": 0.31}, {"feature": "Age", "share": 0.22}],
        "left_out": {"Name": "text, a different value in every row", "Ticket": "text", "Cabin": "mostly empty",
                     "PassengerId": "the id", "Embarked": "constant"}}))

    lines = dvc_views.metrics_report("titanic", root=repo_copy.path, width=100).splitlines()
    assert max(map(len, lines)) <= 100
    assert lines[2].split() == ["cv.json", "oof_accuracy", "0.8316", "±", "0.0120"]  # the headline, first
    assert lines[3].split()[1] == "valid_accuracy_mean"
    values = {line.split()[1]: line.split()[2] for line in lines[2:] if line.startswith("cv.json")}
    assert values["weights.elastic_net"] == "0" and values["weights.lightgbm"] == "1"  # not 1.40107e-16
    assert not any(k.endswith("_se") or k.startswith("cv_scheme") for k in values)  # said beside the headline
    notes = [line for line in lines if not line.startswith(("cv.json", "file", "-"))]
    assert notes[:5] == [
        "folds: stratified (a binary target: each fold keeps the share of survivors)",
        "on the test set's rows, accuracy varies by ± 0.0183 (binomial standard error)",
        "train/test shift: AUC 0.5123 ± 0.0210, no shift (891 train, 418 test rows)",
        "  columns that drive it: Fare 31%, Age 22%",
        "  left out: Name (text, a different value in every row), Ticket (text), Cabin (mostly empty),"]
    assert notes[5] == "    PassengerId (the id) and 1 more"

    # today's files: no error, no scheme, no shift.json
    (folder / "cv.json").write_text(json.dumps(TITANIC_CV))
    (folder / "shift.json").unlink()
    lines = dvc_views.metrics_report("titanic", root=repo_copy.path, width=100).splitlines()
    assert lines[2].split() == ["cv.json", "oof_accuracy", "0.83165"]
    assert all(line.startswith(("cv.json", "file", "-", "(")) for line in lines)

    # House Prices' headline is without the outliers; the error its blend stage writes is the
    # all-rows score's: shown on that row, not claimed for the headline
    house = repo_copy.path / "metrics" / "house-prices"
    house.mkdir(parents=True, exist_ok=True)
    (house / "cv.json").write_text(json.dumps({**BASELINE, "oof_log_rmse_se": 0.0031, "cv_scheme": "shuffled"}))
    lines = dvc_views.metrics_report("house-prices", root=repo_copy.path, width=100).splitlines()
    assert lines[2].split() == ["cv.json", "oof_log_rmse_without_outliers", "0.1088"]
    assert next(line.split() for line in lines if " oof_log_rmse " in line) == ["cv.json", "oof_log_rmse", "0.12370",
                                                                                "±", "0.00310"]
    assert "folds: shuffled" in lines and not any("_se" in line for line in lines)
