"""The default features any competition gets: column kinds, statistics and notes on small frames
the tests build, and on the real Titanic train.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError, ParamError
from pipeline.params import build
from pipeline.tabular.features import Params, Preprocessor


def _fit(frame: pd.DataFrame, **params) -> Preprocessor:
    return Preprocessor.fit(frame, Params(**params))


def _mixed(n: int = 40) -> pd.DataFrame:
    """Every kind of column, `n` rows."""
    rows = np.arange(n)
    return pd.DataFrame({
        "Age": np.where(rows % 5 == 0, np.nan, rows % 7 + 20.0),
        "Colour": pd.Series(np.where(rows % 4 == 0, None, np.array(["red", "blue", "green"])[rows % 3]), dtype="str"),
        "Note": pd.Series([f"the quick fox number {i}" for i in rows], dtype="str"),
        "Code": pd.Series([f"X{i:04d}" for i in rows], dtype="str"),
        "Flat": 7,
        "Grade": rows % 3 + 1,  # a numeric code
        "Day": pd.Series([f"2021-03-{i % 28 + 1:02d}" for i in rows], dtype="str"),
    })


def test_numbers_are_standardized_with_missing_as_zero():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan], "k": ["a", "a", "b", "b"]})
    pre = _fit(frame)
    out = pre.transform(frame)
    assert pre.kinds["x"] == "number"
    assert out["x"].tolist() == pytest.approx([-1.0, 0.0, 1.0, 0.0])
    assert out.dtypes.unique().tolist() == [np.float32]


def test_category_dummies_with_nan_indicator_and_unseen_level_as_zeros():
    train = pd.DataFrame({"Colour": pd.Series(["red", "blue", None, "red"], dtype="str")})
    pre = _fit(train)
    assert pre.kinds == {"Colour": "category"}
    assert pre.columns == ["Colour_blue", "Colour_red", "Colour_nan"]
    assert pre.transform(train).to_numpy().tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]]
    test = pd.DataFrame({"Colour": ["purple", "blue"], "Other": [1, 2]}, index=[10, 11])
    out = pre.transform(test)
    assert list(out.index) == [10, 11] and list(out.columns) == pre.columns
    assert out.to_numpy().tolist() == [[0, 0, 0], [1, 0, 0]]


def test_dates_become_standardized_parts_with_time_only_when_there_is_one():
    days = pd.DataFrame({"Day": ["2021-03-04", "2021-04-05", "2022-01-01", None], "n": [1.0, 2.0, 3.0, 4.0]})
    pre = _fit(days)
    assert pre.kinds["Day"] == "date"
    assert pre.columns == ["Day_year", "Day_month", "Day_day", "Day_dayofweek", "Day_dayofyear", "n"]
    out = pre.transform(days)
    years = np.array([2021, 2021, 2022])
    assert out["Day_year"].tolist() == pytest.approx([*((years - years.mean()) / years.std(ddof=1)), 0.0], abs=1e-6)
    stamps = pd.DataFrame({"At": ["2021-03-04 10:30:00", "2021-03-04 00:00:00", "2021-03-05 23:59:00"]})
    assert _fit(stamps).columns == [f"At_{p}" for p in ("year", "month", "day", "dayofweek", "dayofyear", "hour",
                                                          "minute")]
    us = pd.DataFrame({"On": ["03/04/2021", "12/31/2020", "03/04/2021"], "Year": ["2021", "2020", "2021"]})
    pre = _fit(us)
    assert pre.kinds == {"On": "date", "Year": "category"}  # numbers in strings are no dates
    assert pre.transform(us)["On_month"].tolist() == pytest.approx([-0.57735, 1.1547, -0.57735], abs=1e-4)


def test_free_text_and_id_codes_are_left_out_with_notes():
    frame = _mixed()
    pre = _fit(frame)
    assert pre.kinds["Note"] == "text" and pre.kinds["Code"] == "id"
    assert "Note: free text (40 distinct values, ~5 words each): left out" in pre.notes
    assert "Code: an id (40 distinct values in 40 rows): left out" in pre.notes
    assert not any(c.startswith(("Note", "Code")) for c in pre.columns)
    assert not pre.transform(frame.drop(columns=["Note", "Code"])).isna().any().any()


def test_constant_columns_are_left_out():
    frame = pd.DataFrame({"Flat": 7, "Empty": np.nan, "x": [1.0, 2.0, 3.0]})
    pre = _fit(frame)
    assert pre.kinds == {"Flat": "constant", "Empty": "constant", "x": "number"}
    assert pre.notes == ["Flat: the same value (7) in every row: left out", "Empty: missing in every row: left out"]
    assert pre.columns == ["x"]


def test_one_value_or_missing_is_a_flag_not_a_constant():
    frame = pd.DataFrame({"Pool": [5.0, np.nan, 5.0], "x": [1.0, 2.0, 3.0]})
    pre = _fit(frame)
    assert pre.kinds["Pool"] == "category" and not pre.notes
    assert pre.transform(frame)["Pool_nan"].tolist() == [0, 1, 0]


def test_row_numbers_are_ids_but_floats_never():
    frame = pd.DataFrame({"RowId": np.arange(1, 41), "Size": np.arange(1, 41) * 1.0})
    pre = _fit(frame)
    assert pre.kinds == {"RowId": "id", "Size": "number"}
    assert pre.notes == ["RowId: a row id (integers 1..40, all distinct): left out"]


def test_categorical_forces_numeric_codes_to_categories():
    frame = _mixed()
    assert _fit(frame).kinds["Grade"] == "number"
    pre = _fit(frame, categorical=["Grade"])
    assert pre.kinds["Grade"] == "category"
    assert [c for c in pre.columns if c.startswith("Grade")] == ["Grade_1", "Grade_2", "Grade_3", "Grade_nan"]
    test = pd.DataFrame({**frame.iloc[:2].to_dict("list"), "Grade": [2.0, np.nan]})  # floats in test: same levels
    assert pre.transform(test)[["Grade_1", "Grade_2", "Grade_3", "Grade_nan"]].to_numpy().tolist() == [
        [0, 1, 0, 0], [0, 0, 0, 1]]


def test_max_categories_keeps_the_most_frequent_levels_with_a_note():
    frame = pd.DataFrame({"Deck": list("AAAABBBCCD")})
    pre = _fit(frame, max_categories=2)
    assert pre.columns == ["Deck_A", "Deck_B", "Deck_nan"]
    assert pre.notes == ["Deck: 4 levels, kept the 2 most frequent"]
    assert pre.transform(pd.DataFrame({"Deck": ["C"]})).to_numpy().tolist() == [[0, 0, 0]]
    ties = _fit(pd.DataFrame({"Deck": list("DDCCBBAA")}), max_categories=2)
    assert ties.levels["Deck"] == ["A", "B"]  # a tie goes by name: refits agree
    rare = _fit(frame, min_category_count=2)
    assert rare.levels["Deck"] == ["A", "B", "C"]
    assert rare.notes == ["Deck: 4 levels, kept the 3 seen at least 2 times"]


def test_drop_columns_and_missing_columns_are_named():
    frame = _mixed()
    pre = _fit(frame, drop_columns=["Age"])
    assert pre.kinds["Age"] == "dropped" and "Age: in drop_columns: left out" in pre.notes
    assert "Age" not in pre.columns
    pre.transform(frame.drop(columns=["Age", "Note"]))  # left-out columns are not needed
    with pytest.raises(DataError, match="'Colour'"):
        pre.transform(frame.drop(columns=["Colour"]))
    with pytest.raises(DataError, match="'Agee'.*Age, Colour"):
        _fit(frame, drop_columns=["Agee"])


def test_params_are_checked():
    with pytest.raises(ParamError, match="x.features.max_categories"):
        build(Params, {"max_categories": 0}, "x.features")
    with pytest.raises(ParamError, match="x.features.categorical"):
        build(Params, {"drop_columns": ["A"], "categorical": ["A"]}, "x.features")


def test_save_and_load_transform_alike(tmp_path):
    frame = _mixed()
    frame["At"] = pd.Series([f"2021-03-04 {i % 24:02d}:15" for i in range(len(frame))], dtype="str")
    pre = _fit(frame, categorical=["Grade"], max_categories=2)
    pre.save(tmp_path / "features.json")
    loaded = Preprocessor.load(tmp_path / "features.json")
    assert loaded == pre and list(loaded.kinds) == list(pre.kinds)
    test = frame.iloc[::-3]
    pd.testing.assert_frame_equal(loaded.transform(test), pre.transform(test))
    assert len(pre.transform(frame.iloc[:0])) == 0


def test_titanic_train(mirror):
    train = pd.read_csv(mirror / "titanic" / "train.csv")
    rows = train.drop(columns=["PassengerId", "Survived"])
    pre = Preprocessor.fit(rows, Params())
    assert pre.kinds["Name"] in ("text", "id")
    assert pre.kinds["Sex"] == pre.kinds["Embarked"] == "category"
    assert pre.kinds["Age"] == pre.kinds["Fare"] == "number"
    assert any(note.startswith("Name: ") for note in pre.notes)
    assert "Ticket: 681 levels, kept the 30 most frequent" in pre.notes
    out = pre.transform(train)  # the id and target are ignored
    assert out.shape == (len(train), len(pre.columns)) and not out.isna().any().any()
