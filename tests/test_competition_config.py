"""A competition block's bad or inconsistent settings fail in one line naming the param and,
for a column, showing the file's columns; good ones load into the task the stages expect."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.errors import DataError, ParamError
from pipeline.params import load_params
from pipeline.tabular import config as config_module
from pipeline.tabular.config import load_competition
from pipeline.tabular.data import feature_columns, load
from pipeline.tabular.submission import check_frame, submission_format, values_frame

SHA = "0" * 64


def _block(**changes) -> dict:
    block = {"kaggle": "toy", "id": "row", "target": "label", "task": "multiclass", "metric": "accuracy",
             "files": {role: {"name": f"toy/{role}.csv", "sha256": SHA}
                       for role in ("train", "test", "sample_submission")},
             "cv": {"folds": 3}, "models": {"lgb": {"type": "lightgbm"}}, "blend": {"models": ["lgb"]}}
    block.update(changes)
    return block


def _write_params(tmp_path, block) -> str:
    params = copy.deepcopy(load_params())
    params["competitions"] = {"toy": block}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return str(path)


def _write_csvs(raw, train, test, sample):
    raw.mkdir(parents=True, exist_ok=True)
    for role, frame in (("train", train), ("test", test), ("sample_submission", sample)):
        frame.to_csv(raw / f"{role}.csv", index=False)


def _toy(n=30):
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"row": np.arange(n), "x": rng.normal(size=n), "label": rng.choice(["a", "b", "c"], n)})
    test = pd.DataFrame({"row": np.arange(n, n + 10), "x": rng.normal(size=10)})
    sample = pd.DataFrame({"row": test["row"], "label": "a"})
    return train, test, sample


def test_a_metric_that_does_not_fit_the_task_names_the_param(tmp_path):
    with pytest.raises(ParamError, match=r"competitions\.toy\.metric.*rmse.*does not fit task multiclass.*accuracy"):
        load_competition("toy", _write_params(tmp_path, _block(metric="rmse")))


def test_an_unknown_metric_and_a_transform_on_a_classification_name_their_params(tmp_path):
    with pytest.raises(ParamError, match=r"competitions\.toy\.metric.*must be one of"):
        load_competition("toy", _write_params(tmp_path, _block(metric="f1")))
    with pytest.raises(ParamError, match=r"competitions\.toy\.target_transform"):
        load_competition("toy", _write_params(tmp_path, _block(target_transform="log")))


def test_a_regression_only_model_in_a_classification_names_the_model(tmp_path):
    p = load_competition("toy", _write_params(tmp_path, _block(models={"kr": {"type": "kernel_ridge"}},
                                                                blend={"models": ["kr"]})))
    with pytest.raises(ParamError, match=r"competitions\.toy\.models\.kr\.type.*regression-only"):
        p.model("kr")


def test_an_unknown_features_module_lists_the_modules_there(tmp_path):
    p = load_competition("toy", _write_params(tmp_path, _block(features={"module": "nope"})))
    with pytest.raises(ParamError, match=r"features\.module.*'nope'.*house_prices"):
        p.features_module()


def test_an_unknown_competition_lists_the_configured_ones():
    with pytest.raises(ParamError, match=r"no competition 'competitions\.nope'.*house-prices.*titanic"):
        load_competition("nope")


def test_a_target_the_file_lacks_names_the_param_and_shows_the_columns(tmp_path):
    p = load_competition("toy", _write_params(tmp_path, _block(target="Label")))
    _write_csvs(tmp_path / "raw", *_toy())
    with pytest.raises(DataError) as failure:
        load(p, tmp_path / "raw")
    message = str(failure.value)
    assert "train.csv: no column 'Label'" in message and "competitions.toy.target" in message
    assert "its columns: row, x, label" in message and "\n" not in message


def test_a_sample_whose_ids_differ_from_tests_fails_naming_both(tmp_path):
    p = load_competition("toy", _write_params(tmp_path, _block()))
    train, test, sample = _toy()
    sample.loc[0, "row"] = 999
    _write_csvs(tmp_path / "raw", train, test, sample)
    with pytest.raises(DataError, match=r"sample_submission\.csv: its row values differ from test\.csv's.*999"):
        load(p, tmp_path / "raw")


def test_a_binary_task_with_three_labels_says_which_task_fits(tmp_path):
    p = load_competition("toy", _write_params(tmp_path, _block(task="binary")))
    _write_csvs(tmp_path / "raw", *_toy())
    with pytest.raises(DataError, match=r"3 distinct label\(s\).*competitions\.toy\.task' is binary"):
        load(p, tmp_path / "raw")


def test_a_column_test_lacks_is_left_out_with_a_note(tmp_path):
    p = load_competition("toy", _write_params(tmp_path, _block()))
    train, test, sample = _toy()
    train["known_later"] = 1.0
    _write_csvs(tmp_path / "raw", train, test, sample)
    data = load(p, tmp_path / "raw")
    assert "known_later" not in data.train.columns
    assert any(note.startswith("known_later: in train.csv but not in test.csv") for note in data.notes)
    assert data.classes == ["a", "b", "c"]


def test_an_id_of_dates_is_a_feature_and_a_numeric_id_is_not():
    dated = pd.DataFrame({"datetime": ["2011-01-20 00:00:00"], "temp": [1.0]})
    numbered = pd.DataFrame({"Id": [1], "temp": [1.0]})
    assert feature_columns(dated, "datetime") == ["datetime", "temp"]
    assert feature_columns(numbered, "Id") == ["temp"]


@pytest.mark.parametrize("sample_values, metric, expected", [
    ([0, 1], "accuracy", [1, 0]),  # integer labels stay integers
    ([True, False], "accuracy", [True, False]),  # True/False stay words (Spaceship Titanic)
    ([0.5, 0.5], "auc", [0.9, 0.2]),  # AUC ranks probabilities
])
def test_a_binary_submission_has_the_samples_value_type(sample_values, metric, expected):
    classes = [False, True] if isinstance(sample_values[0], bool) else [0, 1]
    sample = pd.DataFrame({"id": [7, 8], "y": sample_values})
    fmt = submission_format(sample, "binary", metric, classes, "any", where="sample.csv")
    frame = values_frame(fmt, np.array([7, 8]), np.array([0.9, 0.2]), classes)
    assert frame["y"].tolist() == expected
    check_frame(frame, sample, fmt, classes, where="submission.csv")
    written = frame.to_csv(index=False).splitlines()[1]
    assert written == {"accuracy": f"7,{expected[0]}", "auc": "7,0.9"}[metric]


def test_per_class_columns_get_each_classs_probability():
    sample = pd.DataFrame({"id": [1, 2], "Class_1": 0.5, "Class_2": 0.5, "Class_3": 0.0})
    classes = ["Class_1", "Class_2", "Class_3"]
    fmt = submission_format(sample, "multiclass", "logloss", classes, "any", where="sample.csv")
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    frame = values_frame(fmt, np.array([1, 2]), probabilities, classes)
    assert frame[["Class_1", "Class_2", "Class_3"]].to_numpy().tolist() == probabilities.tolist()
    with pytest.raises(DataError, match=r"sample column 'Class_9' names no single training label"):
        submission_format(sample.rename(columns={"Class_3": "Class_9"}), "multiclass", "logloss", classes, "any",
                          where="sample.csv")


def test_a_label_outside_the_training_labels_is_refused():
    sample = pd.DataFrame({"id": [1, 2], "y": ["a", "a"]})
    fmt = submission_format(sample, "multiclass", "accuracy", ["a", "b", "c"], "any", where="sample.csv")
    bad = pd.DataFrame({"id": [1, 2], "y": ["a", "z"]})
    with pytest.raises(DataError, match=r"must hold training labels \(a, b, c\); 1 bad value\(s\) for id \[2\]"):
        check_frame(bad, sample, fmt, ["a", "b", "c"], where="submission.csv")


def test_config_reads_the_section_named_competitions():
    assert config_module.SECTION == "competitions"
    assert {"house-prices", "titanic"} <= set(config_module.competition_names())
