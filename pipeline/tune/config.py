"""`tune:` in params.yaml: sweep defaults (storage, trials, time budget, pruner, metric) and the
search spaces, one per competition and model (`tune.spaces.<key>.<model>`).

Not a stage's params: no DVC stage reads `tune:`, so editing a space reruns nothing.
Command-line options override each default for one worker.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

from pipeline.params import build, load_params, require

from .study import PRUNERS


@dataclass
class TuneParams:
    storage: str = "optuna.db"  # SQLite file in the repo root, or an SQLAlchemy URL
    trials: int = 20  # per worker
    timeout: float = 0  # seconds per worker (0: no limit); a running trial finishes
    pruner: str = "median"
    metric: str = "valid_mean"  # or oof, blend_oof: the competition's metric, scored how (tune/competition.py)
    spaces: dict[str, Any] = field(default_factory=dict)  # competition key -> model name -> space

    def validate(self, where: str) -> None:
        require(self.trials >= 1, f"{where}.trials", f"must be >= 1, got {self.trials}")
        require(self.timeout >= 0, f"{where}.timeout", f"must be >= 0 (0: no limit), got {self.timeout}")
        require(self.pruner in PRUNERS, f"{where}.pruner", f"must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")
        require(bool(self.storage), f"{where}.storage", "must name an SQLite file or a database URL")
        from .competition import METRICS

        require(self.metric in METRICS, f"{where}.metric", f"must be one of {', '.join(METRICS)}, got {self.metric!r}")
        for key, models in self.spaces.items():
            require(isinstance(models, dict), f"{where}.spaces.{key}",
                    f"must map model names (competitions.{key}.models.MODEL) to search spaces, got {models!r}")


def load_tune(path=None) -> TuneParams:
    params = load_params(path) if path else load_params()
    return build(TuneParams, params.get("tune") or {}, "tune")


def worker_id() -> str:
    """Which worker ran a trial: host and process, so a team's trials can be told apart."""
    return f"{socket.gethostname()}:{os.getpid()}"
