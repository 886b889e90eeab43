"""rnn pipeline: scratch cells against their torch.nn twins, the concise model, model files, clipping."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pipeline.errors import DataError, ParamError
from pipeline.rnn.concise import ConciseLM
from pipeline.rnn.corpus import Vocab
from pipeline.rnn.models import ModelSpec, load_model, make_model, save_model
from pipeline.rnn.scratch import CELLS, ScratchCell, ScratchLM, _Recurrence, load_from_torch
from pipeline.rnn.train import clip_gradients

TWINS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
T, B, V, H = 9, 3, 6, 5


def _twin_state(state, cell):
    return (state[0][None], state[1][None]) if cell == "lstm" else state[0][None]


def _final(twin_state, cell):
    return (twin_state[0][0], twin_state[1][0]) if cell == "lstm" else (twin_state[0],)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "autograd"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_scratch_cell_matches_torch_twin(cell, fused):
    """Same weights, same inputs: outputs, final states and every gradient within 1e-5."""
    torch.manual_seed(0)
    twin = TWINS[cell](V, H)
    scratch = CELLS[cell](V, H)
    load_from_torch(scratch, twin)
    x = torch.randn(T, B, V)
    state = tuple(torch.randn(B, H) for _ in range(scratch.state_size))

    out, last = scratch(x, state, fused=fused)
    ref, ref_last = twin(x, _twin_state(state, cell))
    assert (out - ref).abs().max() < 1e-5
    for mine, theirs in zip(last, _final(ref_last, cell)):
        assert (mine - theirs).abs().max() < 1e-5

    weights = torch.arange(H, dtype=torch.float32)  # a loss that uses outputs and final states
    loss = (out ** 2).sum() + sum((s * weights).sum() for s in last)
    ref_loss = (ref ** 2).sum() + sum((s * weights).sum() for s in _final(ref_last, cell))
    loss.backward()
    ref_loss.backward()
    assert (scratch.W_x.grad - twin.weight_ih_l0.grad.T).abs().max() < 1e-5
    assert (scratch.W_h.grad - twin.weight_hh_l0.grad.T).abs().max() < 1e-5
    if scratch.b_h is None:
        assert (scratch.b.grad - twin.bias_ih_l0.grad).abs().max() < 1e-5
    else:
        assert (scratch.b_h.grad - twin.bias_hh_l0.grad).abs().max() < 1e-5


@pytest.mark.parametrize("cell", list(CELLS))
def test_fused_backward_passes_gradcheck(cell):
    """The hand-written backward through time against finite differences (float64)."""
    torch.manual_seed(1)
    scratch = CELLS[cell](4, 3).double()
    with torch.no_grad():
        scratch.W_h.normal_(0, 0.5)  # weights large enough for every term of the gradient to matter
    xw = torch.randn(5, 2, scratch.W_h.shape[1], dtype=torch.float64, requires_grad=True)
    W_h = scratch.W_h.detach().clone().requires_grad_()
    b_h = None if scratch.b_h is None else torch.randn(scratch.W_h.shape[1], dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(2, 3, dtype=torch.float64, requires_grad=True) for _ in range(scratch.state_size))

    def run(xw, W_h, b_h, *state):
        return _Recurrence.apply(scratch, xw, W_h, b_h, *state)

    assert torch.autograd.gradcheck(run, (xw, W_h, b_h, *state))


def test_index_inputs_equal_one_hot_inputs():
    torch.manual_seed(2)
    cell = CELLS["lstm"](V, H)
    X = torch.randint(0, V, (T, B))
    state = cell.begin_state(B)
    by_index, _ = cell(X, state)
    by_one_hot, _ = cell(nn.functional.one_hot(X, V).float(), state)
    assert (by_index - by_one_hot).abs().max() < 1e-6


def test_scratch_init_is_small_normal():
    torch.manual_seed(0)
    model = ScratchLM("gru", 50, 64)
    assert abs(model.cell.W_h.std().item() - 0.01) < 0.001 and model.cell.b.abs().max().item() == 0.0


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, False), (1, True), (2, True)])
@pytest.mark.parametrize("cell", list(CELLS))
def test_concise_and_scratch_shapes(cell, num_layers, bidirectional):
    models = [ConciseLM(cell, V, H, num_layers, bidirectional)]
    if num_layers == 1 and not bidirectional:
        models.append(ScratchLM(cell, V, H))
    X = torch.randint(0, V, (B, T))
    for model in models:
        logits, state = model(X, model.begin_state(B))
        assert logits.shape == (T * B, V)
        logits, _ = model(X, state)  # the state carries over
        assert torch.isfinite(logits).all()


def test_model_file_round_trip(tmp_path):
    vocab = Vocab(list("abcab"))
    spec = ModelSpec("lstm", "concise", len(vocab), 8, num_layers=2)
    torch.manual_seed(0)
    model = make_model(spec)
    save_model(tmp_path / "m.pt", model, spec, vocab, "timemachine")
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.spec == spec and loaded.vocab.idx_to_token == vocab.idx_to_token and loaded.corpus == "timemachine"
    X = torch.randint(0, len(vocab), (2, 4))
    model.eval()
    assert torch.equal(model(X, model.begin_state(2))[0], loaded.model(X, loaded.model.begin_state(2))[0])
    with pytest.raises(DataError, match="not found"):
        load_model(tmp_path / "missing.pt")


def test_make_model_rejects_bad_specs():
    with pytest.raises(ParamError, match="unknown cell 'lstn'"):
        make_model(ModelSpec("lstn", "concise", 5, 4))
    with pytest.raises(ParamError, match="scratch models have one layer"):
        make_model(ModelSpec("gru", "scratch", 5, 4, num_layers=2))


def test_clipping_bounds_the_global_gradient_norm():
    torch.manual_seed(0)
    model = ConciseLM("lstm", V, H)
    logits, _ = model(torch.randint(0, V, (B, T)), model.begin_state(B))
    (logits.pow(2).sum() * 1000).backward()  # a huge loss: gradients far above θ
    grads = [p.grad for p in model.parameters()]
    before = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    direction = [g.clone() / before for g in grads]
    assert clip_gradients(model.parameters(), 1.0) == pytest.approx(before, rel=1e-5)
    after = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters()])))
    assert before > 1.0 and after <= 1.0 + 1e-5
    # same direction
    assert all(torch.allclose(p.grad, d * after, atol=1e-6) for p, d in zip(model.parameters(), direction))
    clip_gradients(model.parameters(), 10.0)  # below θ: left alone
    assert all(torch.allclose(p.grad, d * after, atol=1e-6) for p, d in zip(model.parameters(), direction))


class _ReluCell(ScratchCell):
    """CONTRIBUTING's new-cell recipe: an Elman cell with ReLU, `step` only (no fused form yet)."""

    def step(self, xw, state):
        (h,) = state
        return (torch.relu(torch.addmm(xw, h, self.W_h)),)


def test_a_new_cell_with_only_its_step_trains_and_is_checked_in_the_experiment_config(monkeypatch):
    from pipeline.params import build
    from pipeline.rnn.config import ExperimentConfig

    monkeypatch.setitem(CELLS, "relu", _ReluCell)  # the recipe's CELLS line
    model = make_model(ModelSpec("relu", "scratch", V, H))
    X = torch.randint(0, V, (B, T))
    logits, _ = model(X, model.begin_state(B))
    loss = nn.functional.cross_entropy(logits, X.T.reshape(-1))
    loss.backward()  # autograd through `step`: no hand-written backward needed
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert build(ExperimentConfig, {"corpus": "timemachine", "cell": "relu", "impl": "scratch"}, "e").cell == "relu"
    with pytest.raises(ParamError, match=r"'e.cell'.*no torch.nn layer.*use impl 'scratch'"):
        build(ExperimentConfig, {"corpus": "timemachine", "cell": "relu", "impl": "concise"}, "e")
    with pytest.raises(ParamError, match=r"'e.cell' must be one of rnn, gru, lstm, relu; got 'tanh'"):
        build(ExperimentConfig, {"corpus": "timemachine", "cell": "tanh"}, "e")
