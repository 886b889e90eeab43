"""A plain one-script House Prices baseline: Lasso + gradient boosting, as public kernels do.

The yardstick of issue #10: the project's pipeline (download -> submission through DVC, with
MLflow tracking) should take no more than 0.85x the time of this script, which does the
bare minimum with the same data: log1p target, the two partial-sale outliers dropped,
missing values filled, skewed numbers log1p-ed, one-hot categories, then 5-fold CV of
`make_pipeline(RobustScaler(), Lasso(0.0005))` and `GradientBoostingRegressor(3000 trees,
lr 0.05)` (the popular "stacked regressions" kernel's settings), a fit on all rows and a
0.5/0.5 averaged prediction of the test set. No tracking, no caching, no files but one CSV.

    python benchmarks/house_baseline.py [DATA_DIR] [OUT_CSV]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import Lasso
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import RobustScaler

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def features(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    both = pd.concat([train, test]).drop(columns=["Id", "SalePrice"], errors="ignore")
    both["MSSubClass"] = both["MSSubClass"].astype(str)
    numeric = both.select_dtypes(include="number").columns
    both[numeric] = both[numeric].fillna(both[numeric].median())
    skewed = [c for c in numeric if abs(both[c].skew()) > 0.75]
    both[skewed] = np.log1p(both[skewed].clip(lower=0))
    both = pd.get_dummies(both.fillna("None"), dtype=float)
    return both.iloc[:len(train)].to_numpy(), both.iloc[len(train):].to_numpy()


def main(data: Path = SHARED, out: Path | None = None) -> None:
    start = time.perf_counter()
    train = pd.read_csv(data / "kaggle_house_pred_train.csv")
    test = pd.read_csv(data / "kaggle_house_pred_test.csv")
    train = train[~((train["GrLivArea"] > 4000) & (train["SalePrice"] < 300000))].reset_index(drop=True)
    X, X_test = features(train, test)
    y = np.log1p(train["SalePrice"].to_numpy())
    models = {"lasso": make_pipeline(RobustScaler(), Lasso(alpha=0.0005, random_state=1, max_iter=50000)),
              "gradient_boosting": GradientBoostingRegressor(
                  n_estimators=3000, learning_rate=0.05, max_depth=4, max_features="sqrt", min_samples_leaf=15,
                  min_samples_split=10, loss="huber", random_state=5)}
    folds = KFold(5, shuffle=True, random_state=42)
    oof = {name: cross_val_predict(model, X, y, cv=folds) for name, model in models.items()}
    for name, pred in oof.items():
        print(f"{name:<18} 5-fold out-of-fold log-RMSE {np.sqrt(np.mean((pred - y) ** 2)):.4f}")
    blend = (oof["lasso"] + oof["gradient_boosting"]) / 2
    print(f"{'average':<18} 5-fold out-of-fold log-RMSE {np.sqrt(np.mean((blend - y) ** 2)):.4f} "
          f"({len(y)} rows, outliers dropped)")
    predicted = np.mean([np.expm1(m.fit(X, y).predict(X_test)) for m in models.values()], axis=0)
    if out is not None:
        pd.DataFrame({"Id": test["Id"], "SalePrice": predicted}).to_csv(out, index=False)
    print(f"baseline: {time.perf_counter() - start:.1f} s wall in-process")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED, Path(sys.argv[2]) if len(sys.argv) > 2 else None)
