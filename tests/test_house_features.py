"""Preprocessing on small frames the tests build: the awkward cases real data brings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.competitions.house_prices import FeatureParams, Preprocessor, engineer


def _frame(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"Id": np.arange(1, n + 1), **columns})


def test_unseen_test_category_maps_to_zeros_and_columns_match():
    train = _frame(Street=["Pave", "Grvl", "Pave"], LotArea=[100.0, 200.0, 300.0])
    test = _frame(Street=["Dirt", "Pave"], LotArea=[150.0, 250.0])
    pre = Preprocessor.fit(train, FeatureParams(stats_from="train"))
    out = pre.transform(test)
    assert list(out.columns) == ["LotArea", "Street_Grvl", "Street_Pave", "Street_nan"]
    assert out.loc[0, ["Street_Grvl", "Street_Pave", "Street_nan"]].tolist() == [0, 0, 0]
    assert out.loc[1, "Street_Pave"] == 1
    assert list(pre.transform(train).columns) == list(out.columns)


def test_standardize_then_fill_missing_with_zero():
    train = _frame(LotArea=[1.0, 2.0, 3.0, np.nan])
    out = Preprocessor.fit(train, FeatureParams()).transform(train)
    assert out["LotArea"].tolist() == pytest.approx([-1.0, 0.0, 1.0, 0.0])


def test_missing_value_indicator_for_categories():
    train = _frame(Alley=["Grvl", None, "Pave"])
    out = Preprocessor.fit(train, FeatureParams()).transform(train)
    assert out["Alley_nan"].tolist() == [0, 1, 0]


def test_constant_and_all_missing_columns_make_no_nan():
    train = _frame(Const=[5.0, 5.0, 5.0], Empty=[np.nan, np.nan, np.nan], Cat=[None, None, None])
    out = Preprocessor.fit(train, FeatureParams()).transform(train)
    assert not out.isna().any().any()
    assert out["Const"].tolist() == [0.0, 0.0, 0.0]
    assert out["Cat_nan"].tolist() == [1, 1, 1]


def test_column_order_is_fixed_by_fit_not_by_the_transformed_frame():
    train = _frame(B=[1.0, 2.0], A=["x", "y"], C=[3.0, 5.0])
    pre = Preprocessor.fit(train, FeatureParams())
    shuffled = train[["C", "A", "Id", "B"]]
    assert list(pre.transform(shuffled).columns) == list(pre.transform(train).columns) == pre.columns
    assert pre.transform(shuffled).equals(pre.transform(train))


def test_missing_column_at_transform_is_a_clear_error():
    from pipeline.errors import DataError

    pre = Preprocessor.fit(_frame(A=[1.0, 2.0], B=["x", "y"]), FeatureParams())
    with pytest.raises(DataError, match="'B'"):
        pre.transform(_frame(A=[1.0]))


def test_stats_from_train_ignores_test_rows():
    train, test = _frame(X=[0.0, 2.0]), _frame(X=[100.0, 200.0])
    only_train = Preprocessor.fit(train, FeatureParams(stats_from="train"))
    assert only_train.means["X"] == 1.0
    both = Preprocessor.fit(pd.concat([train, test]), FeatureParams())
    assert both.means["X"] == 75.5


def test_state_round_trips_through_json():
    train = _frame(A=[1.0, 4.0, 9.0], B=["x", None, "y"], Neighborhood=["n", "n", "m"], LotFrontage=[1.0, None, 3.0])
    params = FeatureParams(lot_frontage_by_neighborhood=True, skew_transform="log1p", skew_threshold=0.0)
    pre = Preprocessor.fit(train, params)
    again = Preprocessor.from_dict(pre.to_dict())
    assert again.transform(train).equals(pre.transform(train))


# ---- feature engineering switches (issue 6), each on its own


def test_na_means_none_fills_listed_columns_only():
    df = _frame(PoolQC=[None, "Ex"], GarageArea=[None, 10.0], MSZoning=[None, "RL"], YearBuilt=[1990, 2000],
                GarageYrBlt=[None, 2001.0])
    out = engineer(df, FeatureParams(na_means_none=True))
    assert out["PoolQC"].tolist() == ["None", "Ex"]
    assert out["GarageArea"].tolist() == [0.0, 10.0]
    assert out["GarageYrBlt"].tolist() == [1990.0, 2001.0]
    assert out["MSZoning"].isna().tolist() == [True, False]
    assert engineer(df, FeatureParams())["PoolQC"].isna().tolist() == [True, False]


def test_ordinal_quality_scale():
    df = _frame(KitchenQual=["Ex", "Gd", "TA", "Fa", "Po", None])
    assert engineer(df, FeatureParams(ordinal_quality=True))["KitchenQual"].tolist() == [5, 4, 3, 2, 1, 0]


def test_categorical_codes_turn_numbers_into_categories():
    df = _frame(MSSubClass=[20, 60, np.nan], LotArea=[1.0, 2.0, 3.0])
    out = engineer(df, FeatureParams(categorical_codes=True))
    assert out["MSSubClass"].tolist()[:2] == ["20", "60"] and pd.isna(out["MSSubClass"].iloc[2])
    pre = Preprocessor.fit(df, FeatureParams(categorical_codes=True))
    assert "MSSubClass_20" in pre.columns and "MSSubClass" not in pre.numeric


def test_combined_features():
    df = _frame(TotalBsmtSF=[100.0, np.nan], **{"1stFlrSF": [200.0, 300.0], "2ndFlrSF": [0.0, 50.0]},
                FullBath=[2, 1], HalfBath=[1, 0], BsmtFullBath=[1, 0], BsmtHalfBath=[0, 1],
                YrSold=[2010, 2008], YearBuilt=[2000, 1950], YearRemodAdd=[2005, 1990])
    out = engineer(df, FeatureParams(combined_features=True))
    assert out["TotalSF"].tolist() == [300.0, 350.0]
    assert out["TotalBath"].tolist() == [3.5, 1.5]
    assert out["HouseAge"].tolist() == [10, 58]


def test_lot_frontage_filled_by_neighbourhood_median():
    df = _frame(Neighborhood=["a", "a", "a", "b", "c"], LotFrontage=[10.0, 30.0, None, None, 50.0])
    pre = Preprocessor.fit(df, FeatureParams(lot_frontage_by_neighborhood=True))
    assert pre.lot_frontage_medians == {"a": 20.0, "c": 50.0}
    filled = pre._fill_lot_frontage(df.copy())
    assert filled["LotFrontage"].tolist() == [10.0, 30.0, 20.0, 30.0, 50.0]  # b has no median: global


@pytest.mark.parametrize("transform", ["log1p", "boxcox"])
def test_skewed_columns_are_unskewed(transform):
    from scipy.stats import skew

    rng = np.random.default_rng(0)
    df = _frame(Skewed=rng.lognormal(0, 1.5, 500), Normal=rng.normal(10, 1, 500))
    pre = Preprocessor.fit(df, FeatureParams(skew_transform=transform))
    assert pre.skewed == ["Skewed"]
    assert abs(skew(pre.transform(df)["Skewed"])) < abs(skew(df["Skewed"])) / 3


def test_drop_columns():
    df = _frame(Utilities=["AllPub", "AllPub"], A=[1.0, 2.0])
    assert "Utilities" not in engineer(df, FeatureParams(drop_columns=["Utilities"])).columns


def test_products_are_standardized_products_of_z_scores_same_for_any_frame():
    from pipeline.errors import ParamError

    train = _frame(A=[1.0, 2.0, 3.0, 4.0], B=[2.0, 0.0, 1.0, 5.0], C=["x", "y", "x", "y"])
    pre = Preprocessor.fit(train, FeatureParams(products=["A*A", "A*B"]))
    assert pre.columns[:4] == ["A", "B", "A*A", "A*B"]  # after the numbers, before the dummies
    out = pre.transform(train)
    z = (train[["A", "B"]] - train[["A", "B"]].mean()) / train[["A", "B"]].std()
    for name, raw in (("A*A", z["A"] ** 2), ("A*B", z["A"] * z["B"])):
        assert out[name].tolist() == pytest.approx(((raw - raw.mean()) / raw.std()).tolist(), abs=1e-6)
    # a test frame is made with the statistics fitted above, row by row the same
    assert pre.transform(train.iloc[[2, 0]]).to_numpy().tolist() == out.iloc[[2, 0]].to_numpy().tolist()
    assert Preprocessor.from_dict(pre.to_dict()).transform(train).equals(out)
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.features\.products.*'C'"):
        Preprocessor.fit(train, FeatureParams(products=["A*C"]))  # C is a category, not a number


@pytest.mark.parametrize("products", [["A"], ["A*B*C"], ["A*"], ["A*B", "A*B"]])
def test_bad_products_name_the_param(products):
    from pipeline.errors import ParamError
    from pipeline.params import build

    with pytest.raises(ParamError, match=r"competitions\.house-prices\.features\.products"):
        build(FeatureParams, {"products": products}, "competitions.house-prices.features")


def test_min_category_count_drops_rare_dummies_counted_on_the_stats_rows():
    from pipeline.errors import ParamError
    from pipeline.params import build

    train = _frame(Roof=["a"] * 5 + ["b"] * 2 + ["c"])
    test = _frame(Roof=["b", "c"])
    stats = pd.concat([train, test])  # test features count too (stats_from: train_and_test); never prices
    pre = Preprocessor.fit(stats, FeatureParams(min_category_count=3))
    assert pre.categories["Roof"] == ["a", "b"]  # b: 2 + 1 rows; c: 1 + 1 < 3
    out = pre.transform(test)
    assert list(out.columns) == ["Roof_a", "Roof_b", "Roof_nan"]
    assert out.loc[1].tolist() == [0, 0, 0]  # a dropped category is like an unseen one
    assert Preprocessor.fit(stats, FeatureParams()).categories["Roof"] == ["a", "b", "c"]
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.features\.min_category_count"):
        build(FeatureParams, {"min_category_count": -1}, "competitions.house-prices.features")


def test_neighborhood_context_compares_a_number_with_its_neighbourhood_median():
    from pipeline.errors import DataError, ParamError

    train = _frame(Neighborhood=["a", "a", "a", "b", "b"], Area=[100.0, 200.0, 400.0, 50.0, 70.0],
                   Street=["x", "y", "x", "y", "x"])
    stats = pd.concat([train, _frame(Neighborhood=["b"], Area=[80.0], Street=["x"])])  # + a test row's features
    pre = Preprocessor.fit(stats, FeatureParams(neighborhood_context=["Area"]))
    assert pre.neighborhood_medians == {"Area": {"a": 200.0, "b": 70.0}}  # b: 50, 70, 80
    assert pre.neighborhood_defaults == {"Area": 90.0}
    assert pre.numeric == ["Area", "Area_vs_Neighborhood", "Neighborhood_median_Area"]
    test = _frame(Neighborhood=["b", "new"], Area=[80.0, 100.0], Street=["x", "x"])
    raw = pre._add_neighborhood_context(engineer(test, pre.params))
    assert raw["Area_vs_Neighborhood"].tolist() == [10.0, 10.0]  # an unseen neighbourhood: overall median
    assert raw["Neighborhood_median_Area"].tolist() == [70.0, 90.0]
    out = pre.transform(test)
    assert list(out.columns) == pre.columns and not out.isna().any().any()
    assert out["Area_vs_Neighborhood"].tolist() == pytest.approx(
        ((raw["Area_vs_Neighborhood"] - pre.means["Area_vs_Neighborhood"]) / pre.stds["Area_vs_Neighborhood"]).tolist())
    assert Preprocessor.from_dict(pre.to_dict()).transform(test).equals(out)
    with pytest.raises(ParamError, match=r"competitions\.house-prices\.features\.neighborhood_context.*'Street'"):
        Preprocessor.fit(stats, FeatureParams(neighborhood_context=["Street"]))
    with pytest.raises(DataError, match=r"competitions\.house-prices\.features\.neighborhood_context.*Neighborhood"):
        Preprocessor.fit(stats.drop(columns="Neighborhood"), FeatureParams(neighborhood_context=["Area"]))  # data's fault


def test_neighborhood_context_follows_the_skew_transform():
    """Skewed areas are compared after their Box-Cox / log transform (a ratio, not a difference in sq ft)."""
    rng = np.random.default_rng(0)
    n = 300
    frame = _frame(Neighborhood=rng.choice(["a", "b"], n), Area=rng.lognormal(7, 0.8, n))
    pre = Preprocessor.fit(frame, FeatureParams(skew_transform="log1p", neighborhood_context=["Area"]))
    assert pre.skewed == ["Area"]  # the context columns are made after the transform, never re-skewed
    a = np.log1p(frame.loc[frame.Neighborhood == "a", "Area"]).median()
    assert pre.neighborhood_medians["Area"]["a"] == pytest.approx(a)
