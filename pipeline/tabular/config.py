"""`competitions:` in params.yaml: one block per Kaggle competition, validated into dataclasses.

Every error names the param (`competitions.titanic.metric`, ...). What a block holds is
described in docs/competitions.md; `python cli.py competition new SLUG` writes a starter one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pipeline.errors import ParamError
from pipeline.params import PARAMS_FILE, SEED_MAX, build, load_params, require, require_seed

from . import models
from .blend import BlendParams
from .evaluation import CVParams, fold_ids
from .group_stats import GroupStatsParams
from .paths import CompetitionPaths, stage_stem
from .tasks import METRICS, TASKS, TRANSFORMS, Task

SECTION = "competitions"
REQUIRED_FILES = ("train", "test", "sample_submission")


@dataclass
class FileParams:
    """One competition file: its path under a mirror, its checksum, its Kaggle name."""

    name: str
    sha256: str
    kaggle_file: str = ""
    urls: list[str] = field(default_factory=list)  # public copies, tried after the mirror

    def validate(self, where: str) -> None:
        require(len(self.sha256) == 64 and all(c in "0123456789abcdef" for c in self.sha256),
                f"{where}.sha256", f"must be a SHA-256 hex digest (64 characters), got {self.sha256!r}")

    @property
    def basename(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass
class ShiftParams:
    """`competitions.<key>.shift`: how preprocess treats features whose test values lie where
    train has none (pipeline/tabular/shift.py)."""

    keep: list[str] = field(default_factory=list)  # features kept all the same (names as preprocess writes them)
    adversarial: bool = True  # score a train-vs-test classifier into metrics/<key>/shift.json


@dataclass
class CompetitionParams:
    kaggle: str  # the competition's slug on Kaggle
    files: dict[str, FileParams]
    id: str
    target: str
    task: Literal["regression", "binary", "multiclass"]
    metric: str
    cv: CVParams
    models: dict[str, Any]
    blend: BlendParams
    source: str = ""  # a folder or URL holding the files by their Kaggle names, tried first
    target_transform: Literal["none", "log", "log1p"] = "none"
    seed: int = 42
    cpu_threads: int = 1  # CPU threads of NumPy's BLAS and torch; 0 = the libraries' default
    features: dict[str, Any] = field(default_factory=dict)  # `module` + that module's params
    drop_outliers: bool = False  # leave rows the features module flags out of every fit (still scored)
    group_stats: GroupStatsParams = field(default_factory=GroupStatsParams)  # out-of-fold group target means
    shift: ShiftParams = field(default_factory=ShiftParams)
    key: str = ""  # the block's name under `competitions:` (set by `load_competition`)

    def validate(self, where: str) -> None:
        missing = [role for role in REQUIRED_FILES if role not in self.files]
        require(not missing, f"{where}.files", f"must name {', '.join(REQUIRED_FILES)}; missing {missing}")
        require(self.task in TASKS, f"{where}.task", f"must be one of {', '.join(TASKS)}")
        require(self.metric in METRICS, f"{where}.metric",
                f"must be one of {', '.join(METRICS)}; got {self.metric!r}")
        fitting = [name for name, m in METRICS.items() if self.task in m.tasks]
        require(self.task in METRICS[self.metric].tasks, f"{where}.metric",
                f"is {self.metric}, which does not fit task {self.task}; use one of {', '.join(fitting)}")
        require(self.target_transform in TRANSFORMS, f"{where}.target_transform",
                f"must be one of {', '.join(TRANSFORMS)}")
        require(self.task == "regression" or self.target_transform == "none", f"{where}.target_transform",
                f"must be none for a {self.task} task (it transforms a regression target)")
        require(self.id != self.target, f"{where}.target", f"is the id column {self.id!r}")
        require_seed(self.seed, f"{where}.seed", SEED_MAX - (self.cv.folds - 1),
                     f" (fold k of {self.cv.folds} fits with seed + k)")
        require(self.cpu_threads >= 0, f"{where}.cpu_threads",
                f"must be >= 0 (0: the libraries' default), got {self.cpu_threads}")
        require(bool(self.models), f"{where}.models", "must define at least one model")
        for name, entry in self.models.items():  # each model's own params: when a stage uses it
            models.check_type(entry, f"{where}.models.{name}")
        unknown = [m for m in self.blend.models if m not in self.models]
        require(not unknown, f"{where}.blend.models", f"names undefined model(s) {unknown}; "
                                                       f"defined under {where}.models: {sorted(self.models)}")
        module = self.features.get("module", "")
        require(isinstance(module, str), f"{where}.features.module", "must be a module name or ''")

    # ---- derived

    @property
    def where(self) -> str:
        return f"{SECTION}.{self.key}"

    @property
    def paths(self) -> CompetitionPaths:
        return CompetitionPaths(self.key)

    @property
    def stem(self) -> str:
        return stage_stem(self.key)

    @property
    def metric_spec(self):
        return METRICS[self.metric]

    def task_for(self, n_classes: int | None = None) -> Task:
        """The task with the data's number of classes; without it, the fewest the task allows
        (enough to check that a model type can learn it before any data is read)."""
        if self.task == "regression":
            return Task()
        return Task(self.task, n_classes or (2 if self.task == "binary" else 3))

    @property
    def tunes_threshold(self) -> bool:
        """Whether the blend chooses a binary decision threshold (accuracy scores labels)."""
        return self.task == "binary" and self.metric == "accuracy"

    def fold_ids(self, prepared, task: Task) -> np.ndarray:
        """The cv folds of the prepared rows, by the scheme preprocess chose (`cv.scheme`): whole
        blocks (time stretches, groups) to a fold, or rows stratified by class, or at random."""
        scheme = prepared.cv_scheme()
        y = prepared.y()
        strata = y if scheme["kind"] == "stratified" and task.is_classification else None
        return fold_ids(len(y), self.cv, strata=strata, where=f"{self.where}.cv", blocks=prepared.blocks(),
                        ordered=bool(scheme.get("ordered")))

    def fit_mask(self, outliers: np.ndarray) -> np.ndarray:
        """The rows every fit learns from: all, or all but the outliers when `drop_outliers`."""
        return ~outliers if self.drop_outliers else np.ones(len(outliers), bool)

    def run_params(self, model: str | None = None, model_params=None) -> dict:
        """What a training run logs to MLflow: the block's settings, and the model's own knobs."""
        params = {"seed": self.seed, "task": self.task, "metric": self.metric,
                  "target_transform": self.target_transform, "features": self.features,
                  "drop_outliers": self.drop_outliers, "cv": self.cv, "group_stats": self.group_stats}
        if model is not None:
            params["model"] = models.tracked_params(model, model_params or self.model(model))
        return params

    def model(self, name: str, task: Task | None = None):
        """Validated params of `competitions.<key>.models.<name>` (checked against the task)."""
        if name not in self.models:
            raise ParamError(f"params.yaml: no model '{self.where}.models.{name}'; "
                             f"defined: {', '.join(sorted(self.models))}")
        params = models.model_params(self.models[name], f"{self.where}.models.{name}")
        models.check_task(params, task or self.task_for(), f"{self.where}.models.{name}")
        return params

    def features_module(self):
        """The features module the block names (`pipeline/competitions/<module>.py`), or the generic one."""
        name = self.features.get("module") or ""
        if not name:
            return importlib.import_module("pipeline.tabular.features")
        try:
            return importlib.import_module(f"pipeline.competitions.{name}")
        except ModuleNotFoundError as exc:
            known = sorted(p.stem for p in (Path(__file__).parents[1] / "competitions").glob("[!_]*.py"))
            raise ParamError(f"params.yaml: '{self.where}.features.module' is {name!r}, not a module in "
                             f"pipeline/competitions/ (there: {', '.join(known) or 'none'}; '' = the generic "
                             f"preprocessing)") from exc

    def feature_params(self):
        """The features module's params, validated (the `module` key itself left out)."""
        values = {k: v for k, v in self.features.items() if k != "module"}
        return build(self.features_module().Params, values, f"{self.where}.features")


def competition_names(path: str | Path = PARAMS_FILE) -> list[str]:
    return list(load_params(path).get(SECTION) or {})


def load_competition(key: str, path: str | Path = PARAMS_FILE) -> CompetitionParams:
    """The validated block `competitions.<key>`; an unknown key names the configured ones."""
    blocks = load_params(path).get(SECTION) or {}
    if not isinstance(blocks, dict):
        raise ParamError(f"params.yaml: '{SECTION}' must be a mapping of competition blocks")
    if key not in blocks:
        raise ParamError(f"params.yaml: no competition '{SECTION}.{key}'; configured: "
                         f"{', '.join(blocks) or 'none'} (add one with `python cli.py competition new SLUG`)")
    if not isinstance(blocks[key], dict):
        raise ParamError(f"params.yaml: '{SECTION}.{key}' must be a mapping")
    params = build(CompetitionParams, {**blocks[key], "key": key}, f"{SECTION}.{key}")
    return params
