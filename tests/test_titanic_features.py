"""Titanic features module: engineering on the real competition files and on small frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pipeline.competitions.titanic import Params, Preprocessor, Stats, engineer, ticket_prefix_of, title_of
from pipeline.errors import DataError, ParamError
from pipeline.params import build

ALL_ON = Params(ticket_prefix=True, age_missing=True, pclass="both", sex_class=True, min_category_count=5)


@pytest.fixture
def frames(mirror) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The competition's own train.csv and test.csv (only train.csv has labels)."""
    return pd.read_csv(mirror / "titanic" / "train.csv"), pd.read_csv(mirror / "titanic" / "test.csv")


def _stats_rows(train: pd.DataFrame, test: pd.DataFrame, params: Params) -> pd.DataFrame:
    """What the preprocess stage passes: the test file's columns but the id, train (and test) rows."""
    features = [c for c in test.columns if c != "PassengerId"]
    return train[features] if params.stats_from == "train" else pd.concat([train[features], test[features]])


@pytest.mark.parametrize("params", [Params(), Params(stats_from="train"), ALL_ON,
                                    Params(title=False, family=False, ticket_group=False, cabin="none",
                                           fare_per_person=False, log_fare=False, age_fill="none",
                                           pclass="number", sex_class=False, embarked_mode=False)],
                         ids=["defaults", "stats_from_train", "all_on", "all_off"])
def test_real_files_make_finite_features_with_the_same_columns(frames, params):
    train, test = frames
    pre = Preprocessor.fit(_stats_rows(train, test, params), params)
    out_train, out_test = pre.transform(train), pre.transform(test)
    assert list(out_train.columns) == list(out_test.columns) == pre.columns
    assert out_train.index.equals(train.index) and out_test.index.equals(test.index)
    for out in (out_train, out_test):
        assert (out.dtypes == np.float32).all()
        assert np.isfinite(out.to_numpy()).all()
    assert not {"PassengerId", "Survived", "Name", "Ticket", "Cabin"} & set(pre.columns)


def test_default_features_are_the_engineered_ones(frames):
    train, test = frames
    pre = Preprocessor.fit(_stats_rows(train, test, Params()), Params())
    for name in ("Title_Mr", "Title_Master", "Title_Rare", "FamilySize", "IsAlone", "LargeFamily",
                 "TicketGroupSize", "FarePerPerson", "Deck_C", "Deck_nan", "Pclass_3", "Sex_female",
                 "Embarked_S"):
        assert name in pre.columns
    assert "Embarked_nan" not in pre.columns or pre.transform(train)["Embarked_nan"].sum() == 0  # mode-filled
    assert any(note.startswith("Name: read for Title") for note in pre.notes)


def test_title_extraction_on_known_names():
    names = pd.Series(["Braund, Mr. Owen Harris", "Cumings, Mrs. John Bradley (Florence Briggs Thayer)",
                       "Heikkinen, Miss. Laina", "Palsson, Master. Gosta Leonard", "Sagesser, Mlle. Emma",
                       "Reynaldo, Ms. Encarnacion", "Aubart, Mme. Leontine Pauline",
                       "Byles, Rev. Thomas Roussel Davids",
                       "Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)", "Oliva y Ocana, Dona. Fermina",
                       "Smith, John", None])
    assert title_of(names).tolist() == ["Mr", "Mrs", "Miss", "Master", "Miss", "Miss", "Mrs", "Rare", "Rare",
                                        "Rare", None, None]


def test_ticket_prefix():
    tickets = pd.Series(["A/5 21171", "PC 17599", "STON/O2. 3101282", "113803", "LINE", "S.O.C. 14879"])
    assert ticket_prefix_of(tickets).tolist() == ["A5", "PC", "STONO2", "NUM", "LINE", "SOC"]


def _frame(**columns) -> pd.DataFrame:
    base = {"Pclass": [3, 1, 3, 2], "Name": ["A, Mr. X", "B, Mrs. Y", "C, Master. Z", "D, Mr. W"],
            "Sex": ["male", "female", "male", "male"], "Age": [30.0, np.nan, np.nan, 50.0],
            "SibSp": [0, 1, 1, 0], "Parch": [0, 0, 2, 0], "Ticket": ["T1", "T2", "T2", "T3"],
            "Fare": [8.0, 90.0, 90.0, np.nan], "Cabin": [None, "C85", "C85", None], "Embarked": ["S", "C", None, "S"]}
    return pd.DataFrame({**base, **columns})


