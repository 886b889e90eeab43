"""`cli.py tune`: the declared search space, a tiny study end to end on SQLite, two workers sharing
one study on PostgreSQL, and `tune apply` writing only the best params (docs/tune.md). House
Prices' studies minimise its log-RMSE, Titanic's maximise its accuracy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import optuna
import pytest
import yaml
from helpers import base_name, changed_lines
from sandbox import copy_repo
from typer.testing import CliRunner

from pipeline import REPO_ROOT
from pipeline.errors import ParamError
from pipeline.tabular.models import model_params
from pipeline.tune import apply as applying
from pipeline.tune import space
from pipeline.tune.commands import app as tune_app
from pipeline.tune.study import storage_url

HOUSE = "competitions.house-prices.models"
MLP = {"type": "mlp", "hidden": [64], "dropout": 0.2, "lr": 0.003, "epochs": 60}
BOOSTING = {"type": "gradient_boosting", "options": {"n_estimators": 800, "max_depth": 4}}
# Tiny trials: elastic net with few iterations on 2 or 3 folds.
TINY = {f"{HOUSE}.elastic_net.max_iter": 300}


def _parse(raw, base=MLP, model="mlp"):
    where = f"{HOUSE}.{model}"
    return space.parse(raw, f"tune.spaces.house-prices.{model}", where, base, check=lambda v: model_params(v, where))


# ---- the search space


SPACE = "tune.spaces.house-prices.mlp"


@pytest.mark.parametrize("raw, named, says", [
    ({"lr": {"low": 0.01, "high": 0.001}}, f"{SPACE}.lr", "low must be below high"),
    ({"lr": {"low": 0.0, "high": 0.1, "log": True}}, f"{SPACE}.lr", "> 0 on a log scale"),
    ({"lr": {"low": 0.001, "high": "0.1"}}, f"{SPACE}.lr", "numeric low and high"),
    ({"lr": {"low": 0.001, "hi": 0.1}}, f"{SPACE}.lr", "unknown key(s) hi"),
    ({"lr": {"low": -0.1, "high": 0.1}}, f"{SPACE}.lr", f"'{HOUSE}.mlp.lr' must be > 0"),
    ({"dropout": {"low": 0.0, "high": 1.5}}, f"{SPACE}.dropout", "must be in [0, 1)"),
    ({"lrr": {"low": 0.001, "high": 0.1}}, f"{SPACE}.lrr", f"unknown param(s) {HOUSE}.mlp.lrr"),
    ({"optimizer": {"choices": []}}, f"{SPACE}.optimizer", "non-empty list"),
    ({"optimizer": {"choices": ["adam", "lbfgs"]}}, f"{SPACE}.optimizer", "must be one of"),
    ({"epochs": {"low": 10, "high": 50.5, "type": "int"}}, f"{SPACE}.epochs", "whole numbers"),
    ({"lr": 0.01}, f"{SPACE}.lr", "must be a range"),
])
def test_a_bad_space_fails_naming_the_param(raw, named, says):
    with pytest.raises(ParamError) as caught:
        _parse(raw)
    assert f"'{named}'" in str(caught.value) and says in str(caught.value), caught.value


def test_space_types_scales_and_nested_paths_of_any_model_type():
    found = {p.name: p.distribution for p in _parse({
        "lr": {"low": 0.0003, "high": 0.01, "log": True}, "dropout": {"low": 0, "high": 0.5},
        "epochs": {"low": 20, "high": 100, "step": 10}, "optimizer": {"choices": ["adam", "adamw"]}})}
    assert found[f"{HOUSE}.mlp.lr"] == optuna.distributions.FloatDistribution(0.0003, 0.01, log=True)
    assert found[f"{HOUSE}.mlp.dropout"] == optuna.distributions.FloatDistribution(0.0, 0.5)  # float param
    assert found[f"{HOUSE}.mlp.epochs"] == optuna.distributions.IntDistribution(20, 100, step=10)
    assert found[f"{HOUSE}.mlp.optimizer"] == optuna.distributions.CategoricalDistribution(["adam", "adamw"])
    # Nested under a model's `options` (scikit-learn models, and any type added later the same way):
    nested = _parse({"options": {"max_depth": {"low": 2, "high": 6}, "subsample": {"low": 0.5, "high": 1.0}}},
                    BOOSTING, "gradient_boosting")
    assert [(p.name, p.path) for p in nested] == [
        (f"{HOUSE}.gradient_boosting.options.max_depth", ("options", "max_depth")),
        (f"{HOUSE}.gradient_boosting.options.subsample", ("options", "subsample"))]
    trial = optuna.trial.FixedTrial({p.name: v for p, v in zip(nested, (3, 0.7))})
    values = space.suggest(trial, nested, BOOSTING)
    assert values["options"] == {"n_estimators": 800, "max_depth": 3, "subsample": 0.7}
    assert BOOSTING["options"] == {"n_estimators": 800, "max_depth": 4}  # the base is not mutated


def test_the_shipped_spaces_are_valid():
    from pipeline.tune.competition import load_target
    from pipeline.tune.config import load_tune

    tune = load_tune()
    assert {"house-prices", "titanic"} <= set(tune.spaces)
    for key, models in tune.spaces.items():
        for model in models:
            target = load_target(key, model, tune.spaces)
            assert target.target == f"competitions.{key}.models.{model}"
            # every shipped value lies inside its range, so trial 0 is the shipped model
            assert target.params and len(target.baseline()) == len(target.params), (key, model)


def test_a_model_without_a_space_or_a_space_the_task_rejects_names_the_param(tmp_path):
    from pipeline.tune.competition import load_target

    with pytest.raises(ParamError, match=r"no search space 'tune\.spaces\.titanic\.elastic_net'; "
                                         r"declared for titanic: lightgbm"):
        load_target("titanic", "elastic_net", {"titanic": {"lightgbm": {}}})
    with pytest.raises(ParamError, match="no competition 'competitions.nope'"):
        load_target("nope", "lightgbm", {})
    # a bound the model rejects fails before any trial, naming the tune param
    with pytest.raises(ParamError, match=r"'tune\.spaces\.titanic\.lightgbm\.num_leaves' allows 1"):
        load_target("titanic", "lightgbm", {"titanic": {"lightgbm": {"num_leaves": {"low": 1, "high": 8}}}})


# ---- tune apply


def _study_with_best(tmp_path, params: dict, value: float = 0.11):
    study = optuna.create_study(study_name="s", storage=storage_url(str(tmp_path / "s.db")))
    dists = {k: optuna.distributions.FloatDistribution(1e-6, 10.0) for k in params}
    study.add_trial(optuna.trial.create_trial(params={k: v * 2 for k, v in params.items()}, distributions=dists,
                                              value=value + 0.01))
    study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=value))
    return study


def test_tune_apply_changes_only_the_best_params_lines(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO_ROOT / "params.yaml", params)
    before = params.read_text()
    _study_with_best(tmp_path, {f"{HOUSE}.elastic_net.alpha": 0.0000123456789, f"{HOUSE}.mlp.lr": 0.0021})
    result = CliRunner().invoke(tune_app, ["apply", "s", "--storage", str(tmp_path / "s.db"), "--params", str(params)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"set {HOUSE}.elastic_net.alpha=0.0000123457",
                                          f"set {HOUSE}.mlp.lr=0.0021"]
    changed = changed_lines(before, params.read_text())
    assert changed == ["-        alpha: 0.0005", "+        alpha: 1.23457e-05", "-        lr: 0.003",
                       "+        lr: 0.0021"], changed
    competitions = yaml.safe_load(params.read_text())["competitions"]
    loaded = competitions["house-prices"]["models"]
    assert loaded["elastic_net"]["alpha"] == pytest.approx(1.23457e-05)  # a float, not the string '1e-05'
    assert loaded["mlp"]["lr"] == 0.0021
    untouched = yaml.safe_load(before)["competitions"]["titanic"]["models"]["elastic_net"]
    assert competitions["titanic"]["models"]["elastic_net"] == untouched  # the other competition's model
    shown = CliRunner().invoke(tune_app, ["best", "s", "--storage", str(tmp_path / "s.db"), "--dvc-args"])
    assert shown.output.strip() == f"-S {HOUSE}.elastic_net.alpha=0.0000123457 -S {HOUSE}.mlp.lr=0.0021"


def test_tune_apply_of_a_study_without_a_complete_trial_is_a_data_error(tmp_path):
    study = optuna.create_study(study_name="empty", storage=storage_url(str(tmp_path / "e.db")))
    with pytest.raises(Exception, match="no complete trial"):
        applying.overrides(study)


# ---- end to end: a real repo copy with preprocessed data


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """One throw-away repo copy for this module; each competition's preprocess runs when a test needs it."""
    if not (REPO_ROOT.parent / "shared" / "datasets").is_dir() and not os.environ.get("PIPELINE_DATA_MIRROR"):
        pytest.skip("no dataset mirror: set PIPELINE_DATA_MIRROR or put shared/datasets beside the repo")
    repo = copy_repo(tmp_path_factory.mktemp("tune") / "repo")
    repo.set_params(**TINY)
    return repo


