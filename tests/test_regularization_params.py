"""Params of the regularization stages: the shipped ones build; bad ones fail naming the param."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch
import yaml

from pipeline import REPO_ROOT
from pipeline.errors import ParamError
from pipeline.params import load_params
from pipeline.regularization.config import STAGES, PolynomialCase, stage_params


@pytest.fixture(scope="module")
def shipped() -> dict:
    return load_params()


@pytest.mark.parametrize("stage", list(STAGES))
def test_shipped_params_build(shipped, stage):
    p = stage_params(shipped, stage)
    assert isinstance(p, STAGES[stage])


def test_cases_are_typed_dataclasses(shipped):
    cases = stage_params(shipped, "polynomial").cases
    assert cases["cubic"] == PolynomialCase(degree=3, n_train=100)


def _with(shipped: dict, stage: str, **changes) -> dict:
    params = copy.deepcopy(shipped)
    params["regularization"][stage].update(changes)
    return params


@pytest.mark.parametrize("stage, changes, named", [
    ("dropout", {"bogus": 1}, "regularization.dropout.bogus"),
    ("dropout", {"drop_probs": [0.2, 1.0]}, "regularization.dropout.drop_probs"),
    ("dropout", {"drop_probs": [0.2]}, "regularization.dropout.drop_probs"),
    ("dropout", {"variants": ["concise", "fancy"]}, "regularization.dropout.variants[1]"),
    ("dropout", {"epochs": 0}, "regularization.dropout.epochs"),
    ("dropout", {"lr": "fast"}, "regularization.dropout.lr"),
    ("dropout", {"lr_decay": 1.5}, "regularization.dropout.lr_decay"),
    ("dropout", {"device": "tpu"}, "regularization.dropout.device"),
    ("init", {"device": "cuda:first"}, "regularization.init.device"),
    ("dropout", {"threads": 1}, "regularization.dropout.threads"),  # renamed cpu_threads
    ("polynomial", {"cases": {"cubic": {"degree": -1, "n_train": 10}}}, "regularization.polynomial.cases.cubic.degree"),
    ("polynomial", {"cases": {"big": {"degree": 21, "n_train": 10}}}, "regularization.polynomial.cases.big.degree"),
    ("polynomial", {"cases": {"many": {"degree": 3, "n_train": 101}}}, "regularization.polynomial.cases.many.n_train"),
    ("polynomial", {"true_w": [1.0] * 22}, "regularization.polynomial.true_w"),
    ("polynomial", {"cases": {"cubic": {"degree": 3}}}, "regularization.polynomial.cases.cubic.n_train"),
    ("polynomial", {"cases": {"bad name": {"degree": 3, "n_train": 5}}}, "regularization.polynomial.cases.bad name"),
    ("weight_decay", {"lambdas": [0, -1]}, "regularization.weight_decay.lambdas"),
    ("weight_decay", {"lambdas": [3, 3]}, "regularization.weight_decay.lambdas"),
    ("init", {"inits": ["xavier", "zeros"]}, "regularization.init.inits[1]"),
    ("init", {"depth": 0}, "regularization.init.depth"),
    ("init", {"probe_steps": 0}, "regularization.init.probe_steps"),
])
def test_bad_params_name_the_param(shipped, stage, changes, named):
    with pytest.raises(ParamError) as err:
        stage_params(_with(shipped, stage, **changes), stage)
    assert f"'{named}'" in str(err.value) or named in str(err.value)


@pytest.mark.slow
def test_cli_reports_a_bad_param_in_one_line(shipped, tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(_with(shipped, "weight_decay", lr=-0.1)))
    result = subprocess.run([sys.executable, str(REPO_ROOT / "cli.py"), "regularization", "weight-decay",
                             "--params", str(bad)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: params.yaml: 'regularization.weight_decay.lr' must be > 0, got -0.1"]
    assert not (tmp_path / "metrics").exists()


@pytest.mark.parametrize("changes, error", [
    ({"cpu_threads": -1}, "'regularization.polynomial.cpu_threads' must be >= 0 (0: the libraries' default); got -1"),
    pytest.param({"device": "cuda"}, "'regularization.polynomial.device' device 'cuda' requested but CUDA is not "
                 "available", marks=pytest.mark.skipif(torch.cuda.is_available(), reason="needs no CUDA")),
])
@pytest.mark.slow
def test_stage_setup_errors_name_the_param_before_any_output(shipped, tmp_path, changes, error):
    """The stage set-up (pipeline.stage.Stage) checks the thread count and that the device exists."""
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(_with(shipped, "polynomial", **changes)))
    result = subprocess.run([sys.executable, str(REPO_ROOT / "cli.py"), "regularization", "polynomial",
                             "--params", str(bad)], check=False, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: params.yaml: {error}"]
    assert not (tmp_path / "metrics").exists() and not (tmp_path / "runs").exists()
