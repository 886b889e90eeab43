"""Named param presets: sets of `competitions.house-prices.*` overrides that `dvc exp run -S` can apply.

`original` is the course's first Kaggle recipe: a linear model on raw prices (Adam, lr 5,
batch 64, 100 epochs), statistics over train+test, no engineering, unshuffled 5 folds.
"""

from __future__ import annotations

import json

from pipeline.errors import ParamError

PRESETS: dict[str, dict[str, object]] = {
    "original": {
        "competitions.house-prices.features.stats_from": "train_and_test",
        "competitions.house-prices.target_transform": "none",
        "competitions.house-prices.features.na_means_none": False,
        "competitions.house-prices.features.lot_frontage_by_neighborhood": False,
        "competitions.house-prices.features.ordinal_quality": False,
        "competitions.house-prices.features.categorical_codes": False,
        "competitions.house-prices.features.combined_features": False,
        "competitions.house-prices.features.skew_transform": "none",
        "competitions.house-prices.features.drop_columns": [],
        "competitions.house-prices.features.neighborhood_context": [],
        "competitions.house-prices.drop_outliers": False,
        "competitions.house-prices.cv.folds": 5,
        "competitions.house-prices.cv.shuffle": False,
        "competitions.house-prices.blend.models": ["linear"],
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