@pytest.fixture(scope="module")
def prepared_repo(sandbox):
    sandbox.dvc("repro", "house_prices_preprocess")
    return sandbox


@pytest.fixture(scope="module")
def titanic_repo(sandbox):
    sandbox.run("python", "cli.py", "download", "titanic")
    sandbox.run("python", "cli.py", "competition", "preprocess", "titanic")
    return sandbox


def _tune(repo, *args, env, competition="house-prices", model="elastic_net"):
    return subprocess.Popen([sys.executable, "cli.py", "tune", competition, model, *args], cwd=repo.path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out + err
    return out


def _cv(repo, key: str, model: str, folds: int):
    """What the cv stage's code gives for `model` on `folds` folds: (params, prepared data, fold ids, CVResult)."""
    from pipeline.tabular import group_stats
    from pipeline.tabular.config import load_competition
    from pipeline.tabular.prepared import Prepared
    from pipeline.tabular.tasks import Scorer
    from pipeline.tabular.train import cross_validate

    p = load_competition(key, repo.path / "params.yaml")
    p.cv.folds = folds
    data = Prepared.load(repo.path / "data" / "processed" / key)
    task = p.task_for(len(data.classes))
    y = data.y()
    ids = p.fold_ids(data, task)  # the scheme preprocess chose
    mask = ~data.outliers() if p.drop_outliers else np.ones(len(y), bool)
    groups = group_stats.encoder(data, task.n_classes, p.group_stats)  # Titanic's families and tickets
    result = cross_validate(p.model(model, task), data.X(), y, ids, mask, Scorer(p.metric_spec, p.target_transform),
                            p.seed, curves=False, progress=False, task=task, groups=groups)
    return p, data, ids, result


@pytest.mark.slow
def test_a_tiny_study_on_sqlite_scores_by_the_pipelines_folds_and_logs_each_trial(prepared_repo, tmp_path):
    from helpers import mlflow_client

    db = tmp_path / "study.db"
    out = _finish(_tune(prepared_repo, "--trials", "3", "--folds", "3", "--seed", "1", "--storage", str(db),
                        "--metric", "valid_mean", env=os.environ))
    assert "minimising valid_log_rmse_mean" in out and "trial 0: valid_log_rmse_mean" in out and "trial 2:" in out
    study = optuna.load_study(study_name="house-prices-elastic_net", storage=storage_url(str(db)))
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    # Trial 0 is the shipped params, and scores exactly what the cv stage's code gives on the same folds.
    p, _, _, cv = _cv(prepared_repo, "house-prices", "elastic_net", 3)
    assert trials[0].params == {f"{HOUSE}.elastic_net.alpha": p.models["elastic_net"]["alpha"],
                                f"{HOUSE}.elastic_net.l1_ratio": p.models["elastic_net"]["l1_ratio"]}
    assert trials[0].value == pytest.approx(np.mean([f.valid_score for f in cv.folds]), rel=1e-9)
    # MLflow: one parent run for this worker, one nested run per trial with its params and score.
    client = mlflow_client()
    experiment = client.get_experiment_by_name("house-prices")
    runs = client.search_runs([experiment.experiment_id], "tags.study = 'house-prices-elastic_net'")
    parents = [r for r in runs if base_name(r) == "tune:house-prices-elastic_net"]
    children = sorted((r for r in runs if "mlflow.parentRunId" in r.data.tags), key=lambda r: int(r.data.tags["trial"]))
    assert len(parents) == 1 and len(children) == 3
    for trial, run in zip(trials, children):
        assert run.info.run_id == trial.user_attrs["mlflow_run_id"]
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert run.data.tags["trial"] == str(trial.number) and run.data.tags["stage"] == "tune"
        assert float(run.data.params["model.alpha"]) == pytest.approx(trial.params[f"{HOUSE}.elastic_net.alpha"])
        assert run.data.metrics["valid_log_rmse_mean"] == pytest.approx(trial.value)
        assert "oof_log_rmse" in run.data.metrics


@pytest.mark.slow
def test_a_study_can_minimise_the_out_of_fold_score_without_the_outliers(prepared_repo, tmp_path):
    """tune.metric (as shipped) / --metric oof: for House Prices, which flags outliers, the trial's
    value is the cv stage's out-of-fold log-RMSE over the rows not flagged; the pruner sees it too."""
    from pipeline.tabular.evaluation import scores
    from pipeline.tune.config import load_tune

    assert load_tune(prepared_repo.path / "params.yaml").metric == "oof"
    db = tmp_path / "study.db"
    out = _finish(_tune(prepared_repo, "--trials", "2", "--folds", "3", "--seed", "1", "--storage", str(db),
                        env=os.environ))
    assert "minimising oof_log_rmse_without_outliers" in out
    assert "trial 0: oof_log_rmse_without_outliers" in out
    trial = optuna.load_study(study_name="house-prices-elastic_net", storage=storage_url(str(db))).trials[0]
    p, data, _, cv = _cv(prepared_repo, "house-prices", "elastic_net", 3)
    reported = scores(p.metric_spec, p.target_transform, data.truth(), cv.oof, data.outliers())  # as the cv stage
    expected = reported["oof_log_rmse_without_outliers"]
    assert trial.value == pytest.approx(expected, rel=1e-9)
    assert trial.user_attrs["oof_log_rmse_without_outliers"] == pytest.approx(expected, rel=1e-9)
    assert trial.user_attrs["oof_log_rmse"] == pytest.approx(reported["oof_log_rmse"], rel=1e-9)
    assert trial.user_attrs["valid_log_rmse_mean"] == pytest.approx(np.mean([f.valid_score for f in cv.folds]))
    # the running value the pruner saw after the last fold is the final score
    assert trial.intermediate_values[2] == pytest.approx(expected, rel=1e-9)
    # a study made for one metric refuses a worker optimising another
    refused = _tune(prepared_repo, "--trials", "1", "--folds", "3", "--storage", str(db), "--metric",
                    "valid_mean", env=os.environ)
    _, err = refused.communicate(timeout=240)
    assert refused.returncode == 2 and "metric='oof_log_rmse_without_outliers'" in err, err


@pytest.mark.slow
def test_a_study_can_minimise_what_the_model_does_for_the_blend(prepared_repo, tmp_path):
    """--metric blend_oof: the trial's out-of-fold predictions join the other blend.models'
    (current params, same folds), blended out of fold as the blend stage does; the value is that
    blend's log-RMSE without the outliers."""
    from pipeline.tabular.blend import out_of_fold_blend
    from pipeline.tabular.evaluation import scores

    db = tmp_path / "study.db"
    out = _finish(_tune(prepared_repo, "--trials", "1", "--folds", "3", "--storage", str(db), "--study", "blend",
                        "--metric", "blend_oof", env=os.environ))
    assert "trial 0: blend_oof_log_rmse_without_outliers" in out
    trial = optuna.load_study(study_name="blend", storage=storage_url(str(db))).trials[0]
    p, data, folds, alone = _cv(prepared_repo, "house-prices", "elastic_net", 3)
    clean = ~data.outliers()
    assert "elastic_net" not in p.blend.models  # so it joins the blend as one more member
    oofs = [_cv(prepared_repo, "house-prices", name, 3)[3].oof for name in p.blend.models] + [alone.oof]
    blended, _ = out_of_fold_blend(np.stack(oofs, axis=-1), data.y(), folds, clean, p.blend.method)

    def without_outliers(predicted):
        return scores(p.metric_spec, p.target_transform, data.truth(), predicted,
                      data.outliers())["oof_log_rmse_without_outliers"]

    expected = without_outliers(blended)
    assert trial.value == pytest.approx(expected, rel=1e-9)
    assert trial.user_attrs["oof_log_rmse_without_outliers"] == pytest.approx(without_outliers(alone.oof), rel=1e-9)
    assert trial.value < without_outliers(alone.oof)  # the blend of four beats the elastic net alone
    assert trial.intermediate_values[2] == pytest.approx(expected, rel=1e-9)  # what the pruner saw last


@pytest.mark.slow
def test_a_titanic_study_maximises_accuracy_on_stratified_folds_and_applies_to_its_block(titanic_repo, tmp_path):
    """Titanic is ranked by accuracy: the study maximises it, trial 0 scores what the cv stage's
    code gives on the same stratified folds, and `tune apply` writes competitions.titanic lines."""
    from pipeline.tabular.evaluation import scores

    db = tmp_path / "study.db"
    out = _finish(_tune(titanic_repo, "--trials", "4", "--folds", "3", "--seed", "3", "--storage", str(db),
                        "--metric", "oof", env=os.environ, competition="titanic", model="lightgbm"))
    assert "maximising oof_accuracy" in out and "trial 0: oof_accuracy" in out
    study = optuna.load_study(study_name="titanic-lightgbm", storage=storage_url(str(db)))
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4 and study.best_value == max(t.value for t in complete)
    p, data, folds, cv = _cv(titanic_repo, "titanic", "lightgbm", 3)
    assert all(np.bincount(data.y()[folds == k]).min() > 0 for k in range(3))  # each fold holds both classes
    expected = scores(p.metric_spec, p.target_transform, data.truth(), cv.oof, data.outliers())
    trial = study.trials[0]
    assert trial.params["competitions.titanic.models.lightgbm.num_leaves"] == p.models["lightgbm"]["num_leaves"]
    assert trial.value == pytest.approx(expected["oof_accuracy"], rel=1e-12)
    assert trial.user_attrs["oof_logloss"] == pytest.approx(expected["oof_logloss"], rel=1e-9)
    assert 0.7 < trial.value < 0.9
    # A worker that would minimise the same score (another direction) cannot join: the metric fixes the direction.
    from pipeline.tune.study import open_study

    with pytest.raises(ParamError, match="was made to maximize, not minimize"):
        open_study("titanic-lightgbm", storage_url(str(db)), {}, direction="minimize")
    # tune apply: the best trial's params into competitions.titanic.models.lightgbm, nothing else
    before = (titanic_repo.path / "params.yaml").read_text()
    shutil.copy(titanic_repo.path / "params.yaml", tmp_path / "params.yaml")
    applied = CliRunner().invoke(tune_app, ["apply", "titanic-lightgbm", "--storage", str(db), "--params",
                                            str(tmp_path / "params.yaml")])
    assert applied.exit_code == 0, applied.output
    assert all(line.startswith("set competitions.titanic.models.lightgbm.") for line in applied.output.splitlines())
    after = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert after["competitions"]["house-prices"] == yaml.safe_load(before)["competitions"]["house-prices"]
    for name, value in study.best_params.items():
        assert after["competitions"]["titanic"]["models"]["lightgbm"][name.rsplit(".", 1)[-1]] == \
            pytest.approx(value, rel=1e-5)


def test_an_unknown_metric_names_the_param(tmp_path):
    from pipeline.tune.config import load_tune

    params = tmp_path / "params.yaml"
    params.write_text("tune:\n  metric: r2\n")
    with pytest.raises(ParamError, match=r"tune\.metric.*valid_mean, oof, blend_oof"):
        load_tune(params)
    params.write_text("tune:\n  metric: oof_log_rmse_without_outliers\n")  # a resolved name: not a choice
    with pytest.raises(ParamError, match=r"tune\.metric"):
        load_tune(params)


@pytest.mark.slow
def test_two_workers_on_postgresql_share_one_study_without_duplicate_or_lost_trials(prepared_repo, postgres):
    import psycopg2

    from pipeline.tune.study import load_study

    base = postgres.rsplit("/", 1)[0]
    connection = psycopg2.connect(f"{base}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE optuna")
    connection.close()
    optuna_url, mlflow_url = f"{base}/optuna", postgres.replace("postgresql://", "postgresql+psycopg2://", 1)
    import mlflow

    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_url}
    args = ("--trials", "3", "--folds", "2", "--pruner", "none", "--study", "team", "--storage", optuna_url)
    # Both start at once on fresh databases: they race to create Optuna's and MLflow's tables
    # and the experiment, and must both get through.
    workers = [_tune(prepared_repo, *args, env=env) for _ in range(2)]
    for worker in workers:
        _finish(worker)
    trials = load_study("team", storage_url(optuna_url)).get_trials()
    assert sorted(t.number for t in trials) == list(range(6))
    assert [t.state.name for t in trials] == ["COMPLETE"] * 6
    client = mlflow.MlflowClient(mlflow_url)
    runs = client.search_runs([client.get_experiment_by_name("house-prices").experiment_id], "tags.study = 'team'")
    parents = {r.info.run_id for r in runs if base_name(r) == "tune:team"}
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 2
    assert sorted(int(r.data.tags["trial"]) for r in children) == list(range(6))  # one run per trial
    assert {r.info.run_id for r in children} == {t.user_attrs["mlflow_run_id"] for t in trials}
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == parents  # each worker ran some


