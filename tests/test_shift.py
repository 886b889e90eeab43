"""How test differs from train (pipeline/tabular/shift.py): the real competitions, which Kaggle
split at random, and small frames the tests make with the shifts real competitions have."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import REPO_ROOT
from pipeline.tabular import shift, starter
from pipeline.tabular.config import load_competition
from pipeline.tabular.data import load
from pipeline.tabular.features import Params, Preprocessor
from pipeline.tabular.stages import fit_preprocessor

HOURS = pd.date_range("2011-01-01", "2012-12-31 23:00", freq="h")
DAYS = pd.date_range("2011-01-01", "2012-12-31", freq="D")


def _features(train: pd.DataFrame, test: pd.DataFrame, params: Params | None = None):
    """Model-ready frames as preprocess writes them (the generic preprocessing fitted on train)."""
    pre = Preprocessor.fit(train, params or Params())
    return pre.transform(train), pre.transform(test), pre


def _dated(times: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"datetime": times.strftime("%Y-%m-%d %H:%M:%S"),
                         "temp": rng.normal(20, 5, len(times)).round(1),
                         "humidity": rng.integers(0, 101, len(times))})


def _unsupported(train: pd.DataFrame, test: pd.DataFrame, **kwargs) -> dict[str, str]:
    tr, te, pre = _features(train, test)
    return shift.unsupported_features(tr, te, pre.columns, units=shift.units_of(pre), **kwargs)


# ---- the real competitions: a random split


@pytest.mark.parametrize("key", ["house-prices", "titanic"])
@pytest.mark.parametrize("generic", [False, True], ids=["its_features_module", "generic_features"])
def test_real_competitions_show_no_shift_and_keep_every_feature(mirror, key, generic):
    p = load_competition(key)
    raw = load(p, mirror / Path(p.files["train"].name).parent)
    pre = Preprocessor.fit(raw.train[raw.test.columns[1:]], Params()) if generic else fit_preprocessor(p, raw)
    train, test = pre.transform(raw.train), pre.transform(raw.test)

    report = shift.check(train, test, pre.columns, seed=p.seed, units=shift.units_of(pre))

    assert report["unsupported"] == {}
    assert abs(report["auc"] - 0.5) < 0.05 and report["verdict"] == "no detectable shift", report
    assert (report["n_train"], report["n_test"]) == (len(raw.train), len(raw.test))
    assert 0 < report["auc_se"] < 0.05 and report["folds"] == shift.FOLDS
    assert len(report["top"]) == shift.TOP and {t["feature"] for t in report["top"]} <= set(pre.columns)


# ---- features whose test values lie where train has none


def test_later_days_of_each_month_flag_the_day_parts_only():
    frame = _dated(HOURS)
    first_days = HOURS.day <= 19

    found = _unsupported(frame[first_days], frame[~first_days])

    assert set(found) == {"datetime_day", "datetime_dayofyear"}  # not hour, weekday, month, year, weather
    assert found["datetime_day"] == ("datetime_day: 100% of test rows take values train never has (all past "
                                     "train's maximum: test 20..31, train 1..19)")
    assert found["datetime_dayofyear"].startswith("datetime_dayofyear: 93% of test rows take values train never")


def test_holes_count_on_an_even_grid_of_values_seen_once():
    """Daily rows of one year: each day of the year once, so test days are never train's, holes
    or not; what tells holes is distance: days 20..31 lie 2+ days from any train day, mostly."""
    days = pd.date_range("2011-01-01", "2011-12-31", freq="D")
    frame = _dated(days)
    first_days = days.day <= 19

    found = _unsupported(frame[first_days], frame[~first_days])

    assert set(found) == {"datetime_day", "datetime_dayofyear"}
    assert found["datetime_dayofyear"].startswith(
        "datetime_dayofyear: 83% of test rows take values 2+ steps from any train value (test 21..365, train 1..353)")
    at_random = np.random.default_rng(7).random(len(days)) < 0.7
    assert _unsupported(frame[at_random], frame[~at_random]) == {}  # a random split: the same grid


@pytest.mark.parametrize("test_from, flagged", [("2011-12-01", True), ("2011-06-01", False)])
def test_a_later_period_flags_the_year_only_when_most_test_rows_lie_past_train(test_from, flagged):
    frame = _dated(DAYS)
    frame["elapsed"] = np.random.default_rng(2).exponential(1.0, len(DAYS)).cumsum()  # a continuous clock
    train = frame[DAYS < "2011-12-01"] if flagged else frame[DAYS < "2011-06-01"]
    test = frame[(DAYS >= test_from) & (DAYS < "2012-04-01")]

    found = _unsupported(train, test)

    if flagged:  # test: Dec 2011 (in train's year) and Jan-Mar 2012 (past it): 75% past
        assert set(found) == {"datetime_year", "elapsed"}
        assert found["datetime_year"].startswith("datetime_year: 75% of test rows take values train never has "
                                                 "(all past train's maximum: test 2012, train 2011)")
        assert found["elapsed"].startswith("elapsed: 100% of test rows lie past train's maximum, a later period (test ")
    else:  # test: Jun 2011 - Mar 2012, train Jan-May 2011: 2012 is 30% of test rows, months 6..12 are new
        assert set(found) == {"datetime_month", "datetime_dayofyear", "elapsed"}
        assert "datetime_year" not in found


def test_a_few_test_values_past_train_keep_the_column():
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"area": rng.lognormal(8, 1, 500), "rooms": rng.integers(1, 9, 500)})
    test = pd.DataFrame({"area": rng.lognormal(8, 1, 400), "rooms": rng.integers(1, 9, 400)})
    test.loc[0, "area"], test.loc[1:30, "rooms"] = 50 * train["area"].max(), 12  # 8% past the max

    assert _unsupported(train, test) == {}
    test.loc[:250, "rooms"] = 12  # most test rows: a value train never has
    assert list(_unsupported(train, test)) == ["rooms"]


def test_keep_names_features_never_flagged():
    frame = _dated(HOURS)
    first_days = HOURS.day <= 19

    found = _unsupported(frame[first_days], frame[~first_days], keep=["datetime_day"])

    assert set(found) == {"datetime_dayofyear"}
    assert _unsupported(frame[first_days], frame[~first_days], keep=["datetime"]) == {}  # the input column


def test_standardized_values_when_the_units_are_unknown():
    frame = _dated(HOURS)
    first_days = HOURS.day <= 19
    tr, te, pre = _features(frame[first_days], frame[~first_days])

    found = shift.unsupported_features(tr, te, pre.columns)

    assert found["datetime_day"].endswith(", standardized values)") and "test 20..31" not in found["datetime_day"]


def test_a_category_whose_test_levels_train_never_has_is_left_out_as_a_whole():
    """Test rows of stores train never saw have every store dummy 0: no level to learn from.
    Levels capped as rare in train (all-zero rows in train too) are the random split's case."""
    rng = np.random.default_rng(4)
    train = pd.DataFrame({"store": rng.choice([f"s{i}" for i in range(20)], 600), "x": rng.normal(size=600)})
    test = pd.DataFrame({"store": rng.choice([f"s{i}" for i in range(15, 40)], 400), "x": rng.normal(size=400)})

    found = _unsupported(train, test)

    dummies = [f"store_s{i}" for i in range(20)] + ["store_nan"]
    assert set(found) == set(dummies)
    assert found["store_s0"].startswith("store: 8") and "of test rows take levels train never has" in \
        found["store_s0"]
    assert _unsupported(train, test, keep=["store"]) == {}  # the input column keeps its every dummy
    tickets = pd.DataFrame({"ticket": rng.integers(0, 400, 1000).astype(str), "x": rng.normal(size=1000)})
    assert _unsupported(tickets[:600], tickets[600:]) == {}  # 30 levels kept: most rows "other" in both


