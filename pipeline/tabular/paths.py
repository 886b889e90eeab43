"""Where the House Prices stages read and write beyond the standard metrics/plots/runs files of
`pipeline.stage.StageOutputs` (dvc.yaml declares the same paths)."""

from __future__ import annotations

from pathlib import Path

from pipeline import REPO_ROOT

PIPELINE = "house-prices"
RAW = REPO_ROOT / "data" / "raw" / PIPELINE
PROCESSED = REPO_ROOT / "data" / "processed" / PIPELINE
INTERIM = REPO_ROOT / "data" / "interim" / PIPELINE
MODELS = REPO_ROOT / "models" / PIPELINE
PLOTS = REPO_ROOT / "plots" / PIPELINE
SUBMISSION = REPO_ROOT / "data" / "submission.csv"


def oof(model: str) -> Path:
    return INTERIM / f"oof_{model}.csv"


def model_file(model: str) -> Path:
    return MODELS / f"{model}.pkl"


BLEND_WEIGHTS = MODELS / "blend.json"
OOF_PLOT = PLOTS / "oof.png"  # the blend's out-of-fold predictions against the prices
CV_SCORES = REPO_ROOT / "metrics" / PIPELINE / "cv.json"  # the blend's out-of-fold scores (house_blend)
