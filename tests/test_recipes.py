"""CONTRIBUTING.md's recipes, followed to the letter in a throw-away copy of the repo."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mirror")]

# Step 1 of CONTRIBUTING.md's "Add a model type": its module in pipeline/tabular/models/, params and class.
RIDGE_TOY = '''"""A toy model type: closed-form ridge regression (CONTRIBUTING.md's example)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.params import require


@dataclass
class RidgeToyParams:
    type: Literal["ridge_toy"]
    alpha: float = 1.0

    def validate(self, where: str) -> None:
        require(self.alpha > 0, f"{where}.alpha", f"must be > 0, got {self.alpha}")


class RidgeToy:
    Params = RidgeToyParams

    def __init__(self, params: RidgeToyParams, n_features: int, seed: int):
        self.params, self.coef, self.intercept = params, np.zeros(n_features), 0.0

    def fit(self, X, y, curves=None, score=None, progress=False) -> dict[str, list[float]]:
        X = X.astype(np.float64)
        self.intercept = float(y.mean())
        gram = X.T @ X + self.params.alpha * np.eye(X.shape[1])
        self.coef = np.linalg.solve(gram, X.T @ (y - self.intercept))
        return {}

    def predict(self, X) -> np.ndarray:
        return X.astype(np.float64) @ self.coef + self.intercept

    def state(self) -> dict[str, Any]:
        return {"coef": self.coef, "intercept": self.intercept}

    def load_state(self, state: dict[str, Any]) -> None:
        self.coef, self.intercept = state["coef"], state["intercept"]
'''


def test_a_new_house_model_type_needs_its_module_registry_line_and_params_block(repo_copy):
    root = repo_copy.path
    dvc_yaml = (root / "dvc.yaml").read_bytes()
    (root / "pipeline/tabular/models/ridge_toy.py").write_text(RIDGE_TOY)
    registry = root / "pipeline/tabular/models/__init__.py"
    text = registry.read_text()
    anchor = '    "spline_net": "spline_net:SplineNet",\n'
    assert anchor in text, "the recipe's registry line no longer fits MODEL_TYPES"
    registry.write_text(text.replace(anchor, anchor + '    "ridge_toy": "ridge_toy:RidgeToy",\n'))
    repo_copy.set_params(**{"competitions.house-prices.models.toy": {"type": "ridge_toy", "alpha": 30.0},
                            "competitions.house-prices.blend.models": ["toy", "svr"]})

    repo_copy.dvc("repro", "house_prices_submission")

    assert (root / "dvc.yaml").read_bytes() == dvc_yaml  # nothing to edit there
    cv = json.loads((root / "metrics/house-prices/cv_toy.json").read_text())
    assert 0.08 < cv["oof_log_rmse_without_outliers"] < 0.2, cv  # a ridge line on these features
    blend = json.loads((root / "metrics/house-prices/cv.json").read_text())
    assert set(blend["weights"]) == {"toy", "svr"}
    submission = pd.read_csv(root / "data/submission.csv")
    assert list(submission.columns) == ["Id", "SalePrice"] and len(submission) == 1459
    assert (submission["SalePrice"] > 10_000).all()

    # the models folder is a dep: changing the new module reruns the stages that use it
    module = root / "pipeline/tabular/models/ridge_toy.py"
    module.write_text(module.read_text().replace("alpha: float = 1.0", "alpha: float = 2.0"))
    status = json.loads(repo_copy.dvc("status", "--json").stdout)
    assert {"house_prices_train@toy", "house_prices_train@svr", "house_prices_submission"} <= set(status), \
        sorted(status)
    assert "house_prices_blend" not in status  # it never loads a model
