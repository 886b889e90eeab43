"""Typed, validated params of the rnn pipeline (`rnn.corpora`, `rnn.train`, `rnn.experiments`).

An experiment names its corpus and model and may override any `rnn.train` default under its
own `train:` key, so `dvc exp run -S rnn.experiments.tm-gru-concise.train.epochs=500` reruns
only that stage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.params import build, require, require_seed, section
from pipeline.rnn.corpus import CORPORA
from pipeline.stage import check_device_name

Impl = Literal["scratch", "concise"]


@dataclass(frozen=True)
class CorpusConfig:
    """How a corpus is read: its first `max_tokens` characters (null: all), the vocabulary's
    minimum frequency, and the prefixes the final samples start from."""

    max_tokens: int | None = 10000
    min_freq: int = 0
    prefixes: list[str] = field(default_factory=list)

    def validate(self, where: str) -> None:
        require(self.max_tokens is None or self.max_tokens > 0, f"{where}.max_tokens", "must be > 0 or null")
        require(self.min_freq >= 0, f"{where}.min_freq", "must be >= 0")
        require(len(self.prefixes) > 0, f"{where}.prefixes", "must list at least one prefix")
        for i, prefix in enumerate(self.prefixes):
            require(prefix != "", f"{where}.prefixes[{i}]", "must not be empty: generation needs a prefix")


@dataclass(frozen=True)
class TrainConfig:
    """Model size and training settings every experiment starts from."""

    hidden: int = 256
    batch_size: int = 32
    num_steps: int = 35
    scheme: Literal["random", "sequential"] = "sequential"
    epochs: int = 100
    optimizer: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = 0.01
    lr_decay: float = 0.0  # lr falls linearly towards 0 over this last fraction of the epochs
    clip: float = 1.0  # θ: the global gradient norm is clipped to at most this
    seed: int = 0
    device: str = "auto"  # auto: CUDA when present, else CPU
    cpu_threads: int = 1  # 0: torch's default; small recurrent matmuls gain nothing from more
    num_chars: int = 50  # generated after each prefix

    def validate(self, where: str) -> None:
        for name in ("hidden", "batch_size", "num_steps", "epochs", "num_chars"):
            require(getattr(self, name) > 0, f"{where}.{name}", "must be > 0")
        require(self.lr > 0, f"{where}.lr", "must be > 0")
        require(0 <= self.lr_decay <= 1, f"{where}.lr_decay", "must be in [0, 1] (0: constant lr)")
        require(self.clip > 0, f"{where}.clip", "must be > 0")
        require_seed(self.seed, f"{where}.seed")
        require(self.cpu_threads >= 0, f"{where}.cpu_threads", "must be >= 0 (0: torch's default)")
        check_device_name(self.device, f"{where}.device")


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: corpus, cell, implementation, shape, and overrides of `rnn.train`."""

    corpus: str
    cell: str  # a key of scratch.CELLS (and, for impl concise, of concise.LAYERS)
    impl: Impl = "concise"
    num_layers: int = 1
    bidirectional: bool = False
    train: dict[str, Any] = field(default_factory=dict)

    def validate(self, where: str) -> None:
        require(self.corpus in CORPORA, f"{where}.corpus", f"must be one of {', '.join(CORPORA)}; got {self.corpus!r}")
        require(self.num_layers >= 1, f"{where}.num_layers", "must be >= 1")
        from pipeline.rnn.concise import LAYERS  # torch: only the rnn stage reads experiments
        from pipeline.rnn.scratch import CELLS

        require(self.cell in CELLS, f"{where}.cell", f"must be one of {', '.join(CELLS)}; got {self.cell!r}")
        require(self.impl == "scratch" or self.cell in LAYERS, f"{where}.cell",
                f"{self.cell!r} has no torch.nn layer (concise: {', '.join(LAYERS)}); use impl 'scratch'")
        if self.impl == "scratch":
            require(self.num_layers == 1, f"{where}.num_layers",
                    "must be 1 for impl 'scratch' (use 'concise' for deep RNNs)")
            require(not self.bidirectional, f"{where}.bidirectional",
                    "must be false for impl 'scratch' (use 'concise')")


@dataclass(frozen=True)
class Experiment:
    """Everything one `rnn_train@NAME` stage needs, resolved from params.yaml."""

    name: str
    model: ExperimentConfig
    corpus: CorpusConfig
    train: TrainConfig

    def as_params(self) -> dict[str, Any]:
        """Nested params for MLflow (flattened there to dotted keys)."""
        model = dataclasses.asdict(self.model)
        model.pop("train")
        return {"experiment": self.name, "model": model, "corpus": dataclasses.asdict(self.corpus),
                "train": dataclasses.asdict(self.train)}


def experiment_names(params: Mapping[str, Any]) -> list[str]:
    return list(section(params, "rnn.experiments"))


def load_experiment(params: Mapping[str, Any], name: str) -> Experiment:
    """Resolve experiment `name`: its own settings, its corpus's, and `rnn.train` with its overrides."""
    experiments = section(params, "rnn.experiments")
    if name not in experiments:
        from pipeline.errors import ParamError

        raise ParamError(f"params.yaml: no experiment 'rnn.experiments.{name}'; known: {', '.join(experiments)}")
    where = f"rnn.experiments.{name}"
    model = build(ExperimentConfig, section(params, where), where)
    corpus = build(CorpusConfig, section(params, f"rnn.corpora.{model.corpus}"), f"rnn.corpora.{model.corpus}")
    defaults = section(params, "rnn.train")
    train = build(TrainConfig, defaults, "rnn.train")
    if model.train:  # defaults are valid on their own, so any error here is the override's
        train = build(TrainConfig, {**defaults, **model.train}, f"{where}.train")
    return Experiment(name, model, corpus, train)
