"""Training that diverges (a huge learning rate) stops with a ParamError naming the lr param
(docs/faults.md, case 2). The stage-level half (one error line, nothing written, the MLflow run
FAILED) runs in tests/test_faults_kill.py, in the repo copies made there."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.errors import ParamError
from pipeline.tabular import models
from pipeline.rnn.config import TrainConfig
from pipeline.rnn.corpus import Vocab
from pipeline.rnn.models import ModelSpec, make_model
from pipeline.rnn.train import train_language_model
from pipeline.training import train_epochs

TEXT = "the time traveller was expounding a recondite matter to us " * 4


def test_house_torch_model_with_a_huge_lr_names_its_lr_param():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)).astype(np.float32)
    y = 12 + X @ rng.normal(size=5)
    params = models.model_params({"type": "linear", "lr": 1e30, "epochs": 5, "batch_size": 16,
                                  "standardize_target": False}, "competitions.house-prices.models.linear")
    with pytest.raises(ParamError, match=r"training diverged .*lower 'competitions\.house-prices\.models\.linear\.lr'"):
        models.create(params, 5, seed=0).fit(X, y)


def test_rnn_with_a_huge_lr_names_its_lr_param():
    vocab = Vocab(list(TEXT))
    corpus = torch.tensor(vocab.to_indices(TEXT))
    cfg = TrainConfig(hidden=8, batch_size=2, num_steps=8, epochs=3, optimizer="sgd", lr=1e30, clip=1e30, seed=0)
    model = make_model(ModelSpec("gru", "concise", len(vocab), cfg.hidden))
    with pytest.raises(ParamError, match=r"lower 'rnn\.experiments\.x\.train\.lr'"):
        train_language_model(model, corpus, cfg, torch.device("cpu"), progress=False,
                             lr_param="rnn.experiments.x.train.lr")


def test_without_an_lr_param_the_loop_records_the_divergence():
    """The init study keeps diverged curves (they are its finding): no guard unless asked."""
    history = train_epochs(lambda batch: torch.tensor(float("nan")), lambda: [()], 2,
                           evaluate=lambda: {"train_loss": float("nan")}, progress=False)
    assert len(history["train_loss"]) == 2 and all(math.isnan(v) for v in history["train_loss"])
