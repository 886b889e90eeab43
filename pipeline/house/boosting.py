"""Gradient-boosted trees by LightGBM: the tree model that earns its seconds in the blend.

scikit-learn's GradientBoostingRegressor needs ~27 s CPU for 5 folds + the final fit at
800 trees; LightGBM's histogram trees reach the same or better out-of-fold score in a few
seconds, which keeps the default pipeline inside its one-minute budget. Trees also
extrapolate flat, so they over-price the two partial-sale outliers far less than the linear
models: they pull the all-rows score down in the blend.

With `linear_tree`, every leaf holds a ridge line in the features its branch split on instead of
a constant (LightGBM's linear trees): price rises with size inside a leaf rather than by steps,
which beats constant leaves by ~0.003 out of fold here (docs/house.md). Lines extrapolate, so
`clip` clips the features to the training rows' range before predicting, as spline_net and svr do.

`lightgbm` is imported inside the methods, so importing the model registry stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _every(values: list[float], step: int) -> list[float]:
    """Every `step`-th value of a per-tree curve, always ending with the last tree."""
    last = len(values) - 1
    return [values[i] for i in range(len(values)) if (i + 1) % step == 0 or i == last]


class LightGBM:
    """`type: lightgbm`: LightGBM regression trees on the feature table.

    Curves: the log-RMSE of each curve set after every `curve_every` trees, computed by
    LightGBM's incremental scores (no extra prediction passes).
    """

    def __init__(self, params, n_features: int, seed: int):
        self.params, self.n_features, self.seed = params, n_features, seed
        self.booster = None
        self.low = self.high = None  # training range of each feature (clip)

    def _options(self) -> dict[str, Any]:
        p = self.params
        return {"objective": p.objective, "learning_rate": p.learning_rate, "num_leaves": p.num_leaves,
                "max_depth": p.max_depth, "min_data_in_leaf": p.min_child_samples,
                "bagging_fraction": p.subsample, "bagging_freq": 1 if p.subsample < 1 else 0,
                "feature_fraction": p.colsample_bytree, "lambda_l1": p.reg_alpha, "lambda_l2": p.reg_lambda,
                "max_bin": p.max_bin, "alpha": p.huber_delta, "min_data_in_bin": p.min_data_in_bin, "num_threads": p.threads,
                "seed": self.seed, "deterministic": True, "force_col_wise": True, "verbosity": -1,
                "metric": "None", "feature_pre_filter": False,
                **({"linear_tree": True, "linear_lambda": p.linear_lambda} if p.linear_tree else {})}

    def fit(self, X: np.ndarray, y: np.ndarray, curves=None, score=None, progress: bool = False
            ) -> dict[str, list[float]]:
        import lightgbm as lgb

        self.low, self.high = np.min(X, axis=0), np.max(X, axis=0)
        train = lgb.Dataset(np.asarray(X, np.float64), np.asarray(y, np.float64), free_raw_data=False)
        sets, names = [], []
        if curves and score:
            for name, (xx, yy) in curves.items():
                same = xx.shape == X.shape and np.array_equal(xx, X)
                sets.append(train if same else lgb.Dataset(np.asarray(xx, np.float64), np.asarray(yy, np.float64),
                                                              reference=train))
                names.append(name)

        def log_rmse(preds, data):
            return "log_rmse", score(data.get_label(), preds), False

        record: dict[str, dict[str, list[float]]] = {}
        self.booster = lgb.train(self._options(), train, num_boost_round=self.params.n_estimators,
                                 valid_sets=sets or None, valid_names=names or None,
                                 feval=log_rmse if sets else None,
                                 callbacks=[lgb.record_evaluation(record)] if sets else None)
        if not names:
            return {}
        trees = [float(n) for n in range(1, self.params.n_estimators + 1)]
        return {"step": _every(trees, self.params.curve_every),  # x = number of trees, as gradient boosting
                **{f"{name}_log_rmse": _every(list(record[name]["log_rmse"]), self.params.curve_every)
                   for name in names}}

    def predict(self, X: np.ndarray) -> np.ndarray:
        x = np.asarray(X, np.float64)
        if self.params.clip:
            x = np.clip(x, self.low, self.high)
        return np.asarray(self.booster.predict(x), dtype=np.float64)

    def state(self) -> dict[str, Any]:
        # the booster as plain text: no pickled LightGBM objects
        return {"model": self.booster.model_to_string(), "low": self.low, "high": self.high}

    def load_state(self, state: dict[str, Any]) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_str=state["model"])
        self.low, self.high = state.get("low"), state.get("high")
