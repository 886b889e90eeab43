"""House Prices' features module: the Ames-specific engineering on top of the course's recipe.

Named by `competitions.house-prices.features.module: house_prices`. It knows what only this
data set needs: NA that means "none" (no pool, no garage), the Ex..Po quality scale, lot
frontage by neighbourhood, neighbourhood context, and the partial-sale outliers.

`Preprocessor.fit` learns every statistic (means, stds, skewed columns, categories,
neighbourhood medians) from the rows `stats_from` names, and `transform` applies them to any
frame, so the fitted state saved beside the model makes prediction repeat the training
features exactly: same columns, same order, unseen test categories map to all-zero dummies.
Prices never enter the statistics.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipeline.errors import DataError, MissingColumns, ParamError
from pipeline.files import write_json
from pipeline.params import require
from pipeline.tabular import numbers

ID, TARGET = "Id", "SalePrice"  # dropped if present: features never include the id or the price
WHERE = "competitions.house-prices.features"  # these params' place in params.yaml, for errors

QUALITY_SCALE = {"Ex": 5, "Gd": 4, "TA": 3, "Fa": 2, "Po": 1}
# Columns graded on the Ex..Po scale in data_description.txt; NA there means "no such thing".
QUALITY_COLUMNS = ("ExterQual", "ExterCond", "BsmtQual", "BsmtCond", "HeatingQC", "KitchenQual",
                   "FireplaceQu", "GarageQual", "GarageCond", "PoolQC")
# Columns whose NA the data description defines as "none" (no pool, alley, fence, ...).
NONE_CATEGORICAL = ("PoolQC", "MiscFeature", "Alley", "Fence", "FireplaceQu", "GarageType", "GarageFinish",
                    "GarageQual", "GarageCond", "BsmtQual", "BsmtCond", "BsmtExposure", "BsmtFinType1",
                    "BsmtFinType2", "MasVnrType")
NONE_NUMERIC = ("GarageArea", "GarageCars", "BsmtFinSF1", "BsmtFinSF2", "BsmtUnfSF", "TotalBsmtSF",
                "BsmtFullBath", "BsmtHalfBath", "MasVnrArea")
# Numbers that are really labels: a class code, a month, a year of sale.
CODED_AS_NUMBERS = ("MSSubClass", "MoSold", "YrSold")


@dataclass
class OutlierParams:
    """The data set's partial sales: huge houses sold cheaply, flagged as outliers
    (`competitions.house-prices.drop_outliers` leaves them out of every fit)."""

    living_area_above: float = 4000
    price_below: float = 300000


@dataclass
class FeatureParams:
    """`competitions.house-prices.features`: which statistics and which engineering steps to use."""

    stats_from: Literal["train_and_test", "train"] = "train_and_test"  # rows the statistics come from (never prices)
    na_means_none: bool = False
    lot_frontage_by_neighborhood: bool = False
    ordinal_quality: bool = False
    categorical_codes: bool = False  # MSSubClass, MoSold, YrSold as categories
    combined_features: bool = False  # TotalSF, TotalBath, TotalPorchSF, HouseAge, RemodAge
    skew_transform: Literal["none", "log1p", "boxcox"] = "none"
    skew_threshold: float = 0.75
    boxcox_lambda: float = 0.15
    drop_columns: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)  # "A*B" (or "A*A"): products of z-scored numbers
    min_category_count: int = 0  # one-hot columns of categories in fewer stats rows are not made
    # numbers compared to their neighbourhood: per column, value minus the neighbourhood's median
    # and that median itself (medians over the stats rows' features; never prices)
    neighborhood_context: list[str] = field(default_factory=list)
    outliers: OutlierParams = field(default_factory=OutlierParams)

    def validate(self, where: str) -> None:
        require(self.skew_threshold >= 0, f"{where}.skew_threshold", f"must be >= 0, got {self.skew_threshold}")
        require(0 <= self.boxcox_lambda <= 1, f"{where}.boxcox_lambda", f"must be in [0, 1], got {self.boxcox_lambda}")
        require(self.min_category_count >= 0, f"{where}.min_category_count",
                f"must be >= 0, got {self.min_category_count}")
        for item in self.products:
            parts = item.split("*")
            require(len(parts) == 2 and all(part.strip() for part in parts), f"{where}.products",
                    f"entries are 'A*B' (two numeric columns), got {item!r}")
        require(len(set(self.products)) == len(self.products), f"{where}.products",
                f"has duplicates: {self.products}")
        require(len(set(self.neighborhood_context)) == len(self.neighborhood_context),
                f"{where}.neighborhood_context", f"has duplicates: {self.neighborhood_context}")


def engineer(frame: pd.DataFrame, p: FeatureParams) -> pd.DataFrame:
    """Domain steps that need no fitted statistics (each switchable in params). An infinity reads as
    missing, as in every features module (numbers.py)."""
    df = numbers.finite_columns(frame.drop(columns=[c for c in (ID, TARGET) if c in frame.columns])).copy()
    if p.na_means_none:
        for col in (c for c in NONE_CATEGORICAL if c in df):
            df[col] = df[col].fillna("None")
        for col in (c for c in NONE_NUMERIC if c in df):
            df[col] = df[col].fillna(0)
        if {"GarageYrBlt", "YearBuilt"} <= set(df):
            df["GarageYrBlt"] = df["GarageYrBlt"].fillna(df["YearBuilt"])
    if p.combined_features:
        zero = lambda col: df[col].fillna(0) if col in df else 0  # noqa: E731
        df["TotalSF"] = zero("TotalBsmtSF") + zero("1stFlrSF") + zero("2ndFlrSF")
        df["TotalBath"] = (zero("FullBath") + 0.5 * zero("HalfBath")
                           + zero("BsmtFullBath") + 0.5 * zero("BsmtHalfBath"))
        df["TotalPorchSF"] = (zero("OpenPorchSF") + zero("EnclosedPorch") + zero("3SsnPorch")
                              + zero("ScreenPorch") + zero("WoodDeckSF"))
        df["HouseAge"] = zero("YrSold") - zero("YearBuilt")
        df["RemodAge"] = zero("YrSold") - zero("YearRemodAdd")
    if p.ordinal_quality:
        for col in (c for c in QUALITY_COLUMNS if c in df):
            df[col] = df[col].map(QUALITY_SCALE).astype(float).fillna(0.0)
    if p.categorical_codes:
        for col in (c for c in CODED_AS_NUMBERS if c in df):
            df[col] = df[col].map(lambda v: str(int(v)), na_action="ignore")  # 60.0 -> "60"; NaN stays NaN
    return numbers.finite_columns(df.drop(columns=[c for c in p.drop_columns if c in df]))  # sums past 1.8e308


def _context_names(col: str) -> tuple[str, str]:
    """The columns `neighborhood_context` makes of `col`: relative to the neighbourhood, and its median."""
    return f"{col}_vs_Neighborhood", f"Neighborhood_median_{col}"


def _require_columns(raw: pd.DataFrame, columns: list[str], param: str) -> None:
    """A column the params name that the rows lack (raw, or made by the engineering steps) is the
    data's fault, not the param's: the preprocess stage names the file that lacks it."""
    missing = [c for c in dict.fromkeys(columns) if c not in raw]
    if missing:
        raise MissingColumns(f"params.yaml: '{param}' names column(s) {', '.join(map(repr, missing))}, which the "
                             f"rows lack", missing, param)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


@dataclass
class Preprocessor:
    """Fitted feature state: everything `transform` needs, serialisable to JSON."""

    params: FeatureParams
    numeric: list[str] = field(default_factory=list)
    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)
    skewed: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    lot_frontage_medians: dict[str, float] = field(default_factory=dict)
    lot_frontage_default: float = 0.0
    # column -> {neighbourhood: median of the (unskewed) column}, and the column's overall median
    neighborhood_medians: dict[str, dict[str, float]] = field(default_factory=dict)
    neighborhood_defaults: dict[str, float] = field(default_factory=dict)
    product_means: dict[str, float] = field(default_factory=dict)
    product_stds: dict[str, float] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # nothing is left out silently here: the params drop

    @classmethod
    def fit(cls, stats_rows: pd.DataFrame, params: FeatureParams) -> "Preprocessor":
        if stats_rows.empty:
            raise DataError("no rows to fit the feature statistics on")
        state = cls(params)
        raw = engineer(stats_rows, params)
        if params.lot_frontage_by_neighborhood and {"LotFrontage", "Neighborhood"} <= set(raw):
            medians = raw.groupby("Neighborhood")["LotFrontage"].median().dropna()
            state.lot_frontage_medians = {str(k): float(v) for k, v in medians.items()}
            state.lot_frontage_default = float(raw["LotFrontage"].median()) if raw["LotFrontage"].notna().any() else 0.0
            raw = state._fill_lot_frontage(raw)
        state.numeric = [c for c in raw.columns if _is_numeric(raw[c])]
        state.notes += filter(None, (numbers.huge_note(col, raw[col]) for col in state.numeric))
        if params.skew_transform != "none":
            for col in state.numeric:
                values = raw[col].dropna()
                if len(values) > 2 and values.min() >= 0 and numbers.mean_std(values)[1] > 0 \
                        and abs(numbers.skewness(values.to_numpy(float))) > params.skew_threshold:
                    state.skewed.append(col)
            raw = state._unskew(raw)
        if params.neighborhood_context:
            if "Neighborhood" not in raw:
                raise MissingColumns("params.yaml: 'competitions.house-prices.features.neighborhood_context' needs a "
                                     "Neighborhood column", ["Neighborhood"], f"{WHERE}.neighborhood_context")
            _require_columns(raw, params.neighborhood_context, f"{WHERE}.neighborhood_context")
            for col in params.neighborhood_context:
                if col not in state.numeric:
                    raise ParamError(f"params.yaml: 'competitions.house-prices.features.neighborhood_context' names {col!r}, not a "
                                     f"numeric column (numeric: {', '.join(state.numeric)})")
                values = pd.to_numeric(raw[col], errors="coerce").astype(float)
                medians = values.groupby(raw["Neighborhood"]).median().dropna()
                state.neighborhood_medians[col] = {str(k): float(v) for k, v in medians.items()}
                state.neighborhood_defaults[col] = float(values.median()) if values.notna().any() else 0.0
            raw = state._add_neighborhood_context(raw)
            state.numeric += [name for col in params.neighborhood_context for name in _context_names(col)]
        for col in state.numeric:
            mean, std = numbers.mean_std(raw[col])
            state.means[col] = 0.0 if pd.isna(mean) else float(mean)
            # A constant (or all-missing) column has std 0 or NaN: divide by 1, never make NaN.
            state.stds[col] = float(std) if pd.notna(std) and std > 0 else 1.0
        for item in params.products:
            a, b = (part.strip() for part in item.split("*"))
            _require_columns(raw, [a, b], f"{WHERE}.products")
            for col in (a, b):
                if col not in state.numeric:
                    raise ParamError(f"params.yaml: 'competitions.house-prices.features.products' entry {item!r}: {col!r} is not a "
                                     f"numeric column (numeric: {', '.join(state.numeric)})")
            product = state._z(raw, a) * state._z(raw, b)
            mean, std = float(product.mean()), float(product.std(ddof=1))  # as the numbers (pandas)
            state.product_means[item], state.product_stds[item] = mean, std if std > 0 else 1.0
        for col in raw.columns:
            if col not in state.numeric:
                values = raw[col].dropna().astype(str)
                counts = values.value_counts()
                state.categories[col] = sorted(c for c, n in counts.items() if n >= params.min_category_count)
        state.columns = state.numeric + list(state.product_means) + [
            name for col, cats in state.categories.items() for name in [f"{col}_{c}" for c in cats] + [f"{col}_nan"]]
        return state

    def _z(self, df: pd.DataFrame, col: str) -> np.ndarray:
        """Column `col` of an unskewed frame, z-scored with the fitted statistics; missing -> 0."""
        values = numbers.finite(pd.to_numeric(df[col], errors="coerce").astype(float))
        return numbers.standardized(values, self.means[col], self.stds[col]).fillna(0.0).to_numpy()

    def _fill_lot_frontage(self, df: pd.DataFrame) -> pd.DataFrame:
        if "LotFrontage" in df and "Neighborhood" in df:
            fill = df["Neighborhood"].map(self.lot_frontage_medians).astype(float).fillna(self.lot_frontage_default)
            df["LotFrontage"] = df["LotFrontage"].fillna(fill)
        return df

    def _add_neighborhood_context(self, df: pd.DataFrame) -> pd.DataFrame:
        """`col` minus its neighbourhood's median, and that median (an unknown neighbourhood, or
        one without values, gets the column's overall median)."""
        for col, medians in self.neighborhood_medians.items():
            relative, median = _context_names(col)
            typical = df["Neighborhood"].map(medians).astype(float).fillna(self.neighborhood_defaults[col])
            df[relative] = pd.to_numeric(df[col], errors="coerce").astype(float) - typical
            df[median] = typical
        return df

    def _unskew(self, df: pd.DataFrame) -> pd.DataFrame:
        if not self.skewed:
            return df
        from scipy.special import boxcox1p  # here: importing scipy.special costs every house stage ~0.3 s

        for col in self.skewed:
            values = df[col].astype(float).clip(lower=0)
            df[col] = np.log1p(values) if self.params.skew_transform == "log1p" \
                else boxcox1p(values, self.params.boxcox_lambda)
        return df

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Features for `frame` in exactly `self.columns` order (float32)."""
        df = engineer(frame, self.params)
        if self.params.lot_frontage_by_neighborhood:
            df = self._fill_lot_frontage(df)
        df = self._unskew(df)
        if self.neighborhood_medians:
            if "Neighborhood" not in df:
                raise DataError("missing column 'Neighborhood' that the preprocessor was fitted with")
            df = self._add_neighborhood_context(df)
        out: dict[str, np.ndarray] = {}
        n = len(df)
        for col in self.numeric:
            if col not in df:
                raise DataError(f"missing numeric column {col!r} that the preprocessor was fitted with")
            out[col] = self._z(df, col)
        for item, mean in self.product_means.items():
            a, b = (part.strip() for part in item.split("*"))
            with np.errstate(over="ignore", invalid="ignore"):  # huge z-scores: inf, refused by Prepared.save
                out[item] = (out[a] * out[b] - mean) / self.product_stds[item]
        for col, cats in self.categories.items():
            if col not in df:
                raise DataError(f"missing categorical column {col!r} that the preprocessor was fitted with")
            values = df[col].astype("str").where(df[col].notna(), None)
            for cat in cats:
                out[f"{col}_{cat}"] = (values == cat).to_numpy(dtype=float)
            out[f"{col}_nan"] = df[col].isna().to_numpy(dtype=float)
        result = pd.DataFrame(out, index=frame.index) if n else pd.DataFrame(columns=self.columns)
        with np.errstate(over="ignore"):  # past float32's range: inf, which Prepared.save refuses naming the column
            return result[self.columns].astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "Preprocessor":
        state = dict(state)
        params = dict(state["params"])
        params["outliers"] = OutlierParams(**params.get("outliers", {}))
        state["params"] = FeatureParams(**params)
        return cls(**state)

    def save(self, path: Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> "Preprocessor":
        return cls.from_dict(json.loads(Path(path).read_text()))


Params = FeatureParams  # the features-module interface (pipeline/competitions/__init__.py)


def outliers(train: pd.DataFrame, target: pd.Series, params: FeatureParams) -> np.ndarray:
    """The partial sales: living area above `outliers.living_area_above` sold under `outliers.price_below`."""
    if "GrLivArea" not in train:
        return np.zeros(len(train), bool)
    rule = params.outliers
    return ((train["GrLivArea"] > rule.living_area_above) & (target < rule.price_below)).to_numpy()
