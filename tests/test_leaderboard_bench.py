"""The pieces of benchmarks/leaderboard.py that can be checked in seconds: the pseudo-test
splits, the seeded bike generator, the plain LightGBM and the scoring of a table row."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bike_demand  # noqa: E402
import leaderboard  # noqa: E402
import leaderboard_data  # noqa: E402
import plain_lightgbm  # noqa: E402


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return bike_demand.generate(0)


def test_time_block_pseudo_test_holds_whole_days_20_to_31(bikes):
    train, test = leaderboard_data.day_block_split(bikes, "datetime")
    train_days, test_days = pd.to_datetime(train["datetime"]), pd.to_datetime(test["datetime"])
    assert set(test_days.dt.day) == set(range(20, 32))
    assert set(train_days.dt.day) == set(range(1, 20))
    assert len(train) + len(test) == len(bikes)
    # whole days: every hour of a test day is in test, none of it in train
    assert not set(test_days.dt.normalize()) & set(train_days.dt.normalize())
    hours_per_day = test_days.dt.normalize().value_counts()
    assert hours_per_day.median() >= 22


def test_generator_is_seeded_and_has_kaggles_columns(bikes):
    assert bikes.equals(bike_demand.generate(0))
    assert not bikes["count"].equals(bike_demand.generate(1)["count"])
    assert list(bikes.columns) == ["datetime", "season", "holiday", "workingday", "weather", "temp", "atemp",
                                   "humidity", "windspeed", "casual", "registered", "count"]
    assert bikes["datetime"].str.fullmatch(r"201[12]-\d\d-\d\d \d\d:00:00").all()
    assert (bikes["count"] == bikes["casual"] + bikes["registered"]).all()
    assert 15_000 < len(bikes) < 17_544  # two years of hours, a few missing


def test_generated_demand_follows_hour_workingday_and_trend(bikes):
    times = pd.to_datetime(bikes["datetime"])
    by = bikes.groupby([bikes["workingday"], times.dt.hour])["count"].mean()
    assert by[1, 8] > 2 * by[1, 12] and by[0, 13] > 2 * by[0, 8]  # commute peaks vs a midday hump
    yearly = bikes.groupby(times.dt.year)["count"].mean()
    assert yearly[2012] > 1.3 * yearly[2011]
    assert bikes.groupby("weather")["count"].mean().is_monotonic_decreasing


def test_random_split_is_seeded_and_holds_out_the_share():
    frame = pd.DataFrame({"id": range(1000), "y": np.arange(1000) % 2})
    train, test = leaderboard_data.random_split(frame, seed=3)
    again_train, again_test = leaderboard_data.random_split(frame, seed=3)
    assert len(test) == 300 and test.equals(again_test)
    assert not set(train["id"]) & set(test["id"])
    assert not test["id"].equals(leaderboard_data.random_split(frame, seed=4)[1]["id"])


def test_kaggle_like_folder_hides_the_labels(tmp_path, bikes):
    competition = leaderboard_data.COMPETITIONS["bike-demand"]
    train, test = leaderboard_data.day_block_split(bikes.iloc[:2000], "datetime")
    truth = leaderboard_data.write_folder(tmp_path, competition, train, test)
    written = pd.read_csv(tmp_path / "test.csv")
    sample = pd.read_csv(tmp_path / "sample_submission.csv")
    assert {"count", "casual", "registered"}.isdisjoint(written.columns)
    assert list(sample.columns) == ["datetime", "count"] and sample["datetime"].equals(written["datetime"])
    assert truth["count"].tolist() == test["count"].tolist()
    assert len(pd.read_csv(tmp_path / "train.csv")) == len(train)


def test_plain_lightgbm_scores_a_tiny_frame():
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"id": range(n), "x": rng.normal(size=n), "colour": rng.choice(["red", "blue"], n),
                          "when": pd.date_range("2011-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M:%S")})
    frame["y"] = (frame["x"] + (frame["colour"] == "red") > 0.5).astype(int)
    train, test = frame.iloc[:300], frame.iloc[300:]
    x_train, x_test = plain_lightgbm.raw_features(train, test.drop(columns="y"), "id")
    assert list(x_train.columns) == ["x", "colour", "when_hour", "when_weekday", "when_month", "when_year"]
    assert isinstance(x_test["colour"].dtype, pd.CategoricalDtype)
    labels = plain_lightgbm.fit_predict(train, test.drop(columns="y"), "id", "y", "accuracy")
    assert plain_lightgbm.score("accuracy", test["y"], labels) > 0.85  # chance is about 0.5
    frame["amount"] = np.exp(frame["x"]) * 100
    regression = plain_lightgbm.fit_predict(frame.iloc[:300], frame.iloc[300:].drop(columns=["amount", "y"]),
                                            "id", "amount", "rmsle")
    assert (regression > 0).all()
    assert plain_lightgbm.score("rmsle", frame["amount"].iloc[300:], regression) < 0.3


def test_gap_is_relative_for_rmse_like_metrics():
    assert plain_lightgbm.gap("rmsle", 0.30, 0.40) == pytest.approx(0.25)
    assert plain_lightgbm.gap("accuracy", 0.83, 0.76) == pytest.approx(0.07)


def test_headline_reads_the_standard_error_when_cv_json_has_one():
    assert leaderboard.headline({"oof_accuracy": 0.8, "oof_accuracy_se": 0.01, "oof_accuracy_test_se": 0.02,
                                 "models": {"m": {"oof_accuracy_se": 0.5}}}, "accuracy") == (0.8, 0.01)
    assert leaderboard.headline({"oof_rmsle": 0.3, "oof_rmse": 9.0}, "rmsle") == (0.3, None)


def test_table_fits_100_columns_and_counts_honest_rows():
    rows = [leaderboard.Row("house-prices", 0, "log_rmse", 0.118, 0.004, 0.121, 0.009, 0.128, 61.0),
            leaderboard.Row("bike-demand", 1, "rmsle", 0.30, None, 0.43, 0.004, 0.40, 120.0),
            leaderboard.Row("titanic", 0, "accuracy", error="RuntimeError: " + "x" * 200)]
    lines = leaderboard.table(rows)
    assert all(len(line) < 100 for line in lines)
    assert "2.5%" in lines[2] and "30.2%" in lines[3] and "failed" in lines[4]
    assert "metrics): 0 of 2" in lines[-2] and "plain LightGBM: 1 of 2" in lines[-2]
    assert "standard errors (CV's and the pseudo-test's): 1 of 2" in lines[-1]  # house: 0.003 < 2 x 0.0098


@pytest.mark.slow
def test_a_competition_new_run_end_to_end(tmp_path, capsys):
    """`competition new` + `dvc repro` on statsmodels' fair in a repo copy (1-2 minutes)."""
    assert leaderboard.main(["--only", "fair", "--seeds", "0", "--keep", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert all(len(line) < 100 for line in out.splitlines())
    name, seed, metric, cv, test, gap, plain, margin, wall = next(
        line for line in out.splitlines() if line.startswith("fair")).split()
    cv, test = float(cv.split("±")[0]), float(test.split("±")[0])
    assert (seed, metric) == ("0", "accuracy") and 0.68 < test < 0.78  # always "no" scores 0.68
    assert abs(cv - test) < 0.03 and float(gap) == pytest.approx(abs(cv - test), abs=2e-4)
    assert not (tmp_path / "fair-0" / "data" / "test.csv").read_text().count("affair")
