"""One worker process: join the study, run trials under one parent MLflow run, report.

Every worker (on this machine or another) runs the same command with the same storage URL;
each opens its own parent run `tune:<study>` in the competition's MLflow experiment (its key;
tagged with the study, the worker and the storage) and nests one run per trial it ran, so the
MLflow compare view shows the sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline import tracking

from . import study as study_mod
from .competition import METRICS, Objective, load_competition, load_target
from .config import TuneParams, worker_id


@dataclass
class Options:
    study: str | None = None
    trials: int | None = None
    timeout: float | None = None
    storage: str | None = None
    pruner: str | None = None
    seed: int | None = None
    folds: int | None = None
    metric: str | None = None


def _describe(trial, metric: str) -> str:
    shown = ", ".join(f"{k.rsplit('.', 1)[-1]}={v:.4g}" if isinstance(v, float) else f"{k.rsplit('.', 1)[-1]}={v}"
                      for k, v in trial.params.items())
    if trial.state.name == "COMPLETE":
        return f"trial {trial.number}: {metric} {trial.value:.5f} ({shown})"
    return f"trial {trial.number}: {trial.state.name.lower()} ({shown})"


def tune_competition(key: str, model: str, tune: TuneParams, options: Options,
                     echo: Callable[[str], None] = print) -> dict:
    """Run this worker's share of the study `options.study` (default `<key>-<model>`): the model
    `competitions.<key>.models.<model>`, searched in `tune.spaces.<key>.<model>`, scored by the
    competition's metric in its direction (accuracy and AUC maximised, the rest minimised)."""
    import optuna

    from pipeline.errors import ParamError
    from pipeline.params import SEED_MAX, seed_in_range

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    target = load_target(key, model, tune.spaces)
    name = options.study or f"{key}-{model}"
    url = study_mod.storage_url(options.storage or tune.storage)
    trials = options.trials if options.trials is not None else tune.trials
    timeout = options.timeout if options.timeout is not None else tune.timeout
    if trials < 1:
        raise ParamError(f"--trials must be >= 1, got {trials}")
    if timeout < 0:
        raise ParamError(f"--timeout must be >= 0 (0: no limit), got {timeout}")
    if options.seed is not None and not seed_in_range(options.seed):
        raise ParamError(f"--seed must be in 0..{SEED_MAX}, got {options.seed}")
    metric = options.metric or tune.metric
    if metric not in METRICS:
        raise ParamError(f"--metric / tune.metric must be one of {', '.join(METRICS)}, got {metric!r}")
    p = load_competition(key)
    objective = Objective(target, name, p, folds=options.folds, metric=metric)
    scored = objective.value_name  # e.g. oof_log_rmse_without_outliers, oof_accuracy
    study = study_mod.open_study(name, url, {"target": target.target, "metric": scored, "folds": p.cv.folds},
                                 options.pruner or tune.pruner, options.seed, baseline=target.baseline(),
                                 direction=objective.direction)
    tags = {"stage": "tune", "study": name, "model": model, "dataset": key, "competition": p.kaggle,
            "worker": worker_id(), "storage": tracking.safe_uri(url)}
    run_params = {"tune": {"trials": trials, "timeout": timeout, "pruner": options.pruner or tune.pruner,
                           "metric": scored, "direction": objective.direction,
                           "space": {param.name: repr(param.distribution) for param in target.params}}}
    mine: list[int] = []

    def report(_study, trial) -> None:
        mine.append(trial.number)
        echo(_describe(trial, scored))

    way = "maximising" if objective.direction == "maximize" else "minimising"
    echo(f"study {name} on {tracking.safe_uri(url)}: {len(target.params)} params, {p.cv.folds} folds, "
         f"{way} {scored}, {trials} trials{f', {timeout:g} s budget' if timeout else ''}")
    with tracking.start_run(key, f"tune:{name}", params=run_params, tags=tags):
        study.optimize(objective, n_trials=trials, timeout=timeout or None, callbacks=[report],
                       gc_after_trial=False)
        summary = {"study": name, "storage": tracking.safe_uri(url), "metric": scored,
                   "direction": objective.direction, "worker_trials": len(mine), **study_mod.counts(study)}
        try:
            best = study.best_trial
        except ValueError:
            best = None
        if best is not None:
            summary.update(best_trial=best.number, best_value=best.value, best_params=best.params)
            summary[f"best_{objective.oof_name}"] = best.user_attrs.get(objective.oof_name)
            tracking.log_metrics({f"best_{scored}": best.value, "trials_run": len(mine)})
    return summary
