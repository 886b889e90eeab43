"""One worker process: join the study, run trials under one parent MLflow run, report.

Every worker (on this machine or another) runs the same command with the same storage URL;
each opens its own parent run `tune:<study>` (tagged with the study, the worker and the
storage) and nests one run per trial it ran, so the MLflow compare view shows the sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline import tracking

from . import study as study_mod
from .config import TuneParams, worker_id
from .house import METRICS, PIPELINE, Objective, load_target


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


def tune_house(model: str, tune: TuneParams, options: Options, echo: Callable[[str], None] = print) -> dict:
    """Run this worker's share of the study `options.study` (default `house-<model>`)."""
    import optuna

    from pipeline.errors import ParamError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    target = load_target(model, tune.house)
    name = options.study or f"house-{model}"
    url = study_mod.storage_url(options.storage or tune.storage)
    trials = options.trials if options.trials is not None else tune.trials
    timeout = options.timeout if options.timeout is not None else tune.timeout
    if trials < 1:
        raise ParamError(f"--trials must be >= 1, got {trials}")
    if timeout < 0:
        raise ParamError(f"--timeout must be >= 0 (0: no limit), got {timeout}")
    metric = options.metric or tune.metric
    if metric not in METRICS:
        raise ParamError(f"--metric / tune.metric must be one of {', '.join(METRICS)}, got {metric!r}")
    objective = Objective(target, name, folds=options.folds, metric=metric)
    study = study_mod.open_study(name, url, {"target": target.target, "metric": metric,
                                             "folds": objective.house.cv.folds},
                                 options.pruner or tune.pruner, options.seed, baseline=target.baseline())
    tags = {"stage": "tune", "study": name, "model": model, "dataset": "house-prices",
            "worker": worker_id(), "storage": tracking.safe_uri(url)}
    run_params = {"tune": {"trials": trials, "timeout": timeout, "pruner": options.pruner or tune.pruner,
                           "metric": metric,
                           "space": {p.name: repr(p.distribution) for p in target.params}}}
    mine: list[int] = []

    def report(_study, trial) -> None:
        mine.append(trial.number)
        echo(_describe(trial, metric))

    echo(f"study {name} on {tracking.safe_uri(url)}: {len(target.params)} params, "
         f"{objective.house.cv.folds} folds, minimising {metric}, {trials} trials{f', {timeout:g} s budget' if timeout else ''}")
    with tracking.start_run(PIPELINE, f"tune:{name}", params=run_params, tags=tags):
        study.optimize(objective, n_trials=trials, timeout=timeout or None, callbacks=[report],
                       gc_after_trial=False)
        summary = {"study": name, "storage": tracking.safe_uri(url), "worker_trials": len(mine),
                   **study_mod.counts(study)}
        try:
            best = study.best_trial
        except ValueError:
            best = None
        if best is not None:
            summary.update(best_trial=best.number, best_value=best.value, best_params=best.params,
                           best_oof_log_rmse=best.user_attrs.get("oof_log_rmse"))
            tracking.log_metrics({f"best_{metric}": best.value, "trials_run": len(mine)})
    return summary
