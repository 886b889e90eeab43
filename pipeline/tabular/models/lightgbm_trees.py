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

A classification task trains LightGBM's `binary` (P(class 1)) or `multiclass` (K probabilities)
objective; the `objective` param picks among regression losses, so it is ignored there.

`lightgbm` is imported inside the methods, so importing the model registry stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.params import require
from pipeline.tabular.tasks import REGRESSION, Task
from pipeline.tabular.tasks import TASKS as ALL_TASKS

from . import ClipsToTrainingRange, class_probabilities, class_targets, curve_key


@dataclass
class LightGBMParams:
    """LightGBM boosted trees; names as LightGBM's scikit-learn API."""

    type: Literal["lightgbm"]
    n_estimators: int = 1000
    learning_rate: float = 0.03
    num_leaves: int = 8
    max_depth: int = -1  # -1: no limit (num_leaves bounds the tree)
    min_child_samples: int = 10
    subsample: float = 0.8  # rows per tree (bagging every tree when < 1)
    colsample_bytree: float = 0.3  # features per tree
    reg_alpha: float = 0.0
    reg_lambda: float = 0.0
    max_bin: int = 255
    min_data_in_bin: int = 3
    objective: Literal["regression", "huber", "regression_l1", "fair"] = "regression"  # regression tasks only
    huber_delta: float = 0.9  # huber: residuals (in target units) beyond this count linearly
    linear_tree: bool = False  # a ridge line in every leaf instead of a constant (LightGBM's linear_tree)
    linear_lambda: float = 0.0  # linear_tree: L2 penalty of the leaves' lines
    clip: bool = False  # clip features to the training range before predicting (no linear extrapolation)
    threads: int = 1  # 2-core shared machine: more threads spin, not speed up
    curve_every: int = 10  # log the curves every this many trees

    def validate(self, where: str) -> None:
        require(self.n_estimators >= 1, f"{where}.n_estimators", f"must be >= 1, got {self.n_estimators}")
        require(self.learning_rate > 0, f"{where}.learning_rate", f"must be > 0, got {self.learning_rate}")
        require(self.num_leaves >= 2, f"{where}.num_leaves", f"must be >= 2, got {self.num_leaves}")
        require(self.max_depth == -1 or self.max_depth >= 1, f"{where}.max_depth",
                f"must be -1 (no limit) or >= 1, got {self.max_depth}")
        require(self.min_child_samples >= 1, f"{where}.min_child_samples",
                f"must be >= 1, got {self.min_child_samples}")
        require(0 < self.subsample <= 1, f"{where}.subsample", f"must be in (0, 1], got {self.subsample}")
        require(0 < self.colsample_bytree <= 1, f"{where}.colsample_bytree",
                f"must be in (0, 1], got {self.colsample_bytree}")
        require(self.reg_alpha >= 0, f"{where}.reg_alpha", f"must be >= 0, got {self.reg_alpha}")
        require(self.reg_lambda >= 0, f"{where}.reg_lambda", f"must be >= 0, got {self.reg_lambda}")
        require(self.max_bin >= 2, f"{where}.max_bin", f"must be >= 2, got {self.max_bin}")
        require(self.min_data_in_bin >= 1, f"{where}.min_data_in_bin", f"must be >= 1, got {self.min_data_in_bin}")
        require(self.huber_delta > 0, f"{where}.huber_delta", f"must be > 0, got {self.huber_delta}")
        require(self.linear_lambda >= 0, f"{where}.linear_lambda", f"must be >= 0, got {self.linear_lambda}")
        require(self.threads >= 1, f"{where}.threads", f"must be >= 1, got {self.threads}")
        require(self.curve_every >= 1, f"{where}.curve_every", f"must be >= 1, got {self.curve_every}")


