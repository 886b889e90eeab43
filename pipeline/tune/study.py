"""One Optuna study in a relational storage that any number of workers join.

Optuna, not a scheduler of ours, hands out trials: each worker asks the storage for the next
trial number in a database transaction, so workers on one machine or many (same command, same
storage URL) neither duplicate nor lose trials. SQLite suits one machine; PostgreSQL a team.
A worker that dies mid-trial stops its heartbeat; another worker then marks that trial failed
and queues it again with the same params, so its work is not lost (after GRACE_S, 30 s).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline import REPO_ROOT
from pipeline.errors import ParamError
from pipeline.tracking import safe_uri

PRUNERS = ("median", "none")
# A RUNNING trial whose worker has been silent for GRACE_S is failed and queued again (by the next
# worker to start a trial). Measured with benchmarks/tune_retry.py (SQLite, 1-2 s trials): a killed
# worker's trial was retried after 119.5 s with 30 / 120, after 31.9 s with 5 / 30. A heartbeat is
# one UPDATE from a thread of each worker. A live worker's trial taken for dead would crash that
# worker, so the grace leaves six beats of slack: with a 1 s heartbeat, the largest gap between
# beats during svr, lightgbm_linear, spline_net, gradient_boosting and mlp trials was 1.06 s.
HEARTBEAT_S = 5
GRACE_S = 30


def storage_url(value: str | None) -> str:
    """`--storage` / `tune.storage` -> an SQLAlchemy URL.

    A bare file name is an SQLite file in the repo root (so every worker started from this
    checkout shares it, whatever its working directory). `postgresql://` becomes
    `postgresql+psycopg2://`: SQLAlchemy 2 reads the bare scheme as psycopg 3, which the
    project does not install.
    """
    value = (value or "optuna.db").strip()
    if "://" not in value:
        path = Path(value).expanduser()
        return f"sqlite:///{path if path.is_absolute() else REPO_ROOT / path}"
    if value.startswith("postgresql://"):
        return "postgresql+psycopg2://" + value.removeprefix("postgresql://")
    return value


def make_pruner(name: str):
    """`median`: stop a trial whose running fold score is worse than the median of earlier trials at
    the same fold, after 5 complete trials and from the second fold on (one fold alone is noisy:
    pruning after it stopped 11 of 20 elastic-net trials); `none`: every trial runs all folds."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ParamError(f"params.yaml: 'tune.pruner' must be one of {', '.join(PRUNERS)}, got {name!r}")


def open_storage(url: str, retries: int = 5):
    """The RDB storage, with heartbeats; retried because two workers starting on a fresh database race
    to create Optuna's tables (the loser sees a duplicate-table error and simply tries again)."""
    import warnings

    import optuna
    import sqlalchemy.exc

    for attempt in range(retries):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8; stable in use
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            if attempt == retries - 1:
                raise ParamError(f"tune storage {safe_uri(url)}: {exc.__class__.__name__}: {exc}") from exc
            time.sleep(0.5 + attempt)
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ArgumentError, ImportError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            raise ParamError(f"tune storage {safe_uri(url)} (--storage / tune.storage): cannot open: {first}") \
                from exc


def open_study(name: str, url: str, attrs: Mapping[str, Any], pruner: str = "median", seed: int | None = None,
               baseline: Mapping[str, Any] | None = None, direction: str = "minimize"):
    """Create the study or join it; a study made for another target (another model), another
    metric or fold count, or optimised the other way, is refused.

    `direction`: `minimize` (errors, log loss) or `maximize` (accuracy, AUC). The worker that
    creates the study (the database's unique study name decides which one) queues `baseline`,
    the params as they are now, as trial 0: the sweep then shows the score it has to beat,
    measured the same way.
    """
    import optuna

    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be minimize or maximize, got {direction!r}")
    storage = open_storage(url)
    kwargs = {"study_name": name, "storage": storage, "pruner": make_pruner(pruner),
              "sampler": optuna.samplers.TPESampler(seed=seed)}
    try:
        study = optuna.create_study(direction=direction, **kwargs)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(**kwargs)
        created = False
        held = study.direction.name.lower()
        if held != direction:
            raise ParamError(f"study '{name}' in {safe_uri(url)} was made to {held}, not {direction}: "
                             f"pick another study name (--study)")
    for key, value in attrs.items():
        held = study.user_attrs.get(key)
        if held is None:
            study.set_user_attr(key, value)
        elif held != value:
            raise ParamError(f"study '{name}' in {safe_uri(url)} was made with {key}={held!r}, not {value!r}: "
                             f"pick another study name (--study)")
    if created and baseline:
        study.enqueue_trial(dict(baseline), user_attrs={"baseline": True})
    return study


def load_study(name: str, url: str):
    """An existing study, or a ParamError listing the studies the storage holds."""
    import optuna

    storage = open_storage(url)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if name not in names:
        raise ParamError(f"no study '{name}' in {safe_uri(url)}; studies there: {', '.join(names) or 'none'}")
    return optuna.load_study(study_name=name, storage=storage)


def counts(study) -> dict[str, int]:
    """Trials by state, e.g. {'complete': 10, 'pruned': 3}."""
    out: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        key = trial.state.name.lower()
        out[key] = out.get(key, 0) + 1
    return out
