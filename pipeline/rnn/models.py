"""Build a language model from its config, and save/load it with its vocabulary, so a model
file alone is enough to generate text (`python cli.py rnn generate --model ...`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.errors import DataError, ParamError
from pipeline.files import save_torch
from pipeline.rnn.concise import ConciseLM
from pipeline.rnn.corpus import Vocab
from pipeline.rnn.scratch import CELLS, ScratchLM

FORMAT = "rnn-lm/1"


@dataclass(frozen=True)
class ModelSpec:
    """What it takes to rebuild a model's architecture."""

    cell: str
    impl: str
    vocab_size: int
    hidden: int
    num_layers: int = 1
    bidirectional: bool = False


def make_model(spec: ModelSpec) -> nn.Module:
    """A ScratchLM or ConciseLM; both take (batch, steps) indices and return time-major logits."""
    if spec.cell not in CELLS:
        raise ParamError(f"unknown cell {spec.cell!r}; known: {', '.join(CELLS)}")
    if spec.impl == "scratch":
        if spec.num_layers != 1 or spec.bidirectional:
            raise ParamError("scratch models have one layer and one direction; use impl 'concise'")
        return ScratchLM(spec.cell, spec.vocab_size, spec.hidden)
    if spec.impl == "concise":
        return ConciseLM(spec.cell, spec.vocab_size, spec.hidden, spec.num_layers, spec.bidirectional)
    raise ParamError(f"unknown impl {spec.impl!r}; known: scratch, concise")


def save_model(path: str | Path, model: nn.Module, spec: ModelSpec, vocab: Vocab, corpus: str,
               extra: dict[str, Any] | None = None) -> Path:
    """Write weights, architecture, vocabulary and corpus name in one file (atomically)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return save_torch(path, {"format": FORMAT, "spec": asdict(spec), "vocab": vocab.idx_to_token,
                             "corpus": corpus, "state_dict": state, "extra": extra or {}})


@dataclass
class LoadedModel:
    model: nn.Module
    spec: ModelSpec
    vocab: Vocab
    corpus: str


def load_model(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file not found (train it with `dvc repro rnn_train@NAME`)")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, damaged or foreign file: say which, no traceback
        raise DataError(f"{path}: not a readable model file ({type(exc).__name__}); retrain it with "
                        "`dvc repro rnn_train@NAME`") from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise DataError(f"{path}: not an rnn model file (expected format {FORMAT})")
    spec = ModelSpec(**blob["spec"])
    model = make_model(spec)
    model.load_state_dict(blob["state_dict"])
    return LoadedModel(model.to(device).eval(), spec, Vocab(idx_to_token=blob["vocab"]), blob["corpus"])
