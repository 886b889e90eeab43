"""Reproducible DVC + MLflow + PyTorch pipelines: House Prices, regularization and RNN experiments.

Each sub-package owns one pipeline; the modules at this level are the shared plumbing
(params, atomic files, dataset downloads, devices and seeds, MLflow tracking, DVC plots).
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
