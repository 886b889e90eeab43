"""A competition's trials: one model's k-fold CV score, by the pipeline's own code on the same folds.

The space comes from `tune.spaces.<key>.<model>` and is applied to the raw
`competitions.<key>.models.<model>` mapping before `model_params` validates it, so a model
type added later is searchable with no change here. Folds are `fold_ids(n, cv, strata=...)`
as in the cv stage (stratified by class for classification), and fold k's model gets seed
`seed + k` as there, so a trial with the shipped params scores exactly what
`competition cv KEY MODEL` reports. Folds run one at a time so the pruner can stop a bad
trial early: the running value of the study's metric is reported after each fold.

The study optimises the competition's own metric in its direction: it maximises accuracy and
AUC and minimises the rest (`Metric.greater_is_better`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline import tracking
from pipeline.errors import ParamError

from . import space as space_mod

# What a study optimises (`tune.metric` / `--metric`), each the competition's metric as the
# pipeline's stages report it; `resolve_metric` names the score for one competition:
#   valid_mean -> valid_<metric>_mean: the cv stage's mean of the fold scores over all rows;
#   oof        -> oof_<metric>_without_outliers where the competition flags outliers (a regression
#                 task, as the cv stage reports it), else oof_<metric>: the out-of-fold score.
#                 House Prices' headline: two partial sales would otherwise weigh as much as ~200
#                 ordinary houses in their folds' scores, and the sweep would tune for them;
#   blend_oof  -> blend_ + the oof name: what the trial's model does for the competition's blend.
#                 Its out-of-fold predictions take its place among `blend.models` (or join them);
#                 the other members' come from their current params on the same folds, and the
#                 blend is scored out of fold as the blend stage does (weights, and for a binary
#                 task scored by accuracy the decision threshold, for fold k fitted without fold k).
#                 A model tuned alone leans toward what its partners already know; tuned for the
#                 blend, it adds what they miss.
VALID_MEAN, OOF, BLEND_OOF = "valid_mean", "oof", "blend_oof"
METRICS = (VALID_MEAN, OOF, BLEND_OOF)
METRIC = VALID_MEAN  # the default when params.yaml says nothing


def oof_name(metric: str, task: str, has_outliers: bool) -> str:
    """The cv stage's out-of-fold headline score: without the outliers where it reports that."""
    return f"oof_{metric}_without_outliers" if task == "regression" and has_outliers else f"oof_{metric}"


def resolve_metric(choice: str, metric: str, task: str, has_outliers: bool) -> str:
    """`valid_mean` / `oof` / `blend_oof` -> the score's name for one competition, e.g.
    `oof_log_rmse_without_outliers` (House Prices) or `oof_accuracy` (Titanic)."""
    if choice not in METRICS:
        raise ParamError(f"tune metric must be one of {', '.join(METRICS)}, got {choice!r}")
    if choice == VALID_MEAN:
        return f"valid_{metric}_mean"
    oof = oof_name(metric, task, has_outliers)
    return oof if choice == OOF else f"blend_{oof}"


@dataclass
class CompetitionTarget:
    """What a study searches: the competition, the model, its current values, its validated space."""

    key: str
    model: str
    base: dict[str, Any]
    params: list[space_mod.Param]

    @property
    def target(self) -> str:
        return f"competitions.{self.key}.models.{self.model}"

    def baseline(self) -> dict[str, Any]:
        """The current values of the searched params that lie inside their ranges (trial 0's params)."""
        current = {p.name: space_mod.get_path(self.base, p.path) for p in self.params}
        return {name: value for (name, value), p in zip(current.items(), self.params)
                if value is not None and space_mod.contains(p.distribution, value)}


def load_competition(key: str, params_file=None):
    from pipeline.tabular.config import load_competition as load

    return load(key, params_file) if params_file else load(key)


