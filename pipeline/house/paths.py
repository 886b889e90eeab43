"""Where each House Prices stage reads and writes (the same paths dvc.yaml declares)."""

from __future__ import annotations

from pathlib import Path

from pipeline import REPO_ROOT

PIPELINE = "house-prices"
RAW = REPO_ROOT / "data" / "raw" / PIPELINE
PROCESSED = REPO_ROOT / "data" / "processed" / PIPELINE
INTERIM = REPO_ROOT / "data" / "interim" / PIPELINE
MODELS = REPO_ROOT / "models" / PIPELINE
METRICS = REPO_ROOT / "metrics" / PIPELINE
PLOTS = REPO_ROOT / "plots" / PIPELINE
RUNS = REPO_ROOT / "runs" / PIPELINE
SUBMISSION = REPO_ROOT / "data" / "submission.csv"


def oof(model: str) -> Path:
    return INTERIM / f"oof_{model}.csv"


def model_file(model: str) -> Path:
    return MODELS / f"{model}.pkl"


BLEND_WEIGHTS = MODELS / "blend.json"
