"""Run a stage's configurations as MLflow runs and write its DVC outputs.

One parent run per stage, one nested run per configuration (a degree case, a lambda, a dropout
variant, an init x activation), all in the `regularization` experiment with the same metric
names, so the MLflow compare view lines them up. The stage then writes its metrics JSON and its
plots (logged to the parent as artifacts); `pipeline.stage.Stage` did the set-up (seed, CPU
threads, device) and writes the run record DVC declares as an uncached out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import tracking
from pipeline.files import write_metrics
from pipeline.stage import Stage, StageOutputs

PIPELINE = "regularization"


@dataclass
class Outcome:
    """What one configuration produced."""

    history: dict[str, list[float]]  # one value per epoch (MLflow steps 1..epochs)
    final: dict[str, float]  # the configuration's entry in the metrics JSON
    by_layer: dict[str, list[float]] = field(default_factory=dict)  # one value per layer (steps 1..layers)


@dataclass
class Config:
    """One configuration of a stage: its name, the params that define it, and how to run it."""

    name: str
    params: dict[str, Any]
    run: Callable[[], Outcome]


def config_params(stage_params: Any, drop: Iterable[str], **extra: Any) -> dict[str, Any]:
    """A configuration's MLflow params: the stage's params minus the lists it sweeps, plus its own."""
    values = {k: v for k, v in dataclasses.asdict(stage_params).items() if k not in set(drop)}
    return {**values, **extra}


def _json_number(value: float) -> float | None:
    """NaN/inf (a diverged run) become null: the metrics file stays strict JSON."""
    return value if math.isfinite(value) else None


def run_stage(stage: Stage, params: Any, configs: list[Config],
              publish: Callable[[dict[str, Outcome], StageOutputs], list[Path]]) -> dict[str, Outcome]:
    """Run every configuration under one parent MLflow run and write the stage's outputs.

    Each configuration starts from the reseeded generators (`stage.seed_again()`), so its numbers
    do not depend on which other configurations ran before it. `publish` writes the plots and
    returns their paths.
    """
    outputs = stage.outputs
    tags = {"stage": stage.name}
    outcomes: dict[str, Outcome] = {}
    with stage.tracked(params=dataclasses.asdict(params), tags=tags):
        for config in configs:
            stage.seed_again()
            with stage.tracked(params=config.params, tags={**tags, "config": config.name}, nested=True,
                               run_name=f"{stage.name}/{config.name}"):
                outcome = config.run()
                tracking.log_history({**outcome.history, **outcome.by_layer})
                # a final metric that is also a curve is already the curve's latest value
                tracking.log_metrics({k: v for k, v in outcome.final.items() if k not in outcome.history})
            outcomes[config.name] = outcome
        write_metrics(outputs.metrics, {name: {k: _json_number(float(v)) for k, v in o.final.items()}
                                        for name, o in outcomes.items()})
        tracking.log_artifact(outputs.metrics)
        for path in publish(outcomes, outputs):
            tracking.log_artifact(path, "plots")
    return outcomes


def final_of(history: Mapping[str, list[float]]) -> dict[str, float]:
    """The last epoch's value of every curve."""
    return {key: values[-1] for key, values in history.items()}
