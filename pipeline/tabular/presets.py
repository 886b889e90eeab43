"""Named param presets: sets of `house.*` overrides that `dvc exp run -S` can apply.

`original` is the course's first Kaggle recipe: a linear model on raw prices (Adam, lr 5,
batch 64, 100 epochs), statistics over train+test, no engineering, unshuffled 5 folds.
"""

from __future__ import annotations

import json

from pipeline.errors import ParamError

PRESETS: dict[str, dict[str, object]] = {
    "original": {
        "house.features.stats_from": "train_and_test",
        "house.features.log_target": False,
        "house.features.na_means_none": False,
        "house.features.lot_frontage_by_neighborhood": False,
        "house.features.ordinal_quality": False,
        "house.features.categorical_codes": False,
        "house.features.combined_features": False,
        "house.features.skew_transform": "none",
        "house.features.drop_columns": [],
        "house.features.neighborhood_context": [],
        "house.outliers.drop_from_training": False,
        "house.cv.folds": 5,
        "house.cv.shuffle": False,
        "house.blend.models": ["linear"],
    },
}


def preset(name: str) -> dict[str, object]:
    if name not in PRESETS:
        raise ParamError(f"unknown preset '{name}'; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def dvc_set_args(name: str) -> list[str]:
    """`-S key=value` arguments for `dvc exp run`, values in YAML/JSON flow style."""
    args = []
    for key, value in preset(name).items():
        text = value if isinstance(value, str) else json.dumps(value).replace('"', "").replace(" ", "")
        args += ["-S", f"{key}={text}"]
    return args
