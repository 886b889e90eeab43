"""Bad input gets a clear error that names the file, column or param, and leaves no partial output."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError, ParamError
from pipeline.tabular import data
from pipeline.tabular.config import load_house
from pipeline.tabular.submission import check_frame, validate_submission


@pytest.fixture
def raw(mirror, tmp_path):
    """A raw folder with the real competition CSVs, for the tests to break."""
    folder = tmp_path / "raw"
    folder.mkdir()
    for name in (data.TRAIN_FILE, data.TEST_FILE, data.SAMPLE_FILE):
        shutil.copy(mirror / name, folder / name)
    return folder


def test_real_files_load(raw):
    loaded = data.load(raw)
    assert loaded.train.shape == (1460, 81) and loaded.test.shape == (1459, 80)
    assert loaded.train[data.TARGET].dtype == np.float64


def test_missing_column(raw):
    train = pd.read_csv(raw / data.TRAIN_FILE).drop(columns=["SalePrice"])
    train.to_csv(raw / data.TRAIN_FILE, index=False)
    with pytest.raises(DataError, match=r"kaggle_house_pred_train.csv: missing column\(s\) SalePrice"):
        data.load(raw)


def test_missing_feature_in_test(raw):
    pd.read_csv(raw / data.TEST_FILE).drop(columns=["LotArea"]).to_csv(raw / data.TEST_FILE, index=False)
    with pytest.raises(DataError, match="kaggle_house_pred_test.csv: missing feature column.*LotArea"):
        data.load(raw)


def test_non_numeric_sale_price(raw):
    train = pd.read_csv(raw / data.TRAIN_FILE)
    train["SalePrice"] = train["SalePrice"].astype(str)
    train.loc[3, "SalePrice"] = "expensive"
    train.to_csv(raw / data.TRAIN_FILE, index=False)
    with pytest.raises(DataError, match=r"SalePrice must be a positive number.*Id \[4\].*expensive"):
        data.load(raw)


@pytest.mark.parametrize("content", ["", "Id,SalePrice\n"])
def test_empty_csv(raw, content):
    (raw / data.TRAIN_FILE).write_text(content)
    with pytest.raises(DataError, match="kaggle_house_pred_train.csv: (file is empty|has a header but no rows)"):
        data.load(raw)


def test_bad_param_value_names_the_param(tmp_path):
    import yaml

    from pipeline.params import PARAMS_FILE

    params = yaml.safe_load(PARAMS_FILE.read_text())
    params["house"]["cv"]["folds"] = 1
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamError, match="house.cv.folds' must be >= 2"):
        load_house(tmp_path / "p.yaml")
    params["house"]["cv"]["folds"] = 5
    params["house"]["cv"]["workers"] = 0
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamError, match="house.cv.workers' must be >= 1"):
        load_house(tmp_path / "p.yaml")
    params["house"]["cv"]["workers"] = 2
    params["house"]["blend"]["models"] = ["elastic_net", "random_forest"]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamError, match=r"house.blend.models' names undefined model\(s\) \['random_forest'\]"):
        load_house(tmp_path / "p.yaml")
    params["house"]["blend"]["models"] = ["elastic_net"]
    params["house"]["features"]["skew_transform"] = "sqrt"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamError, match="house.features.skew_transform' must be one of"):
        load_house(tmp_path / "p.yaml")


def test_cli_reports_a_bad_param_in_one_line_and_writes_nothing(repo_copy):
    repo_copy.set_params(**{"house.models.elastic_net.alpha": -1.0})
    result = repo_copy.run("python", "cli.py", "house", "train", "elastic_net", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: params.yaml: 'house.models.elastic_net.alpha' must be >= 0, got -1.0")
    assert not (repo_copy.path / "data" / "interim").exists()
    assert not (repo_copy.path / "metrics").exists()


def test_submission_checks(mirror, tmp_path):
    sample = mirror / data.SAMPLE_FILE
    ids = pd.read_csv(sample)["Id"].to_numpy()
    good = pd.DataFrame({"Id": ids, "SalePrice": np.full(len(ids), 180000.0)})
    check_frame(good, ids, "good")
    bad_cases = {
        "header must be exactly": good.rename(columns={"SalePrice": "Price"}),
        "missing": good.iloc[1:],
        "repeats": pd.concat([good, good.iloc[:1]]),
        "must be finite and positive": good.assign(SalePrice=np.r_[[np.nan, -1.0], good["SalePrice"][2:]]),
        "order": good.iloc[::-1],
    }
    for message, frame in bad_cases.items():
        with pytest.raises(DataError, match=message):
            check_frame(frame, ids, "submission.csv")
    path = tmp_path / "submission.csv"
    bad_cases["missing"].to_csv(path, index=False)
    with pytest.raises(DataError, match="submission.csv: Ids differ"):
        validate_submission(path, sample)


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
    house = load_house(tmp_path / "params.yaml")
    assert house.blend.models == ["linear"] and not house.features.log_target and not house.cv.shuffle
    assert house.features.neighborhood_context == []  # the course's recipe has no engineered features
    assert "house.blend.models=[linear]" in dvc_set_args("original")
