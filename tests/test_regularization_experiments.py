"""What each experiment must show, at the shipped settings where cheap, small ones otherwise."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from pipeline.datasets import MIRROR_ENV
from pipeline.params import load_params
from pipeline.regularization import dropout, fashion, initialization, polynomial, synthetic, weight_decay
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
    assert set(got) == {"cubic", "linear", "degree20", "few_samples"}
    cubic, linear, full, few = (got[name].final for name in ("cubic", "linear", "degree20", "few_samples"))
    assert polynomial.learned_weights(cubic) == pytest.approx([5.0, 1.2, -3.4, 5.6], abs=0.1)
    floor = p.noise ** 2 / 2  # half squared loss of the noise alone
    assert floor / 2 < cubic["test_loss"] < 2 * floor
    # under-fit: a line cannot follow the cubic, on the training data either
    assert linear["train_loss"] > 100 * floor and linear["test_loss"] > 100 * floor
    # over-fit: every feature (21 weights), or 2 points for 4 weights, generalize far worse than they fit
    assert len(polynomial.learned_weights(full)) == 21
    assert full["test_loss"] > 3 * full["train_loss"] and full["test_loss"] > 3 * cubic["test_loss"]
    assert few["test_loss"] > 100 * few["train_loss"]
    assert len(got["cubic"].history["test_loss"]) == p.epochs


def test_polynomial_features_and_data():
    x = torch.tensor([2.0, -1.0])
    expected = torch.tensor([[1.0, 2.0, 2.0, 8 / 6], [1.0, -1.0, 0.5, -1 / 6]])
    assert torch.allclose(synthetic.polynomial_features(x, 3), expected)
    features, y = synthetic.polynomial_data([5.0, 1.2, -3.4, 5.6], 20, 0.0, 50, torch.Generator().manual_seed(0))
    assert features.shape == (50, 21)
    x = features[:, 1]
    assert torch.allclose(y, 5 + 1.2 * x - 3.4 * x ** 2 / 2 + 5.6 * x ** 3 / 6, atol=1e-5)


def test_weight_decay_shrinks_w_and_scratch_matches_concise():
    p = params("weight_decay", lambdas=[0.0, 3.0])
    got = run_all(weight_decay.configs(p, CPU))
    free, decayed = got["scratch_wd0"].final, got["scratch_wd3"].final
    assert 10 < free["w_norm"] < 20 and decayed["w_norm"] < free["w_norm"] / 10
    assert free["train_loss"] < free["test_loss"] / 1000  # 20 points, 200 weights: over-fit without a penalty
    assert decayed["test_loss"] < free["test_loss"] / 10
    for lam in ("0", "3"):
        scratch, concise = got[f"scratch_wd{lam}"].final, got[f"concise_wd{lam}"].final
        assert set(scratch) == set(concise)  # same metric names in every form and lambda
        assert concise["w_norm"] == pytest.approx(scratch["w_norm"], rel=1e-4)
        assert concise["test_loss"] == pytest.approx(scratch["test_loss"], rel=1e-3)
    assert len(got["concise_wd3"].history["w_norm"]) == p.epochs


def test_penalty_gradient_scratch_equals_concise_and_bias_is_not_decayed():
    gen = torch.Generator().manual_seed(0)
    w0, x, y = torch.randn(7, generator=gen), torch.randn(5, 7, generator=gen), torch.randn(5, generator=gen)
    lam, lr = 3.0, 0.1
    # the scratch penalty's gradient is lambda * w, what SGD weight_decay adds
    w = w0.clone().requires_grad_()
    (lam * weight_decay.l2_penalty(w)).backward()
    assert torch.allclose(w.grad, lam * w0)
    models = {form: weight_decay.make_model(form, lam, lr, w0, CPU) for form in ("scratch", "concise")}
    plain = weight_decay.make_model("concise", 0.0, lr, w0, CPU)
    for _ in range(3):
        for model in (*models.values(), plain):
            model.step((x, y))
    scratch, concise = models["scratch"], models["concise"]
    assert torch.allclose(scratch.weight.detach(), concise.weight.detach().flatten(), atol=1e-6)
    assert torch.allclose(scratch.bias.detach(), concise.bias.detach().flatten(), atol=1e-6)
    assert concise.weight.norm() < plain.weight.norm()
    # the bias moves only with the data gradient: with the weight's path differing, compare one step
    one = {lam_: weight_decay.make_model("concise", lam_, lr, w0, CPU) for lam_ in (0.0, lam)}
    for model in one.values():
        model.step((x, y))
    assert torch.equal(one[0.0].bias, one[lam].bias)
    assert not torch.allclose(one[0.0].weight, one[lam].weight)


def test_same_seed_same_numbers_other_seed_other_numbers():
    p = params("weight_decay", lambdas=[1.0], forms=["scratch"], epochs=5)
    first, again = run_all(weight_decay.configs(p, CPU)), run_all(weight_decay.configs(p, CPU))
    assert first["scratch_wd1"].history == again["scratch_wd1"].history
    other = run_all(weight_decay.configs(dataclasses.replace(p, seed=1), CPU))
    assert other["scratch_wd1"].final["w_norm"] != first["scratch_wd1"].final["w_norm"]


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_function_keeps_expectation(p):
    torch.manual_seed(0)
    x = torch.rand(200_000) + 0.5
    out = dropout.dropout(x, p)
    dropped = out == 0
    assert dropped.float().mean().item() == pytest.approx(p, abs=0.01)  # zeroes about p of the units
    assert torch.allclose(out[~dropped], x[~dropped] / (1 - p))  # scales the rest by 1/(1-p)
    assert out.mean().item() == pytest.approx(x.mean().item(), rel=0.02)  # E[h] kept


def test_dropout_function_edges_and_bad_p():
    x = torch.randn(4, 5)
    assert dropout.dropout(x, 0.0) is x
    assert torch.equal(dropout.dropout(x, 1.0), torch.zeros_like(x))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"dropout probability p must be in \[0, 1\], got"):
            dropout.dropout(x, bad)


def test_scratch_and_concise_dropout_have_the_same_expectation():
    torch.manual_seed(0)
    h, p = torch.rand(64) + 0.5, 0.5
    draws = 4000
    scratch = torch.stack([dropout.dropout(h, p) for _ in range(draws)])
    concise = torch.stack([torch.nn.Dropout(p).train()(h) for _ in range(draws)])
    assert (scratch == 0).float().mean().item() == pytest.approx((concise == 0).float().mean().item(), abs=0.01)
    assert torch.allclose(scratch.mean(0), concise.mean(0), rtol=0.1)
    assert torch.allclose(scratch.mean(0), h, rtol=0.1)
    # whole networks: same weights, dropout on; the averaged outputs agree
    weights = dropout.initial_weights([20, 32, 32, 3], 0.3, torch.Generator().manual_seed(1))
    nets = dropout.ScratchMLP(weights, [0.2, 0.5]).train(), dropout.concise_mlp(weights, [0.2, 0.5]).train()
    x = torch.rand(8, 20)
    draws = 2000
    with torch.no_grad():
        outputs = [torch.stack([net(x) for _ in range(draws)]) for net in nets]
    # the two Monte Carlo means differ by less than 5 standard errors, at every output
    stderr = ((outputs[0].var(0) + outputs[1].var(0)) / draws).sqrt()
    assert ((outputs[0].mean(0) - outputs[1].mean(0)).abs() < 5 * stderr).all()


@pytest.mark.slow
def test_dropout_variants_learn_and_repeat(fashion_small):
    train, test = fashion_small
    p = params("dropout", epochs=4, batch_size=64)
    got = run_all(dropout.configs(p, CPU, train, test))
    for name, outcome in got.items():
        assert set(outcome.history) == {"train_loss", "train_acc", "test_loss", "test_acc"}, name
        assert outcome.final["test_acc"] > 0.6 and outcome.final["train_acc"] > 0.6, name
        assert outcome.history["train_loss"][-1] < outcome.history["train_loss"][0], name
    again = run_all(dropout.configs(dataclasses.replace(p, variants=["scratch"]), CPU, train, test))
    assert again["scratch"].history == got["scratch"].history


def test_init_gradients_vanish_explode_or_stay_level(fashion_small):
    train, test = fashion_small
    p = params("init", epochs=1, width=64, probe_batch=128, probe_steps=5, activations=["sigmoid", "tanh", "relu"],
               inits=["normal", "small", "xavier", "kaiming"])
    got = run_all(initialization.configs(p, CPU, train, test))
    norms = {name: o.by_layer["grad_norm"] for name, o in got.items()}
    assert all(len(v) == p.depth + 1 for o in got.values() for v in o.by_layer.values())
    ratio = {name: v[0] / v[-1] for name, v in norms.items()}
    assert ratio["small_sigmoid"] < 1e-6 and ratio["xavier_sigmoid"] < 1e-2  # vanishing towards the input
    for name in ("xavier_tanh", "kaiming_relu"):  # level, at init and after a few steps
        for key in ("grad_norm", "grad_norm_after"):
            values = got[name].by_layer[key]
            assert 0.1 < values[0] / values[-1] < 10, (name, key)
    assert min(norms["normal_relu"]) > 1e4 and ratio["normal_tanh"] > 100  # exploding
    assert got["normal_relu"].final["diverged"] == 1.0
    assert got["kaiming_relu"].final["diverged"] == 0.0
    assert got["kaiming_relu"].final["test_acc"] > got["xavier_sigmoid"].final["test_acc"] + 0.1
