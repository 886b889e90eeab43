"""What each experiment must show, at the shipped settings where cheap, small ones otherwise."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from pipeline.datasets import MIRROR_ENV
from pipeline.params import load_params
from pipeline.regularization import dropout, fashion, initialization, polynomial, weight_decay
from pipeline.regularization.config import stage_params
from pipeline.runtime import seed_everything

CPU = torch.device("cpu")


def params(stage: str, **changes):
    return dataclasses.replace(stage_params(load_params(), stage), **changes)


def run_all(configs) -> dict:
    outcomes = {}
    for config in configs:
        seed_everything(0)
        outcomes[config.name] = config.run()
    return outcomes


@pytest.fixture(scope="module")
def fashion_small():
    """6,000 training and 2,000 test images, read once for the module (the `mirror` fixture is per test)."""
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        pytest.skip(f"no dataset mirror: set {MIRROR_ENV} or put shared/datasets beside the repo")
    return fashion.load(Path(mirror.removeprefix("file://")) / "fashion-mnist", 6000, 2000)


def test_polynomial_right_degree_recovers_weights_others_under_and_overfit():
    p = params("polynomial")
    got = run_all(polynomial.configs(p, CPU))
    cubic, linear, few = got["cubic"].final, got["linear"].final, got["few_samples"].final
    assert [cubic["w1"], cubic["w2"], cubic["w3"], cubic["b"]] == pytest.approx([1.2, -3.4, 5.6, 5.0], abs=0.01)
    assert cubic["test_loss"] < 1e-3
    # underfit: a line cannot follow the cubic, on the training data either
    assert linear["train_loss"] > 1000 * cubic["train_loss"] and linear["test_loss"] > 10
    # overfit: two points are fit far better than the test set
    assert few["test_loss"] > 100 * few["train_loss"]
    assert len(got["cubic"].history["test_loss"]) == p.epochs


def test_weight_decay_shrinks_w_and_scratch_matches_concise():
    p = params("weight_decay", lambdas=[0.0, 3.0])
    got = run_all(weight_decay.configs(p, CPU))
    free, decayed = got["scratch_wd0"].final, got["scratch_wd3"].final
    assert free["w_norm"] > 10 and decayed["w_norm"] < 0.1
    assert free["train_loss"] < 1e-6  # 20 points, 200 weights: interpolated without a penalty
    assert decayed["test_loss"] < free["test_loss"] / 100
    for lam in ("0", "3"):
        scratch, concise = got[f"scratch_wd{lam}"].final, got[f"concise_wd{lam}"].final
        assert concise["w_norm"] == pytest.approx(scratch["w_norm"], rel=1e-4)
        assert concise["test_loss"] == pytest.approx(scratch["test_loss"], rel=1e-3)
    assert len(got["concise_wd3"].history["w_norm"]) == p.epochs


def test_same_seed_same_numbers_other_seed_other_numbers():
    p = params("weight_decay", lambdas=[1.0], forms=["scratch"], epochs=5)
    first, again = run_all(weight_decay.configs(p, CPU)), run_all(weight_decay.configs(p, CPU))
    assert first["scratch_wd1"].history == again["scratch_wd1"].history
    other = run_all(weight_decay.configs(dataclasses.replace(p, seed=1), CPU))
    assert other["scratch_wd1"].final["w_norm"] != first["scratch_wd1"].final["w_norm"]


def test_dropout_function_keeps_expectation():
    x = torch.ones(200_000)
    assert dropout.dropout(x, 0.0) is x
    assert torch.count_nonzero(dropout.dropout(x, 1.0)) == 0
    torch.manual_seed(0)
    out = dropout.dropout(x, 0.5)
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert (out == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    assert out.mean().item() == pytest.approx(1.0, abs=0.02)


def test_scratch_and_concise_nets_are_the_same_network():
    p = params("dropout")
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    scratch, concise = dropout.make_net("scratch", p, gen()), dropout.make_net("concise", p, gen())
    x = torch.rand(8, 784)
    scratch.eval(), concise.eval()
    assert torch.allclose(scratch(x), concise(x), atol=1e-6)
    scratch.train()
    torch.manual_seed(0)
    assert not torch.allclose(scratch(x), concise(x))  # dropout on while training


def test_dropout_variants_learn_and_repeat(fashion_small):
    train, test = fashion_small
    p = params("dropout", epochs=4, batch_size=64)
    got = run_all(dropout.configs(p, CPU, train, test))
    for name, outcome in got.items():
        assert outcome.final["test_acc"] > 0.6, name
        assert outcome.history["train_loss"][-1] < outcome.history["train_loss"][0], name
    again = run_all(dropout.configs(dataclasses.replace(p, variants=["scratch"]), CPU, train, test))
    assert again["scratch"].history == got["scratch"].history


def test_init_gradients_vanish_explode_or_stay_level(fashion_small):
    train, test = fashion_small
    p = params("init", epochs=1, width=64, probe_batch=128, activations=["sigmoid", "relu"],
               inits=["normal", "xavier", "kaiming"])
    got = run_all(initialization.configs(p, CPU, train, test))
    norms = {name: o.by_layer["grad_norm"] for name, o in got.items()}
    assert all(len(v) == p.depth + 1 for v in norms.values())
    ratio = {name: v[0] / v[-1] for name, v in norms.items()}
    assert ratio["xavier_sigmoid"] < 1e-3  # vanishing towards the input
    assert 0.1 < ratio["kaiming_relu"] < 10  # level
    assert min(norms["normal_relu"]) > 1e4  # exploding
    assert got["normal_relu"].final["diverged"] == 1.0
    assert got["kaiming_relu"].final["diverged"] == 0.0
    assert got["kaiming_relu"].final["test_acc"] > got["xavier_sigmoid"].final["test_acc"] + 0.1