def load_target(key: str, model: str, spaces: dict[str, Any], params_file=None) -> CompetitionTarget:
    """The model's entry and its declared space, validated (bad ranges fail naming the tune param)."""
    from pipeline.tabular.models import check_task, model_params

    p = load_competition(key, params_file)
    p.model(model)  # unknown model (listing the defined ones), or one that cannot learn the task
    declared = spaces.get(key) or {}
    if model not in declared:
        elsewhere = f"; spaces for other competitions: {', '.join(sorted(k for k in spaces if k != key))}" \
            if any(k != key for k in spaces) else ""
        raise ParamError(f"params.yaml: no search space 'tune.spaces.{key}.{model}'; declared for {key}: "
                         f"{', '.join(sorted(declared)) or 'no model'}{elsewhere}")
    base = dict(p.models[model])
    where = f"{p.where}.models.{model}"
    task = p.task_for()  # the model type's task check needs no data

    def check(values):
        params = model_params(values, where)
        check_task(params, task, where)
        return params

    found = space_mod.parse(declared[model], f"tune.spaces.{key}.{model}", where, base, check=check)
    return CompetitionTarget(key, model, base, found)


class Objective:
    """Callable for `study.optimize`: one nested MLflow run per trial, tagged with study and trial.

    `p` is the competition's validated params block, `prepared` what its preprocess stage wrote
    (loaded from `p.paths.processed` when not given). `metric` is one of METRICS; `value_name`
    the score it resolves to for this competition, the value `__call__` returns.
    """

    def __init__(self, target: CompetitionTarget, study_name: str, p, prepared=None, folds: int | None = None,
                 metric: str = METRIC):
        from pipeline.tabular import group_stats
        from pipeline.tabular.prepared import Prepared
        from pipeline.tabular.tasks import Scorer

        if folds is not None:  # an explicit, logged override; the default is the cv stage's folds
            if folds < 2:
                raise ParamError(f"--folds must be >= 2, got {folds}")
            p.cv.folds = folds
        self.p, self.target, self.study_name = p, target, study_name
        self.prepared = prepared if prepared is not None else Prepared.load(p.paths.processed, p.key)
        self.task = p.task_for(len(self.prepared.classes))
        self.X, self.y, self.truth = self.prepared.X(), self.prepared.y(), self.prepared.truth()
        self.outliers = self.prepared.outliers()
        self.metric = metric
        self.value_name = resolve_metric(metric, p.metric, p.task, bool(self.outliers.any()))
        self.oof_name = oof_name(p.metric, p.task, bool(self.outliers.any()))
        self.folds = p.fold_ids(self.prepared, self.task)
        self.groups = group_stats.encoder(self.prepared, self.task.n_classes, p.group_stats)
        self.fit_mask = p.fit_mask(self.outliers)
        self.scorer = Scorer(p.metric_spec, p.target_transform)
        self.members = [*p.blend.models, *([] if target.model in p.blend.models else [target.model])]
        self.partners = self._partner_predictions() if metric == BLEND_OOF else {}

    @property
    def direction(self) -> str:
        return "maximize" if self.p.metric_spec.greater_is_better else "minimize"

    def _partner_predictions(self) -> dict[str, np.ndarray]:
        """Out-of-fold predictions of the blend's other models, on the study's folds (once per worker)."""
        from pipeline.tabular.train import cross_validate

        p = self.p
        return {name: cross_validate(p.model(name, self.task), self.X, self.y, self.folds, self.fit_mask,
                                     self.scorer, p.seed, curves=False, progress=False, workers=p.cv.workers,
                                     task=self.task, groups=self.groups).oof
                for name in self.members if name != self.target.model}

    def __call__(self, trial) -> float:
        import optuna

        from pipeline.stage import Stage
        from pipeline.tabular.evaluation import fold_summary
        from pipeline.tabular.models import check_task, model_params, uses_torch

        p, model, name = self.p, self.target.model, self.p.metric
        values = space_mod.suggest(trial, self.target.params, self.target.base)
        params = model_params(values, self.target.target)
        check_task(params, self.task, self.target.target)
        # the same set-up as the cv stage's: seeds, thread caps, device (a trial is a cv run)
        harness = Stage(p.key, f"trial:{trial.number}", seed=p.seed, cpu_threads=p.cpu_threads, where=p.where,
                        device=getattr(params, "device", "cpu"), uses_torch=uses_torch(params))
        tags = {"stage": "tune", "study": self.study_name, "trial": trial.number, "model": model,
                "model_type": params.type, "dataset": p.key, "competition": p.kaggle, "task": p.task,
                "metric": p.metric}
        run_params = p.run_params(model, params)
        pruned = None
        with harness.tracked(params=run_params, tags=tags, nested=True) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            try:
                folds, oof = self._folds(trial, params)
            except optuna.TrialPruned as exc:  # raised after the run ends: a pruned run FINISHED, not FAILED
                _tag_state("pruned")
                pruned = exc
            else:
                # the cv stage's scores, in its order (the headline mean first)
                metrics = {**fold_summary(folds, name), **self._oof_scores(oof)}
                if self.metric == BLEND_OOF:
                    metrics[self.value_name] = self._blend_score(oof, np.ones(len(self.y), bool))
                tracking.log_metrics(metrics)
                _tag_state("complete")
        if pruned is not None:
            raise pruned
        for key, value in metrics.items():
            trial.set_user_attr(key, value)
        return metrics[self.value_name]

    def _folds(self, trial, params) -> tuple[list, np.ndarray]:
        """Fold k alone: its rows are fold 0, every other row trains (-1 is never validated).

        After each fold the pruner sees the running value of the study's metric: the mean of
        the fold scores so far, or the out-of-fold score of the folds' rows so far (without the
        outliers, where the competition flags some), or that of their blend.
        """
        import optuna

        from pipeline.tabular.train import cross_validate

        n_folds = int(self.folds.max()) + 1
        results = []
        oof = self.task.empty_predictions(len(self.y))
        for k in range(n_folds):
            rows = self.folds == k
            result = cross_validate(params, self.X, self.y, np.where(rows, 0, -1), self.fit_mask, self.scorer,
                                    self.p.seed + k, curves=False, progress=False, task=self.task,
                                    groups=self.groups)
            results.append(result.folds[0])
            oof[rows] = result.oof[rows]
            tracking.log_metrics({f"valid_{self.p.metric}": results[-1].valid_score,
                                  f"train_{self.p.metric}": results[-1].train_score}, step=k + 1)
            running = self._running([f.valid_score for f in results], oof, self.folds <= k)
            trial.report(running, k)
            if trial.should_prune():
                raise optuna.TrialPruned(f"running {self.value_name} {running:.5f} after fold {k + 1}")
        return results, oof

    def _running(self, valid: list[float], oof: np.ndarray, done: np.ndarray) -> float:
        if self.metric == VALID_MEAN:
            return float(np.mean(valid))
        if self.metric == BLEND_OOF and len(valid) > 1:  # one fold alone has no other fold to weigh on
            return self._blend_score(oof, done)
        return self._value(self._oof_scores(oof, done), self.oof_name)

    def _blend_score(self, oof: np.ndarray, rows: np.ndarray) -> float:
        """The out-of-fold blend of `rows` (the blend stage's members, the trial's model among them),
        scored as the blend stage scores it."""
        from pipeline.tabular.blend import out_of_fold_blend

        p = self.p
        classification = self.task.is_classification
        stacked = np.stack([(oof if m == self.target.model else self.partners[m])[rows] for m in self.members],
                           axis=-1)
        blended, thresholds = out_of_fold_blend(stacked, self.y[rows], self.folds[rows], self.fit_mask[rows],
                                                p.blend.method, classification, p.tunes_threshold)
        return self._value(self._oof_scores(blended, rows, thresholds, full=False), self.oof_name)

    def _oof_scores(self, oof: np.ndarray, rows: np.ndarray | None = None, threshold=0.5,
                    full: bool = True) -> dict[str, float]:
        """The cv stage's out-of-fold scores over `rows` (default: every row); `oof` holds every
        row (`full`) or only those rows."""
        from pipeline.tabular.evaluation import scores

        rows = np.ones(len(self.y), bool) if rows is None else rows
        return scores(self.p.metric_spec, self.p.target_transform, self.truth[rows], oof[rows] if full else oof,
                      self.outliers[rows], threshold=threshold)

    @staticmethod
    def _value(found: dict[str, float], name: str) -> float:
        """`name` from `scores`; rows with no outlier among them have no `_without_outliers` score:
        all of them count."""
        return found[name] if name in found else found[name.removesuffix("_without_outliers")]


def _tag_state(state: str) -> None:
    tracking.set_tags({"trial_state": state})