# ---- study plumbing and pruning, in-process on synthetic rows


def test_a_worker_with_another_target_or_fold_count_is_refused_and_urls_are_normalised(tmp_path):
    from pipeline.tune.study import open_study

    url = storage_url(str(tmp_path / "s.db"))
    assert url == f"sqlite:///{tmp_path / 's.db'}"
    assert storage_url("optuna.db") == f"sqlite:///{REPO_ROOT / 'optuna.db'}"
    assert storage_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    open_study("s", url, {"target": f"{HOUSE}.mlp", "folds": 5})
    open_study("s", url, {"target": f"{HOUSE}.mlp", "folds": 5})  # a second worker joins
    with pytest.raises(ParamError, match="study 's' .* was made with folds=5, not 3"):
        open_study("s", url, {"target": f"{HOUSE}.mlp", "folds": 3})
    with pytest.raises(ParamError, match="study 's' .* was made with target=.*house-prices.*, not .*titanic"):
        open_study("s", url, {"target": "competitions.titanic.models.mlp", "folds": 5})
    with pytest.raises(ParamError, match="study 's' .* was made to minimize, not maximize"):
        open_study("s", url, {"target": f"{HOUSE}.mlp", "folds": 5}, direction="maximize")


class _AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_a_pruned_trial_stops_after_one_fold_and_its_mlflow_run_finishes_tagged_pruned(monkeypatch):
    from helpers import mlflow_client

    from pipeline.tabular.config import load_competition
    from pipeline.tune.competition import CompetitionTarget, Objective

    class Rows:  # the few Prepared methods a trial reads, on 60 synthetic houses (log prices)
        classes = ()
        rng = np.random.default_rng(0)
        X_ = rng.normal(size=(60, 4)).astype(np.float32)
        y_ = 12 + X_ @ np.array([0.3, -0.2, 0.1, 0.0]) + rng.normal(scale=0.05, size=60)

        def X(self):
            return self.X_

        def y(self):
            return self.y_

        def truth(self):
            return np.exp(self.y_)

        def outliers(self):
            return np.zeros(60, bool)

        group_keys = ()  # no group statistics

        def cv_scheme(self):
            return {"kind": "random", "column": "", "ordered": False, "reason": "rows at random"}

        def blocks(self):
            return None

    base = {"type": "elastic_net", "alpha": 0.001, "l1_ratio": 1.0, "max_iter": 200}
    target = CompetitionTarget("house-prices", "elastic_net", base,
                               _parse({"alpha": {"low": 0.0001, "high": 0.01}}, base, "elastic_net"))
    objective = Objective(target, "pruning", load_competition("house-prices"), prepared=Rows(), metric="valid_mean")
    assert objective.direction == "minimize" and objective.value_name == "valid_log_rmse_mean"
    kept = optuna.create_study(study_name="pruning")
    kept.optimize(objective, n_trials=1)
    assert kept.trials[0].state.name == "COMPLETE" and kept.trials[0].value < 0.1  # the signal is learnable
    pruned = optuna.create_study(study_name="pruning", pruner=_AlwaysPrune())
    pruned.optimize(objective, n_trials=1)
    trial = pruned.trials[0]
    assert trial.state.name == "PRUNED" and list(trial.intermediate_values) == [0]  # stopped after fold 1
    run = mlflow_client().get_run(trial.user_attrs["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["trial_state"] == "pruned"
    assert "valid_log_rmse_mean" not in run.data.metrics


def test_the_metric_choices_resolve_to_each_competitions_own_score():
    from pipeline.tune.competition import resolve_metric

    assert resolve_metric("oof", "log_rmse", "regression", True) == "oof_log_rmse_without_outliers"  # House
    assert resolve_metric("oof", "rmse", "regression", False) == "oof_rmse"
    assert resolve_metric("valid_mean", "accuracy", "binary", False) == "valid_accuracy_mean"
    assert resolve_metric("blend_oof", "accuracy", "binary", False) == "blend_oof_accuracy"  # Titanic
    assert resolve_metric("oof", "logloss", "multiclass", True) == "oof_logloss"  # as the cv stage reports it
    with pytest.raises(ParamError, match="valid_mean, oof, blend_oof"):
        resolve_metric("r2", "rmse", "regression", False)