# ---- the adversarial classifier


def _shifted(n: int = 1500, by: float = 3.0, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    columns = ["a", "b", "c", "moved"]
    train = pd.DataFrame(rng.normal(size=(n, 4)), columns=columns).astype(np.float32)
    test = pd.DataFrame(rng.normal(size=(n // 2, 4)), columns=columns).astype(np.float32)
    test["moved"] += by
    return train, test


def test_a_shifted_column_is_found_and_drives_the_classifier():
    train, test = _shifted()

    report = shift.adversarial(train, test, list(train.columns), seed=1)

    assert report["auc"] > 0.9 and report["verdict"] == "strong shift"
    assert report["top"][0]["feature"] == "moved" and report["top"][0]["share"] > 0.5
    assert sum(item["share"] for item in report["top"]) == pytest.approx(1.0, abs=1e-3)


def test_no_shift_reads_near_one_half():
    train, test = _shifted(by=0.0)

    report = shift.adversarial(train, test, list(train.columns), seed=1)

    assert report["auc"] < shift.NO_SHIFT_AUC and report["verdict"] == "no detectable shift"


def test_same_seed_same_report_and_large_frames_are_thinned_evenly():
    train, test = _shifted(n=4000, by=0.3)
    columns = list(train.columns)

    first = shift.check(train, test, columns, seed=7, max_rows=3000)

    assert first == shift.check(train, test, columns, seed=7, max_rows=3000)
    assert first["rows_used"] == 3000 and (first["n_train"], first["n_test"]) == (4000, 2000)
    assert shift.check(train, test, columns, seed=8, max_rows=3000)["auc"] != first["auc"]


def test_too_few_rows_to_tell_is_said_not_raised():
    train, test = _shifted(n=40)

    report = shift.adversarial(train, test.iloc[:1], list(train.columns), seed=1)

    assert report["auc"] is None and report["verdict"] == "too few rows to tell"
    assert shift.format_report(report, {})[0] == "Train vs test: too few rows to tell (40 train rows, 1 test)"
    assert shift.adversarial(train, test, [], seed=1)["verdict"] == "no features to compare"


# ---- what a human reads


def test_report_lines_fit_100_columns_and_say_auc_top_and_left_out():
    frame = _dated(HOURS)
    frame = frame.rename(columns={"temp": "temperature_measured_at_the_nearest_weather_station_in_celsius"})
    first_days = HOURS.day <= 19
    tr, te, pre = _features(frame[first_days], frame[~first_days])

    report = shift.check(tr, te, pre.columns, seed=1, units=shift.units_of(pre), max_rows=5000)
    lines = shift.format_report(report, report["unsupported"])

    assert all(len(line) < 100 for line in lines), lines
    assert lines[0].startswith(f"Train vs test: a classifier tells them apart with AUC {report['auc']:.3f} ± ")
    assert lines[0].endswith(": strong shift")
    assert any(line.startswith("  columns that drive it: datetime_day") for line in lines), lines
    assert "Left out: 2 feature(s) whose test values mostly lie where train has none:" in lines
    assert any(line.startswith("  datetime_day: 100% of test rows") for line in lines)


# ---- `competition new` says it before the first `dvc repro`


def _new(tmp_path: Path, folder: Path, slug: str):
    """new_competition writing into copies of params.yaml and dvc.yaml."""
    params, dvc = tmp_path / "params.yaml", tmp_path / "dvc.yaml"
    shutil.copyfile(REPO_ROOT / "params.yaml", params)
    shutil.copyfile(REPO_ROOT / "dvc.yaml", dvc)
    return starter.new_competition(slug, source=str(folder), key=f"{slug}-shift", params_file=params, dvc_file=dvc)


def test_competition_new_prints_how_test_differs_for_later_days_of_each_month(tmp_path):
    """Bike-rental-like files: the datetime id is the hour ridden; test is days 20..31."""
    frame = _dated(HOURS)
    frame["count"] = np.random.default_rng(6).poisson(100, len(frame))
    first_days = HOURS.day <= 19
    folder = tmp_path / "bikes"
    folder.mkdir()
    frame[first_days].to_csv(folder / "train.csv", index=False)
    frame.loc[~first_days, ["datetime", "temp", "humidity"]].to_csv(folder / "test.csv", index=False)
    frame.loc[~first_days, ["datetime"]].assign(count=0).to_csv(folder / "sample_submission.csv", index=False)

    started = time.perf_counter()
    text = _new(tmp_path, folder, "bikes").text()
    seconds = time.perf_counter() - started

    lines = text.splitlines()
    assert all(len(line) < 100 for line in lines), text
    assert any(line.startswith("Train vs test: a classifier tells them apart with AUC 1.000 ± 0.000: strong shift")
               for line in lines), text
    assert "Left out: 2 feature(s) whose test values mostly lie where train has none:" in lines
    assert "  datetime_day: 100% of test rows take values train never has (all past train's maximum: test" in text
    assert "CV folds (cv.scheme auto): time:datetime: test holds whole days train lacks" in text
    assert seconds < 30, seconds


def test_competition_new_on_titanic_sees_no_shift(tmp_path, mirror):
    text = _new(tmp_path, mirror / "titanic", "titanic").text()

    assert "no detectable shift" in text
    assert "Left out for train/test shift: none" in text
    assert "CV folds (cv.scheme auto): stratified: classification" in text
