"""Out-of-fold group statistics (pipeline/tabular/group_stats.py): which keys link train and test,
and that no row's features ever carry its own label or a label outside the fitted rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import ParamError
from pipeline.tabular import group_stats
from pipeline.tabular.group_stats import GroupEncoder, GroupStatsParams


def _titanic(mirror):
    return pd.read_csv(mirror / "titanic" / "train.csv"), pd.read_csv(mirror / "titanic" / "test.csv")


def test_titanic_links_families_and_tickets_house_prices_links_nothing(mirror):
    train, test = _titanic(mirror)
    keys, notes = group_stats.discover(train, test, ["PassengerId", "Survived"], GroupStatsParams())
    assert keys == ["Name:first_word", "Ticket"]
    assert all("of test rows to train rows" in note for note in notes)
    assert group_stats.key_values(train, "Name:first_word").iloc[0] == "Braund"  # "Braund, Mr. Owen Harris"
    house = pd.read_csv(mirror / "kaggle_house_pred_train.csv"), pd.read_csv(mirror / "kaggle_house_pred_test.csv")
    assert group_stats.discover(*house, ["Id", "SalePrice"], GroupStatsParams()) == ([], [])


def test_columns_none_and_named_columns(mirror):
    train, test = _titanic(mirror)
    assert group_stats.discover(train, test, [], GroupStatsParams(columns="none")) == ([], [])
    named = GroupStatsParams(columns=["Ticket", "Cabin"])
    assert group_stats.discover(train, test, [], named)[0] == ["Ticket", "Cabin"]
    with pytest.raises(ParamError, match="'cs.columns' names 'Boat'; train.csv has no column 'Boat'"):
        group_stats.discover(train, test, [], GroupStatsParams(columns=["Boat"]), "cs")


def _encoder(n=300, n_groups=40, n_classes=2, seed=0, smoothing=10.0):
    rng = np.random.default_rng(seed)
    keys = pd.DataFrame({"g": rng.integers(0, n_groups, n).astype(str)})
    test_keys = pd.DataFrame({"g": rng.integers(0, n_groups + 10, 50).astype(str)})
    train_codes, test_codes = group_stats.codes(keys, test_keys)
    y = rng.integers(0, max(n_classes, 2), n) if n_classes else rng.normal(size=n)
    return GroupEncoder(train_codes, y, n_classes, GroupStatsParams(smoothing=smoothing), ["g"]), test_codes


def test_a_fitted_row_never_sees_its_own_label():
    encoder, test_codes = _encoder()
    fit_rows = np.ones(len(encoder.y), bool)
    fitted, _ = encoder.encode(fit_rows, test_codes, seed=3)
    for row in (0, 17, 123):
        encoder.y[row] = 1 - encoder.y[row]
        again, _ = encoder.encode(fit_rows, test_codes, seed=3)
        assert np.array_equal(again[row], fitted[row])  # its own features did not move
        assert not np.array_equal(again, fitted)  # ...though its group-mates' did
        encoder.y[row] = 1 - encoder.y[row]


def test_rows_outside_the_fitted_ones_never_lend_their_labels():
    encoder, _ = _encoder()
    fit_rows = np.arange(len(encoder.y)) % 5 != 0  # a validation fold: every fifth row
    _, applied = encoder.encode(fit_rows, encoder.train_codes[~fit_rows], seed=1)
    encoder.y[~fit_rows] = 1 - encoder.y[~fit_rows]
    _, again = encoder.encode(fit_rows, encoder.train_codes[~fit_rows], seed=1)
    assert np.array_equal(applied, again)


def test_the_mean_is_smoothed_toward_the_prior_and_counts_are_logged():
    train_codes = np.array([[0], [0], [0], [1], [1], [2]])
    y = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    encoder = GroupEncoder(train_codes, y, 2, GroupStatsParams(smoothing=2.0), ["g"])
    _, applied = encoder.encode(np.ones(6, bool), np.array([[0], [3], [-1]]), seed=0)
    prior = 0.5
    assert applied[0, 0] == pytest.approx((2 + 2 * prior) / (3 + 2) - prior)
    assert applied[0, 1] == pytest.approx(np.log1p(3))
    assert applied[1].tolist() == [0.0, 0.0] and applied[2].tolist() == [0.0, 0.0]  # unseen, missing: no evidence
    assert encoder.columns == ["group_g_mean", "group_g_count"]


def test_multiclass_gives_a_mean_per_class_but_the_last_and_regression_one():
    encoder, test_codes = _encoder(n_classes=4)
    fitted, applied = encoder.encode(np.ones(len(encoder.y), bool), test_codes, seed=0)
    assert fitted.shape[1] == applied.shape[1] == encoder.n_columns == 4
    assert encoder.columns == ["group_g_mean_0", "group_g_mean_1", "group_g_mean_2", "group_g_count"]
    regression, test_codes = _encoder(n_classes=0)
    assert regression.encode(np.ones(len(regression.y), bool), test_codes, seed=0)[1].shape == (50, 2)


def test_same_seed_same_features():
    encoder, test_codes = _encoder()
    rows = np.ones(len(encoder.y), bool)
    assert np.array_equal(encoder.encode(rows, test_codes, 5)[0], encoder.encode(rows, test_codes, 5)[0])


@pytest.mark.parametrize("values, match", [({"columns": "all"}, "must be auto, none or a list"),
                                           ({"smoothing": -1.0}, "smoothing' must be >= 0"),
                                           ({"inner_folds": 1}, "inner_folds' must be >= 2")])
def test_bad_params_name_themselves(values, match):
    from pipeline.params import build

    with pytest.raises(ParamError, match=match):
        build(GroupStatsParams, values, "competitions.k.group_stats")
