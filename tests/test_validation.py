"""Folds that mirror the test split (pipeline/tabular/validation.py): what `auto` reads from the
data, and that whole blocks (time stretches, groups) stay in one fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError, ParamError
from pipeline.tabular import validation
from pipeline.tabular.evaluation import CVParams, fold_ids


def _hourly(start="2011-01-01", end="2012-12-31 23:00") -> pd.DataFrame:
    times = pd.date_range(start, end, freq="h")
    rng = np.random.default_rng(0)
    return pd.DataFrame({"datetime": times.strftime("%Y-%m-%d %H:%M:%S"), "temp": rng.normal(size=len(times))})


def _days(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["datetime"]).dt.normalize()


def test_auto_makes_folds_of_whole_day_stretches_when_test_holds_other_days_of_each_month():
    hours = _hourly()
    day = pd.to_datetime(hours["datetime"]).dt.day
    train, test = hours[day <= 19].reset_index(drop=True), hours[day > 19].reset_index(drop=True)
    scheme = validation.choose("auto", train, test, "datetime", classification=False)
    assert (scheme.kind, scheme.column, scheme.ordered) == ("time", "datetime", False)
    assert "days train lacks" in scheme.reason
    folds = validation.fold_ids(len(train), 5, 42, blocks=scheme.blocks)
    days = _days(train)
    per_day = pd.Series(folds).groupby(days.to_numpy()).nunique()
    assert per_day.max() == 1  # every calendar day is validated whole, never split across folds
    # stretches are runs of consecutive days no longer than test's typical run (20..31: ~12 days)
    for block in np.unique(scheme.blocks):
        block_days = days[scheme.blocks == block].drop_duplicates().sort_values()
        assert (block_days.diff().dropna() == pd.Timedelta(days=1)).all()
        assert len(block_days) <= 12
    assert set(np.bincount(folds)) and np.bincount(folds).min() > 0.15 * len(train)


def test_auto_deals_consecutive_periods_in_time_order_when_test_comes_after_train():
    hours = _hourly()
    later = pd.to_datetime(hours["datetime"]) >= "2012-07-01"
    train, test = hours[~later].reset_index(drop=True), hours[later].reset_index(drop=True)
    scheme = validation.choose("auto", train, test, "datetime", classification=True)
    assert scheme.kind == "time" and scheme.ordered and "after all of train" in scheme.reason
    folds = validation.fold_ids(len(train), 4, 42, blocks=scheme.blocks, ordered=True)
    times = pd.to_datetime(train["datetime"])
    for k in range(3):  # fold k's rows all come before fold k+1's
        assert times[folds == k].max() < times[folds == k + 1].min()


def test_auto_keeps_random_folds_when_test_rows_were_drawn_at_random():
    hours = _hourly()
    pick = np.random.default_rng(1).random(len(hours)) < 0.3
    train, test = hours[~pick].reset_index(drop=True), hours[pick].reset_index(drop=True)
    assert validation.choose("auto", train, test, "datetime", classification=False).kind == "random"
    assert validation.choose("auto", train, test, "datetime", classification=True).kind == "stratified"


def test_no_dates_means_the_task_default_and_the_folds_earlier_versions_made():
    train = pd.DataFrame({"Id": range(100), "x": np.arange(100.0)})
    scheme = validation.choose("auto", train, train.copy(), "Id", classification=False)
    assert scheme.kind == "random" and scheme.blocks is None
    ids = fold_ids(10, CVParams(folds=5, shuffle=False))
    assert ids.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_group_scheme_keeps_every_group_in_one_fold_and_missing_values_apart():
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"store": rng.integers(0, 40, 500).astype(float)})
    train.loc[:9, "store"] = np.nan
    scheme = validation.choose("group:store", train, train.copy(), "Id", classification=False)
    folds = validation.fold_ids(len(train), 5, 7, blocks=scheme.blocks)
    known = train["store"].notna()
    assert pd.Series(folds[known]).groupby(train.loc[known, "store"].to_numpy()).nunique().max() == 1
    assert len(np.unique(scheme.blocks[~known])) == 10  # each missing store is a block of one row
    assert np.bincount(folds).min() > 60  # blocks dealt so folds stay about equal in rows


@pytest.mark.parametrize("value", ["groups:x", "time", "group:", "kfold"])
def test_a_bad_scheme_is_refused_naming_the_param(value):
    with pytest.raises(ParamError, match=r"'competitions.k.cv.scheme' is .*auto, random, stratified"):
        validation.check_scheme(value, "competitions.k.cv.scheme")


def test_schemes_naming_a_column_need_it_in_both_files_and_time_needs_dates():
    train = pd.DataFrame({"a": [1, 2, 3], "when": ["x", "y", "z"]})
    with pytest.raises(ParamError, match="names column 'b', which train.csv lacks"):
        validation.choose("group:b", train, train, "a", False, "cv.scheme")
    with pytest.raises(ParamError, match="'cv.scheme' names 'when', whose values do not read as dates"):
        validation.choose("time:when", train, train, "a", False, "cv.scheme")
    with pytest.raises(ParamError, match="stratified, which needs a classification task"):
        validation.choose("stratified", train, train, "a", False, "cv.scheme")


def test_fewer_blocks_than_folds_and_a_one_row_train_say_what_to_change():
    with pytest.raises(ParamError, match="only 3 blocks"):
        validation.fold_ids(30, 5, 0, blocks=np.repeat([0, 1, 2], 10), where="competitions.k.cv")
    with pytest.raises(DataError, match="train has 1 row"):
        validation.fold_ids(1, 5, 0, where="competitions.k.cv")


def test_every_score_gets_its_standard_error_and_accuracy_the_test_sizes_binomial_error():
    from pipeline.tabular.evaluation import standard_errors

    folds = [{"oof_accuracy": a, "oof_logloss": l} for a, l in ((0.80, 0.45), (0.84, 0.40), (0.82, 0.42))]
    scored = {"oof_accuracy": 0.82, "oof_logloss": 0.423}
    errors = standard_errors(scored, folds, "accuracy", n_test=418)
    assert errors["oof_accuracy_se"] == pytest.approx(np.std([0.80, 0.84, 0.82], ddof=1) / np.sqrt(3))
    assert errors["oof_logloss_se"] == pytest.approx(np.std([0.45, 0.40, 0.42], ddof=1) / np.sqrt(3))
    assert errors["oof_accuracy_test_se"] == pytest.approx(np.sqrt(0.82 * 0.18 / 418))
    assert "oof_rmse_test_se" not in standard_errors({"oof_rmse": 1.0}, [{"oof_rmse": 1.0}] * 2, "rmse", 100)


def test_a_fold_without_outliers_counts_its_score_as_its_clean_score():
    from pipeline.tabular.evaluation import standard_errors

    folds = [{"oof_rmse": 0.10, "oof_rmse_without_outliers": 0.08}, {"oof_rmse": 0.12}, {"oof_rmse": 0.11}]
    errors = standard_errors({"oof_rmse": 0.11, "oof_rmse_without_outliers": 0.10}, folds, "rmse")
    assert errors["oof_rmse_without_outliers_se"] == pytest.approx(np.std([0.08, 0.12, 0.11], ddof=1) / np.sqrt(3))