def test_statistics_come_from_the_stats_rows_only():
    rows = _frame()
    p = Params(log_fare=False, pclass="number")
    stats = Stats.fit(rows, p)
    assert stats.ticket_counts == {"T2": 2, "T1": 1, "T3": 1}
    assert stats.age_medians == {"Mr": 40.0}  # Mrs and Master have no known age here
    assert stats.age_default == 40.0 and stats.embarked_mode == "S"
    out = engineer(rows, p, stats)
    assert out["Age"].tolist() == [30.0, 40.0, 40.0, 50.0]  # by title, else the overall median
    assert out["FamilySize"].tolist() == [1, 2, 4, 1]
    assert out["TicketGroupSize"].tolist() == [1, 2, 2, 1]
    assert out["FarePerPerson"].tolist()[:3] == [8.0, 45.0, 45.0]
    assert "2" not in stats.fare_medians and out.loc[3, "Fare"] == 90.0  # no class-2 fare: the overall median
    assert out["Deck"].tolist() == [None, "C", "C", None]
    assert out["Embarked"].tolist() == ["S", "C", "S", "S"]
    unseen = engineer(_frame(Ticket=["X", "Y", "Z", "T2"]), p, stats)
    assert unseen["TicketGroupSize"].tolist() == [1, 1, 1, 2]  # a ticket the stats never saw: a group of one


def test_the_stats_rows_never_see_survived(frames):
    train, test = frames
    with pytest.raises(DataError, match="Survived"):
        Preprocessor.fit(train.drop(columns="PassengerId"), Params(stats_from="train"))
    pre = Preprocessor.fit(_stats_rows(train, test, Params()), Params())
    assert "Survived" not in dict(pre.encoder.kinds)
    shuffled = train.assign(Survived=np.random.default_rng(0).permutation(train["Survived"].to_numpy()))
    assert pre.transform(shuffled).equals(pre.transform(train))  # the labels do not reach the features
    assert pre.transform(train.drop(columns="Survived")).equals(pre.transform(train))


def test_save_load_round_trip(frames, tmp_path):
    train, test = frames
    for params in (Params(), ALL_ON):
        pre = Preprocessor.fit(_stats_rows(train, test, params), params)
        pre.save(tmp_path / "pre.json")
        back = Preprocessor.load(tmp_path / "pre.json")
        assert back.to_dict() == pre.to_dict()
        assert back.params == pre.params and back.columns == pre.columns and back.notes == pre.notes
        assert back.transform(test).equals(pre.transform(test))


def test_missing_column_is_a_data_error_naming_it(frames):
    train, test = frames
    pre = Preprocessor.fit(_stats_rows(train, test, Params()), Params())
    with pytest.raises(DataError, match="'Name'"):
        pre.transform(test.drop(columns="Name"))
    with pytest.raises(DataError, match="'Sex'"):  # a raw column the generic encoder reads
        pre.transform(test.drop(columns="Sex"))
    with pytest.raises(DataError, match="'Ticket'"):
        Preprocessor.fit(_stats_rows(train, test, Params()).drop(columns="Ticket"), Params())


def test_params_are_checked_by_name():
    assert build(Params, {"pclass": "number", "sex_class": True}, "f") == Params(pclass="number", sex_class=True)
    with pytest.raises(ParamError, match="f.pclass"):
        build(Params, {"pclass": "ordinal"}, "f")
    with pytest.raises(ParamError, match="f.min_category_count"):
        build(Params, {"min_category_count": -1}, "f")
    with pytest.raises(ParamError, match="f.bogus"):
        build(Params, {"bogus": 1}, "f")
    with pytest.raises(DataError, match="drop_columns"):  # a typo in drop_columns does not pass silently
        Preprocessor.fit(_frame(), dataclasses.replace(Params(), drop_columns=["Fair"]))
