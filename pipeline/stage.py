"""The one way a training stage runs: seeds, CPU threads, device, MLflow run, outputs, run record.

Every training stage of every pipeline (and each trial of a sweep) does the same set-up before
its own work, in the same order, so it lives here once:

    stage = Stage("rnn", name, seed=cfg.seed, cpu_threads=cfg.cpu_threads, device=cfg.device,
                  where="rnn.train", uses_torch=True, outputs=StageOutputs("rnn", name))
    ...checks that must fail before any MLflow run exists...
    with stage.tracked(params=..., tags=...) as run:
        ...train, write outputs (pipeline.files writes them atomically)...
    # the run ended FINISHED and the run record under runs/ names it

`Stage(...)` seeds Python, NumPy (and torch for torch stages), caps the CPU threads of NumPy's
BLAS and torch to `cpu_threads` (param `<where>.cpu_threads` everywhere; 0: the libraries'
default) and resolves the device (`<where>.device`: auto, cpu or cuda[:N]; a CUDA device on a
machine without one fails naming that param); for torch, `PIPELINE_PORTABLE_MATH=1` picks CPU
kernels that give the same numbers whatever the instruction set (`runtime.apply_math_mode`,
docs/reproducibility.md).
`tracked()` opens the MLflow run with the standard tags (stage, seed, device and GPU name, and
`math`: native or portable, for torch) and, for a stage with `outputs`, writes its run record
when the work succeeded.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import REPO_ROOT, tracking
from pipeline.errors import ParamError

CPU_TAGS = {"device": "cpu"}  # what a NumPy or scikit-learn stage runs on, whatever is installed


@dataclass(frozen=True)
class StageOutputs:
    """Where one stage writes, by the project's layout (dvc.yaml declares the same paths):
    `metrics/<pipeline>/<name>.json`, `runs/<pipeline>/<name>.json` (the MLflow run record),
    `plots/<pipeline>/<name><suffix>`, `models/<pipeline>/<name><suffix>`.

    `metrics_name` names the metrics file when it differs from the stage's (house_blend writes
    `cv.json`: it is the pipeline's headline CV score)."""

    pipeline: str
    name: str
    root: Path = REPO_ROOT
    metrics_name: str | None = None

    @property
    def metrics(self) -> Path:
        return self.root / "metrics" / self.pipeline / f"{self.metrics_name or self.name}.json"

    @property
    def record(self) -> Path:
        return self.root / "runs" / self.pipeline / f"{self.name}.json"

    def plot(self, suffix: str) -> Path:
        """`plot(".png")`, `plot("_lambda.csv")`: a file of this stage under plots/."""
        return self.root / "plots" / self.pipeline / f"{self.name}{suffix}"

    def model(self, suffix: str) -> Path:
        return self.root / "models" / self.pipeline / f"{self.name}{suffix}"


def check_device_name(value: str, where: str) -> None:
    """Fail naming the param unless `value` is auto, cpu or cuda[:N]."""
    if not (value in ("auto", "cpu") or value == "cuda" or (value.startswith("cuda:") and value[5:].isdigit())):
        raise ParamError(f"params.yaml: '{where}' must be auto, cpu or cuda[:N]; got {value!r}")


class Stage:
    """A training stage's set-up (done on construction) and its MLflow run (`tracked`)."""

    def __init__(self, pipeline: str, name: str, *, seed: int, cpu_threads: int, where: str,
                 device: str = "cpu", uses_torch: bool = False, outputs: StageOutputs | None = None):
        if cpu_threads < 0:
            raise ParamError(f"params.yaml: '{where}.cpu_threads' must be >= 0 (0: the libraries' default); "
                             f"got {cpu_threads}")
        self.pipeline, self.name, self.seed, self.outputs = pipeline, name, seed, outputs
        # NumPy's BLAS gets the same cap as torch: on a busy 2-core machine its default threads
        # spin (one 330x330 eigvalsh of the elastic net took 2.8 s instead of 0.02 s).
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency; light to import

        threadpool_limits(cpu_threads or None)
        self.device_tags = dict(CPU_TAGS)
        self.math_tags: dict[str, str] = {}
        self.device = None
        if uses_torch:
            from pipeline import runtime

            try:  # before any torch operation: PIPELINE_PORTABLE_MATH=1 picks kernels that repeat across CPUs
                self.math_tags = {"math": runtime.apply_math_mode()}
            except ValueError as exc:
                raise ParamError(str(exc)) from exc
            runtime.set_cpu_threads(cpu_threads)
            runtime.keep_freed_memory()
            check_device_name(device, f"{where}.device")
            try:
                self.device = runtime.pick_device(device)
            except RuntimeError as exc:
                raise ParamError(f"params.yaml: '{where}.device' {exc}") from exc
            self.device_tags = runtime.describe_device(self.device)
        self.seed_again()

    def seed_again(self) -> None:
        """Reseed every generator, e.g. before each configuration of a sweep, so its numbers do
        not depend on which configurations ran before it."""
        if self.device is None:  # a NumPy stage: torch need not be imported
            random.seed(self.seed)
            np.random.seed(self.seed)
        else:
            from pipeline.runtime import seed_everything  # Python, NumPy and torch

            seed_everything(self.seed)

    def tags(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The standard tags (seed, device, GPU name, math mode of a torch stage) plus the stage's own."""
        return {**(extra or {}), "seed": self.seed, **self.device_tags, **self.math_tags}

    @contextmanager
    def tracked(self, params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None,
                nested: bool = False, run_name: str | None = None) -> Iterator[tracking.Run]:
        """The stage's MLflow run (FAILED if the block raises); on success, its run record."""
        with tracking.start_run(self.pipeline, run_name or self.name, params=params, tags=self.tags(tags),
                                nested=nested) as run:
            yield run
            if self.outputs is not None and not nested:
                tracking.write_run_record(self.outputs.record, run)
