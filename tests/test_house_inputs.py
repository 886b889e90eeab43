"""Bad input gets a clear error that names the file, column or param, and leaves no partial output."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError, ParamError
from pipeline.tabular import data
from pipeline.tabular.config import load_competition
from pipeline.tabular.submission import check_frame, submission_format
from pipeline.tabular.upload import Layout, validate

HOUSE = load_competition("house-prices")
TRAIN, TEST = HOUSE.files["train"].basename, HOUSE.files["test"].basename


@pytest.fixture
def raw(mirror, tmp_path):
    """A raw folder with the real competition CSVs, for the tests to break."""
    folder = tmp_path / "raw"
    folder.mkdir()
    for role in ("train", "test", "sample_submission"):
        shutil.copy(mirror / HOUSE.files[role].name, folder / HOUSE.files[role].basename)
    return folder


def test_real_files_load(raw):
    loaded = data.load(HOUSE, raw)
    assert loaded.train.shape == (1460, 81) and loaded.test.shape == (1459, 80)
    assert loaded.train[HOUSE.target].dtype == np.float64
    assert loaded.notes == [] and loaded.classes == []  # every feature is known at test time; a regression


def test_missing_column(raw):
    train = pd.read_csv(raw / TRAIN).drop(columns=["SalePrice"])
    train.to_csv(raw / TRAIN, index=False)
    with pytest.raises(DataError, match=r"kaggle_house_pred_train.csv: no column 'SalePrice' "
                                        r"\(params.yaml 'competitions\.house-prices\.target'\)"):
        data.load(HOUSE, raw)


def test_missing_feature_in_test_is_left_out_with_a_note(raw):
    """A feature test.csv lacks cannot be known at prediction time: it is left out of both, and said so."""
    pd.read_csv(raw / TEST).drop(columns=["LotArea"]).to_csv(raw / TEST, index=False)
    loaded = data.load(HOUSE, raw)
    assert "LotArea" not in loaded.train.columns and "LotArea" not in loaded.test.columns
    assert list(loaded.test.columns) == [c for c in loaded.train.columns if c != HOUSE.target]
    assert len(loaded.notes) == 1
    assert loaded.notes[0].startswith("LotArea: in kaggle_house_pred_train.csv but not in kaggle_house_pred_test.csv")


def test_non_numeric_sale_price(raw):
    train = pd.read_csv(raw / TRAIN)
    train["SalePrice"] = train["SalePrice"].astype(str)
    train.loc[3, "SalePrice"] = "expensive"
    train.to_csv(raw / TRAIN, index=False)
    with pytest.raises(DataError, match=r"SalePrice must be a positive number.*Id \[4\].*expensive"):
        data.load(HOUSE, raw)


@pytest.mark.parametrize("content", ["", "Id,SalePrice\n"])
def test_empty_csv(raw, content):
    (raw / TRAIN).write_text(content)
    with pytest.raises(DataError, match="kaggle_house_pred_train.csv: (file is empty|has a header but no rows)"):
        data.load(HOUSE, raw)


def test_bad_param_value_names_the_param(tmp_path):
    import yaml

    from pipeline.params import PARAMS_FILE

    params = yaml.safe_load(PARAMS_FILE.read_text())
    house = params["competitions"]["house-prices"]
    house["cv"]["folds"] = 1
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.cv\.folds' must be >= 2"):
        load_competition("house-prices", tmp_path / "p.yaml")
    house["cv"]["folds"] = 5
    house["cv"]["workers"] = -1  # 0 is valid: one worker per core
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.cv\.workers' must be >= 0"):
        load_competition("house-prices", tmp_path / "p.yaml")
    house["cv"]["workers"] = 2
    house["blend"]["models"] = ["elastic_net", "random_forest"]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.blend\.models' names undefined "
                                         r"model\(s\) \['random_forest'\]"):
        load_competition("house-prices", tmp_path / "p.yaml")
    house["blend"]["models"] = ["elastic_net"]
    house["features"]["skew_transform"] = "sqrt"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.features\.skew_transform' must be one of"):
        load_competition("house-prices", tmp_path / "p.yaml").feature_params()


def test_cli_reports_a_bad_param_in_one_line_and_writes_nothing(repo_copy):
    repo_copy.set_params(**{"competitions.house-prices.models.elastic_net.alpha": -1.0})
    for command in (("competition", "train", "house-prices", "elastic_net"), ("house", "train", "elastic_net")):
        result = repo_copy.run("python", "cli.py", *command, check=False)
        assert result.returncode == 2, command
        assert result.stderr.strip() == ("error: params.yaml: 'competitions.house-prices.models.elastic_net.alpha' "
                                         "must be >= 0, got -1.0"), command
        assert not (repo_copy.path / "data" / "interim").exists()
        assert not (repo_copy.path / "metrics").exists()


def test_submission_checks(mirror, tmp_path):
    sample = mirror / HOUSE.files["sample_submission"].name
    sample_frame = pd.read_csv(sample)
    fmt = submission_format(sample_frame, HOUSE.task, HOUSE.metric, [], HOUSE.metric_spec.target_domain, str(sample))
    assert (fmt.header, fmt.kind, fmt.domain) == (["Id", "SalePrice"], "value", "positive")
    ids = sample_frame["Id"].to_numpy()
    good = pd.DataFrame({"Id": ids, "SalePrice": np.full(len(ids), 180000.0)})
    check_frame(good, sample_frame, fmt, [], "good")
    bad_cases = {
        "header must be exactly": good.rename(columns={"SalePrice": "Price"}),
        "missing": good.iloc[1:],
        "repeats": pd.concat([good, good.iloc[:1]]),
        "must be finite and positive": good.assign(SalePrice=np.r_[[np.nan, -1.0], good["SalePrice"][2:]]),
        "order": good.iloc[::-1],
    }
    for message, frame in bad_cases.items():
        with pytest.raises(DataError, match=message):
            check_frame(frame, sample_frame, fmt, [], "submission.csv")
    path = tmp_path / "submission.csv"
    (tmp_path / "meta.json").write_text('{"classes": []}')  # what preprocess says of a regression target
    layout = Layout(submission=path, sample=sample, blend=tmp_path / "blend.json", models=tmp_path,
                    cv=tmp_path / "cv.json", meta=tmp_path / "meta.json", metric=HOUSE.metric,
                    experiment=HOUSE.key, root=tmp_path)
    good.to_csv(path, index=False)
    assert validate(path, HOUSE, layout).equals(good)
    bad_cases["missing"].to_csv(path, index=False)
    with pytest.raises(DataError, match="submission.csv: Id values differ"):
        validate(path, HOUSE, layout)


def test_original_preset_names_real_params_and_validates(tmp_path):
    import yaml

    from pipeline.tabular.presets import PRESETS, dvc_set_args
    from pipeline.params import PARAMS_FILE
    from sandbox import RepoCopy

    (tmp_path / "params.yaml").write_text(PARAMS_FILE.read_text())
    copy = RepoCopy(tmp_path)
    for key in PRESETS["original"]:  # every key must already exist: a typo would add a dead param
        node = yaml.safe_load(PARAMS_FILE.read_text())
        for part in key.split("."):
            node = node[part]
    copy.set_params(**PRESETS["original"])
    house = load_competition("house-prices", tmp_path / "params.yaml")
    assert house.blend.models == ["linear"] and house.target_transform == "none" and not house.cv.shuffle
    assert not house.drop_outliers
    assert house.feature_params().neighborhood_context == []  # the course's recipe has no engineered features
    assert "competitions.house-prices.blend.models=[linear]" in dvc_set_args("original")
