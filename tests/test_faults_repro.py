"""What "same seed, same numbers" promises (docs/faults.md, reproducibility): two separate
processes on this machine give bit-identical metrics for a tiny house CV and a tiny RNN run.
Across machines it is not promised: another CPU (other SIMD kernels in MKL/oneDNN/OpenBLAS) sums
floats in another order, so long RNN and dropout runs drift apart. In one process:
tests/test_house_training.py, test_rnn_train.py, test_regularization_experiments.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline import REPO_ROOT

SCRIPT = r"""
import json
import numpy as np
import torch
from pipeline.tabular import models
from pipeline.tabular.evaluation import CVParams, fold_ids
from pipeline.tabular.tasks import METRICS, Scorer
from pipeline.tabular.train import cross_validate
from pipeline.rnn.config import TrainConfig
from pipeline.rnn.corpus import Vocab
from pipeline.rnn.models import ModelSpec, make_model
from pipeline.rnn.train import train_language_model
from pipeline.runtime import seed_everything, set_cpu_threads

set_cpu_threads(1)
rng = np.random.default_rng(0)
X = rng.normal(size=(90, 6)).astype(np.float32)
y = 12 + X @ rng.normal(scale=0.3, size=6)
params = models.model_params({"type": "mlp", "hidden": [8], "dropout": 0.1, "lr": 0.01, "epochs": 3,
                              "batch_size": 16}, "competitions.house-prices.models.mlp")
ids = fold_ids(len(y), CVParams(folds=3, seed=7))
cv = cross_validate(params, X, y, ids, np.ones(len(y), bool), Scorer(METRICS["log_rmse"], "log"), seed=1,
                    progress=False)
text = "the time traveller was expounding a recondite matter to us " * 6
vocab = Vocab(list(text))
seed_everything(0)
model = make_model(ModelSpec("gru", "scratch", len(vocab), 16))
cfg = TrainConfig(hidden=16, batch_size=4, num_steps=8, epochs=3, optimizer="adam", lr=0.01, clip=1.0, seed=0)
history = train_language_model(model, torch.tensor(vocab.to_indices(text)), cfg, torch.device("cpu"),
                               progress=False)
print(json.dumps({"house": [float(f.valid_score).hex() for f in cv.folds],
                  "rnn": [float(p).hex() for p in history["perplexity"]]}))
"""


def _run() -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_processes_on_one_machine_give_bit_identical_metrics():
    first, second = _run(), _run()
    assert len(first["house"]) == 3 and len(first["rnn"]) == 3
    assert first == second