class LightGBM(ClipsToTrainingRange):
    """`type: lightgbm`: LightGBM trees on the feature table, for any task.

    For a classification task the objective is `binary` or `multiclass` (with `num_class`),
    whatever the regression `objective` param says (`huber_delta` likewise has no effect).

    Curves: the competition's score of each curve set after every `curve_every` trees, computed
    by LightGBM's incremental scores (no extra prediction passes).
    """

    Params = LightGBMParams
    TASKS = ALL_TASKS

    def __init__(self, params, n_features: int, seed: int, task: Task = REGRESSION):
        self.params, self.n_features, self.seed, self.task = params, n_features, seed, task
        self.booster = None

    def _options(self) -> dict[str, Any]:
        p = self.params
        return {"objective": p.objective, "learning_rate": p.learning_rate, "num_leaves": p.num_leaves,
                "max_depth": p.max_depth, "min_data_in_leaf": p.min_child_samples,
                "bagging_fraction": p.subsample, "bagging_freq": 1 if p.subsample < 1 else 0,
                "feature_fraction": p.colsample_bytree, "lambda_l1": p.reg_alpha, "lambda_l2": p.reg_lambda,
                "max_bin": p.max_bin, "alpha": p.huber_delta, "min_data_in_bin": p.min_data_in_bin, "num_threads": p.threads,
                "seed": self.seed, "deterministic": True, "force_col_wise": True, "verbosity": -1,
                "metric": "None", "feature_pre_filter": False,
                **({"linear_tree": True, "linear_lambda": p.linear_lambda} if p.linear_tree else {}),
                **self._task_options()}

    def _task_options(self) -> dict[str, Any]:
        """The objective of a classification task, over the regression one (nothing for regression)."""
        if self.task.kind == "multiclass":
            return {"objective": "multiclass", "num_class": self.task.n_classes}
        return {"objective": "binary"} if self.task.kind == "binary" else {}

    def fit(self, X: np.ndarray, y: np.ndarray, curves=None, score=None, progress: bool = False
            ) -> dict[str, list[float]]:
        import lightgbm as lgb

        self._remember_range(X)
        if self.task.is_classification:
            y = class_targets(y, self.task)
        train = lgb.Dataset(np.asarray(X, np.float64), np.asarray(y, np.float64), free_raw_data=False)
        options, n_trees, every = self._options(), self.params.n_estimators, self.params.curve_every
        names = list(curves) if curves and score else []  # the curve sets, in the caller's order
        on_train, others = [], {}  # those that are the training rows, and the rest
        for name in names:
            xx, yy = curves[name]
            if xx.shape == X.shape and np.array_equal(xx, X):
                on_train.append(name)
            else:
                others[name] = lgb.Dataset(np.asarray(xx, np.float64), np.asarray(yy, np.float64),
                                           reference=train, params=options)

        metric = getattr(score, "name", "log_rmse")

        def evaluate(preds, data):  # preds: what predict gives, (n, K) for multiclass
            return metric, score(data.get_label(), preds), False

        keys = {name: curve_key(name, score) for name in names}
        history: dict[str, list[float]] = {"step": [], **{key: [] for key in keys.values()}}

        # Given valid_sets, lgb.train evaluates every set after every tree (a third of the time
        # with linear leaves); the curves keep one point in `curve_every`. So the sets are added
        # to the booster before the first tree (LightGBM then keeps their scores up to date in
        # C++) and evaluated only at the recorded trees.
        def attach(env) -> None:
            if env.iteration == env.begin_iteration:
                for name, data in others.items():
                    env.model.add_valid(data, name)

        attach.before_iteration, attach.order = True, 0

        def record(env) -> None:
            done = env.iteration + 1
            if done % every and done != n_trees:
                return
            history["step"].append(float(done))  # x = number of trees, as gradient boosting
            value = {"training": env.model.eval_train(evaluate)[0][2]} if on_train else {}
            value.update((result[0], result[2]) for result in (env.model.eval_valid(evaluate) if others else []))
            for name in names:
                history[keys[name]].append(float(value["training" if name in on_train else name]))

        record.order = 30
        self.booster = lgb.train(options, train, num_boost_round=n_trees,
                                 callbacks=[attach, record] if names else None)
        return history if names else {}

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = np.asarray(self.booster.predict(self._clipped(np.asarray(X, np.float64))), dtype=np.float64)
        return class_probabilities(out, self.task) if self.task.is_classification else out

    def state(self) -> dict[str, Any]:
        # the booster as plain text: no pickled LightGBM objects
        return {"model": self.booster.model_to_string(), **self._range_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_str=state["model"])
        self._load_range(state)
