"""House Prices trials: one model's k-fold CV score, by the pipeline's own code on the same folds.

The space comes from `tune.house.<model>` and is applied to the raw `house.models.<model>`
mapping before `model_params` validates it, so a model type added later is searchable with
no change here. Folds are `fold_ids(n, house.cv)` as in the cv stage, and fold k's model gets
seed `house.seed + k` as there, so a trial with the shipped params scores exactly what
`house cv MODEL` reports. Folds run one at a time so the pruner can stop a bad trial early:
the running mean of the fold scores is reported after each fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline import tracking
from pipeline.errors import ParamError

from . import space as space_mod

PIPELINE = "house-prices"
METRIC = "valid_log_rmse_mean"  # the cv stage's mean fold score over all rows; the default objective
# What a study may minimise (`tune.metric` / `--metric`), both as the cv stage reports them:
# the mean of the fold log-RMSEs over all rows, or the out-of-fold log-RMSE of the rows not
# flagged as outliers (the headline score: two partial sales would otherwise weigh as much as
# ~200 ordinary houses in their folds' scores, and the sweep would tune for them).
METRICS = (METRIC, "oof_log_rmse_without_outliers", "blend_oof_log_rmse_without_outliers")
# The third scores what the trial's model does for the shipped blend: its out-of-fold predictions
# take its place among `house.blend.models` (or join them), the other members' come from their
# current params on the same folds, and the blend is scored out of fold as the blend stage does
# (weights for fold k fitted without fold k), without the outliers. A model tuned alone leans
# toward what its partners already know; tuned for the blend, it adds what they miss.
BLEND_METRIC = METRICS[2]


@dataclass
class HouseTarget:
    """What a house study searches: the model, its current values, its validated space."""

    model: str
    base: dict[str, Any]
    params: list[space_mod.Param]

    @property
    def target(self) -> str:
        return f"house.models.{self.model}"

    def baseline(self) -> dict[str, Any]:
        """The current values of the searched params that lie inside their ranges (trial 0's params)."""
        current = {p.name: space_mod.get_path(self.base, p.path) for p in self.params}
        return {name: value for (name, value), p in zip(current.items(), self.params)
                if value is not None and space_mod.contains(p.distribution, value)}


def load_target(model: str, spaces: dict[str, Any], params_file=None) -> HouseTarget:
    """The model's entry and its declared space, validated (bad ranges fail naming the tune param)."""
    from pipeline.tabular.config import load_house
    from pipeline.tabular.models import model_params

    house = load_house(params_file) if params_file else load_house()
    house.model(model)  # unknown model: ParamError listing the defined ones
    if model not in spaces:
        raise ParamError(f"params.yaml: no search space 'tune.house.{model}'; declared for: "
                         f"{', '.join(sorted(spaces)) or 'no model'}")
    base = dict(house.models[model])
    where = f"house.models.{model}"
    found = space_mod.parse(spaces[model], f"tune.house.{model}", where, base,
                            check=lambda values: model_params(values, where))
    return HouseTarget(model, base, found)


class Objective:
    """Callable for `study.optimize`: one nested MLflow run per trial, tagged with study and trial."""

    metric = METRIC  # what __call__ returns (one of METRICS)

    def __init__(self, target: HouseTarget, study_name: str, params_file=None, folds: int | None = None,
                 metric: str = METRIC):
        from pipeline.tabular import paths
        from pipeline.tabular.config import load_house
        from pipeline.tabular.evaluation import fold_ids
        from pipeline.tabular.prepared import Prepared

        self.house = load_house(params_file) if params_file else load_house()
        if folds is not None:  # an explicit, logged override; the default is house.cv as configured
            if folds < 2:
                raise ParamError(f"--folds must be >= 2, got {folds}")
            self.house.cv.folds = folds
        if metric not in METRICS:
            raise ParamError(f"tune metric must be one of {', '.join(METRICS)}, got {metric!r}")
        self.target, self.study_name, self.metric = target, study_name, metric
        self.prepared = Prepared.load(paths.PROCESSED)
        self.X, self.y = self.prepared.X(), self.prepared.y()
        self.folds = fold_ids(len(self.y), self.house.cv)
        outliers = self.prepared.outliers()
        self.fit_mask = ~outliers if self.house.outliers.drop_from_training else np.ones(len(outliers), bool)
        self.partners = self._partner_predictions() if metric == BLEND_METRIC else []

    def _partner_predictions(self) -> list[np.ndarray]:
        """Out-of-fold predictions of the blend's other models, on the study's folds (once per worker)."""
        from pipeline.tabular.train import cross_validate

        house = self.house
        return [cross_validate(house.model(name), self.X, self.y, self.folds, self.fit_mask,
                               self.prepared.log_target, house.seed, curves=False, progress=False).oof
                for name in house.blend.models if name != self.target.model]

    def __call__(self, trial) -> float:
        import optuna

        from pipeline.tabular.models import model_params, to_dict, uses_torch
        from pipeline.stage import Stage

        house, model = self.house, self.target.model
        values = space_mod.suggest(trial, self.target.params, self.target.base)
        params = model_params(values, self.target.target)
        # the same set-up as the cv stage's: seeds, thread caps, device (a trial is a cv run)
        harness = Stage(PIPELINE, f"trial:{trial.number}", seed=house.seed, cpu_threads=house.cpu_threads,
                        where="house", device=getattr(params, "device", "cpu"), uses_torch=uses_torch(params))
        tags = {"stage": "tune", "study": self.study_name, "trial": trial.number, "model": model,
                "dataset": PIPELINE}
        run_params = {"seed": house.seed, "cv": house.cv, "model": {"name": model, **to_dict(params)}}
        pruned = None
        with harness.tracked(params=run_params, tags=tags, nested=True) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            try:
                scores, oof = self._folds(trial, params)
            except optuna.TrialPruned as exc:  # raised after the run ends: a pruned run FINISHED, not FAILED
                _tag_state("pruned")
                pruned = exc
            else:
                metrics = {METRIC: float(np.mean(scores)), "valid_log_rmse_std": float(np.std(scores)),
                           **self._oof_scores(oof)}
                if self.metric == BLEND_METRIC:
                    metrics[BLEND_METRIC] = self._blend_score(oof, np.ones(len(oof), bool))
                tracking.log_metrics(metrics)
                _tag_state("complete")
        if pruned is not None:
            raise pruned
        for key in ("oof_log_rmse", "oof_log_rmse_without_outliers", "valid_log_rmse_std", METRIC, BLEND_METRIC):
            if key in metrics:
                trial.set_user_attr(key, metrics[key])
        return metrics[self.metric]

    def _folds(self, trial, params) -> tuple[list[float], np.ndarray]:
        """Fold k alone: its rows are fold 0, every other row trains (-1 is never validated).

        After each fold the pruner sees the running value of the study's metric: the mean of
        the fold scores so far, or the log-RMSE of the folds' rows so far without the outliers.
        """
        import optuna

        from pipeline.tabular.train import cross_validate

        scores, oof = [], np.full(len(self.y), np.nan)
        for k in range(int(self.folds.max()) + 1):
            rows = self.folds == k
            result = cross_validate(params, self.X, self.y, np.where(rows, 0, -1), self.fit_mask,
                                    self.prepared.log_target, self.house.seed + k, curves=False, progress=False)
            scores.append(float(result.folds[0].valid_log_rmse))
            oof[rows] = result.oof[rows]
            tracking.log_metrics({"valid_log_rmse": scores[-1]}, step=k + 1)
            trial.report(self._running(scores, oof, self.folds <= k), k)
            if trial.should_prune():
                raise optuna.TrialPruned(f"running mean {np.mean(scores):.5f} after fold {k + 1}")
        return scores, oof

    def _running(self, scores: list[float], oof: np.ndarray, done: np.ndarray) -> float:
        if self.metric == METRIC:
            return float(np.mean(scores))
        if self.metric == BLEND_METRIC and len(scores) > 1:  # one fold alone has no other fold to weigh on
            return self._blend_score(oof, done)
        return self._oof_scores(oof, done)["oof_log_rmse_without_outliers"]

    def _blend_score(self, oof: np.ndarray, rows: np.ndarray) -> float:
        """Log-RMSE without outliers of the out-of-fold blend of `rows`: the trial's model and its partners."""
        from pipeline.tabular.blend import out_of_fold_blend

        predictions = np.column_stack([p[rows] for p in self.partners] + [oof[rows]])
        blended = np.full(len(self.y), np.nan)
        blended[rows], _ = out_of_fold_blend(predictions, self.y[rows], self.folds[rows], self.fit_mask[rows],
                                             self.house.blend.method)
        return self._oof_scores(blended, rows)["oof_log_rmse_without_outliers"]

    def _oof_scores(self, oof: np.ndarray, rows: np.ndarray | None = None) -> dict[str, float]:
        """The cv stage's two out-of-fold scores, over `rows` (default: every row)."""
        from pipeline.tabular.evaluation import oof_scores

        rows = np.ones(len(self.y), bool) if rows is None else rows
        return oof_scores(self.prepared.prices()[rows], oof[rows], self.prepared.log_target,
                          self.prepared.outliers()[rows])


def _tag_state(state: str) -> None:
    tracking.set_tags({"trial_state": state})
