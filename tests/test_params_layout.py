"""params.yaml stays in the layout DVC writes, so `dvc exp run -S key=value` is a one-line diff.

DVC applies `-S` with ruamel.yaml round-trip and block style (dvc.utils.hydra.apply_overrides);
a file in any other layout (flow lists, long lines) is rewritten wholesale on the first `-S`.
"""

from __future__ import annotations

import shutil

import pytest
from dvc.utils.hydra import apply_overrides
from helpers import changed_lines

from pipeline import REPO_ROOT


def test_dvc_rewrites_params_yaml_byte_for_byte(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO_ROOT / "params.yaml", params)
    apply_overrides(params, ["competitions.house-prices.seed=42"])  # a no-op change: DVC still re-dumps the whole file
    assert params.read_text() == (REPO_ROOT / "params.yaml").read_text()


@pytest.mark.parametrize("override, expected", [
    ("competitions.house-prices.models.mlp.lr=0.002", "        lr: 0.002"),
    ("competitions.house-prices.cv.folds=3", "      folds: 3"),
    ("competitions.titanic.models.lightgbm.n_estimators=500", "        n_estimators: 500"),
    ("regularization.dropout.epochs=5", "    epochs: 5"),
    ("rnn.train.hidden=128", "    hidden: 128"),
])
def test_dvc_exp_run_set_param_changes_exactly_one_line(tmp_path, override, expected):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO_ROOT / "params.yaml", params)
    before = params.read_text()
    apply_overrides(params, [override])
    changed = changed_lines(before, params.read_text())
    assert len(changed) == 2, changed  # one line out, one line in
    assert changed[1].startswith("+" + expected), changed
