"""`house:` in params.yaml, validated into dataclasses; every error names the param."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ParamError
from pipeline.params import PARAMS_FILE, build, load_params, require, section

from . import models
from .blend import BlendParams
from .evaluation import CVParams
from .features import FeatureParams


@dataclass
class OutlierParams:
    """The data set's partial sales: huge houses sold cheaply. Flagged always, dropped on request."""

    living_area_above: float = 4000
    price_below: float = 300000
    drop_from_training: bool = True


@dataclass
class HouseParams:
    seed: int
    cpu_threads: int  # CPU threads of NumPy's BLAS and torch; 0 = the libraries' default
    features: FeatureParams
    outliers: OutlierParams
    cv: CVParams
    models: dict[str, Any]
    blend: BlendParams

    def validate(self, where: str) -> None:
        require(self.cpu_threads >= 0, f"{where}.cpu_threads", f"must be >= 0 (0: the libraries' default), "
                                                              f"got {self.cpu_threads}")
        require(bool(self.models), f"{where}.models", "must define at least one model")
        for name, entry in self.models.items():  # each model's own params: when a stage uses it
            models.check_type(entry, f"{where}.models.{name}")
        unknown = [m for m in self.blend.models if m not in self.models]
        require(not unknown, f"{where}.blend.models", f"names undefined model(s) {unknown}; "
                                                       f"defined under {where}.models: {sorted(self.models)}")

    def model(self, name: str):
        """Validated params of `house.models.<name>`."""
        if name not in self.models:
            raise ParamError(f"params.yaml: no model 'house.models.{name}'; defined: {', '.join(sorted(self.models))}")
        return models.model_params(self.models[name], f"house.models.{name}")


def load_house(path: str | Path = PARAMS_FILE) -> HouseParams:
    return build(HouseParams, section(load_params(path), "house"), "house")
