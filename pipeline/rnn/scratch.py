"""RNN, GRU and LSTM written with tensors: the course's language models from scratch.

Each cell has the course's equations twice:
* `step`: one time step with autograd, the readable reference (`forward(..., fused=False)`);
* `fused_step` / `fused_backward`: the same step without autograd plus its hand-written
  gradient, driven over the whole sequence by `_Recurrence` (the default).

Why the second form: nn.RNN/GRU/LSTM run their time loop in C++; a Python loop of autograd
ops pays ~10 graph nodes per step and runs at under half their speed on a CPU. Doing the
backward pass through time by hand keeps only the matrix products that cuDNN also does:
* all gates share one input matrix `W_x` (inputs × gates·hidden) and one state matrix `W_h`
  (hidden × gates·hidden): one product per step for the state, not one per gate;
* the input products of all steps are taken before the loop, in one go; with one-hot inputs
  `one_hot(X) @ W_x` is the row lookup `W_x[X]` (`F.embedding`), which is what index inputs
  use; float inputs go through a real matmul;
* the gradient of `W_h` is one product over all steps after the backward loop.

Gate order and equations follow torch.nn (LSTM: i, f, g, o; GRU: r, z, n), so a cell loads
the weights of its torch.nn twin and gives the same numbers. The GRU therefore applies the
reset gate to the state's product, `n = tanh(x W_xn + b_xn + r ⊙ (h W_hn + b_hn))` (cuDNN's
form, what nn.GRU computes), not before it, `(r ⊙ h) W_hn` (the course's form): only the
former lets the three state products share one matmul. Like nn.GRU it keeps a state-side
bias `b_h` next to the input-side `b`. Weights start N(0, 0.01), biases 0, as in the course.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

State = tuple[torch.Tensor, ...]


class ScratchCell(nn.Module):
    """One recurrent layer; subclasses give the gate count and the per-step update."""

    gates = 1
    state_size = 1  # tensors in the state: (H,) or (H, C)
    state_bias = False  # GRU: a bias on the state side too, inside r ⊙ (...)

    def __init__(self, input_size: int, hidden: int, sigma: float = 0.01):
        super().__init__()
        self.input_size, self.hidden = input_size, hidden
        width = self.gates * hidden
        self.W_x = nn.Parameter(torch.randn(input_size, width) * sigma)
        self.W_h = nn.Parameter(torch.randn(hidden, width) * sigma)
        self.b = nn.Parameter(torch.zeros(width))
        self.b_h = nn.Parameter(torch.zeros(width)) if self.state_bias else None

    def begin_state(self, batch_size: int, device: torch.device | str = "cpu") -> State:
        return tuple(torch.zeros(batch_size, self.hidden, device=device) for _ in range(self.state_size))

    def input_products(self, inputs: torch.Tensor) -> torch.Tensor:
        """`inputs @ W_x + b` for all steps: (T, B) indices (one-hot) or (T, B, input_size) floats."""
        if not inputs.is_floating_point():
            return F.embedding(inputs, self.W_x) + self.b
        return inputs @ self.W_x + self.b

    def forward(self, inputs: torch.Tensor, state: State, fused: bool = True) -> tuple[torch.Tensor, State]:
        """Run all steps; return the hidden states (T, B, hidden) and the final state."""
        xw = self.input_products(inputs)
        if fused:
            hs, *last = _Recurrence.apply(self, xw, self.W_h, self.b_h, *state)
            return hs, tuple(last)
        outputs = []
        for t in range(xw.shape[0]):
            state = self.step(xw[t], state)
            outputs.append(state[0])
        return torch.stack(outputs), state

    def step(self, xw: torch.Tensor, state: State) -> State:  # pragma: no cover - abstract
        raise NotImplementedError

    def fused_step(self, xw, state, W_h, b_h):  # pragma: no cover - abstract
        """(new state, what the backward step needs); runs without autograd."""
        raise NotImplementedError

    def fused_backward(self, d_state, saved, dxw_out, dhw_out):  # pragma: no cover - abstract
        """Write the gradients of the step's input and state products into `dxw_out`/`dhw_out`;
        return the state gradients that do not flow through `W_h` (None where there are none)."""
        raise NotImplementedError


class RNNCell(ScratchCell):
    """H = tanh(X W_xh + H W_hh + b)."""

    def step(self, xw, state):
        (h,) = state
        return (torch.tanh(torch.addmm(xw, h, self.W_h)),)

    def fused_step(self, xw, state, W_h, b_h):
        h = torch.addmm(xw, state[0], W_h).tanh_()
        return (h,), h

    def fused_backward(self, d_state, h, dxw_out, dhw_out):
        torch.mul(d_state[0], 1 - h * h, out=dxw_out)
        return (None,)


class GRUCell(ScratchCell):
    """Reset gate r, update gate z, candidate n; H = (1 - z) n + z H."""

    gates = 3
    state_bias = True

    def step(self, xw, state):
        (h,) = state
        hidden = self.hidden
        hw = torch.addmm(self.b_h, h, self.W_h)
        r = torch.sigmoid(xw[:, :hidden] + hw[:, :hidden])
        z = torch.sigmoid(xw[:, hidden:2 * hidden] + hw[:, hidden:2 * hidden])
        n = torch.tanh(xw[:, 2 * hidden:] + r * hw[:, 2 * hidden:])
        return ((1 - z) * n + z * h,)

    def fused_step(self, xw, state, W_h, b_h):
        (h,) = state
        hidden = self.hidden
        hw = torch.addmm(b_h, h, W_h)
        rz = (xw[:, :2 * hidden] + hw[:, :2 * hidden]).sigmoid_()
        r, z = rz[:, :hidden], rz[:, hidden:]
        hn = hw[:, 2 * hidden:]
        n = torch.addcmul(xw[:, 2 * hidden:], r, hn).tanh_()
        h_new = torch.lerp(n, h, z)  # n + z (h - n)
        return (h_new,), (rz, n, hn, h)

    def fused_backward(self, d_state, saved, dxw_out, dhw_out):
        rz, n, hn, h = saved
        hidden = self.hidden
        r, z = rz[:, :hidden], rz[:, hidden:]
        dh = d_state[0]
        dan = dh * (1 - z) * (1 - n * n)  # through the candidate's tanh
        torch.mul(dan * hn, r * (1 - r), out=dxw_out[:, :hidden])
        torch.mul(dh * (h - n), z * (1 - z), out=dxw_out[:, hidden:2 * hidden])
        dxw_out[:, 2 * hidden:] = dan
        dhw_out[:, :2 * hidden] = dxw_out[:, :2 * hidden]
        torch.mul(dan, r, out=dhw_out[:, 2 * hidden:])
        return (dh * z,)


class LSTMCell(ScratchCell):
    """Input i, forget f, output o gates and candidate g; C = f C + i g, H = o tanh(C)."""

    gates = 4
    state_size = 2

    def step(self, xw, state):
        h, c = state
        i, f, g, o = torch.addmm(xw, h, self.W_h).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def fused_step(self, xw, state, W_h, b_h):
        h, c = state
        hidden = self.hidden
        gates = torch.addmm(xw, h, W_h)
        act = gates.sigmoid()
        act[:, 2 * hidden:3 * hidden] = gates[:, 2 * hidden:3 * hidden].tanh()
        i, f, g, o = act.chunk(4, dim=1)
        c_new = torch.addcmul(f * c, i, g)
        tc = c_new.tanh()
        return (o * tc, c_new), (act, c, tc)

    def fused_backward(self, d_state, saved, dxw_out, dhw_out):
        act, c, tc = saved
        i, f, g, o = act.chunk(4, dim=1)
        dh, dc = d_state
        dc = dh * o * (1 - tc * tc) if dc is None else torch.addcmul(dc, dh * o, 1 - tc * tc)
        di, df, dg, do = dxw_out.chunk(4, dim=1)
        torch.mul(dc * g, i * (1 - i), out=di)
        torch.mul(dc * c, f * (1 - f), out=df)
        torch.mul(dc * i, 1 - g * g, out=dg)
        torch.mul(dh * tc, o * (1 - o), out=do)
        return (None, dc * f)


class _Recurrence(torch.autograd.Function):
    """Run a cell over all steps without autograd; backpropagate through time by hand."""

    @staticmethod
    def forward(ctx, cell, xw, W_h, b_h, *state):
        outputs, saved, h_prev = [], [], []
        for t in range(xw.shape[0]):
            h_prev.append(state[0])
            state, keep = cell.fused_step(xw[t], state, W_h, b_h)
            outputs.append(state[0])
            saved.append(keep)
        ctx.cell, ctx.saved, ctx.h_prev = cell, saved, torch.stack(h_prev)
        ctx.has_b_h = b_h is not None
        ctx.save_for_backward(W_h)
        return (torch.stack(outputs), *state)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_outputs, *d_last):
        (W_h,) = ctx.saved_tensors
        cell, steps = ctx.cell, len(ctx.saved)
        d_xw = torch.empty(steps, *ctx.h_prev.shape[1:2], W_h.shape[1], dtype=W_h.dtype, device=W_h.device)
        d_hw = torch.empty_like(d_xw) if cell.state_bias else d_xw  # RNN/LSTM: gates = xw + hw
        d_state = list(d_last)
        W_t = W_h.t()
        for t in reversed(range(steps)):
            dh = d_state[0]
            if d_outputs is not None:
                dh = d_outputs[t] if dh is None else dh + d_outputs[t]
            if dh is None:
                dh = torch.zeros_like(ctx.h_prev[t])
            direct = cell.fused_backward((dh, *d_state[1:]), ctx.saved[t], d_xw[t], d_hw[t])
            d_state = [d_hw[t] @ W_t if direct[0] is None else torch.addmm(direct[0], d_hw[t], W_t),
                       *direct[1:]]
        hidden = W_h.shape[0]
        d_W_h = ctx.h_prev.reshape(-1, hidden).t() @ d_hw.reshape(-1, d_hw.shape[-1])
        d_b_h = d_hw.sum(dim=(0, 1)) if ctx.has_b_h else None
        d_state = [torch.zeros_like(ctx.h_prev[0]) if d is None else d for d in d_state]
        return (None, d_xw, d_W_h, d_b_h, *d_state)


CELLS = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}


class ScratchLM(nn.Module):
    """Character language model: a scratch cell on one-hot inputs, then a linear output layer."""

    def __init__(self, cell: str, vocab_size: int, hidden: int, sigma: float = 0.01):
        super().__init__()
        self.vocab_size = vocab_size
        self.cell = CELLS[cell](vocab_size, hidden, sigma)
        self.W_q = nn.Parameter(torch.randn(hidden, vocab_size) * sigma)
        self.b_q = nn.Parameter(torch.zeros(vocab_size))

    def begin_state(self, batch_size: int, device: torch.device | str = "cpu") -> State:
        return self.cell.begin_state(batch_size, device)

    def forward(self, X: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """X: (batch, steps) indices -> logits (steps·batch, vocab), time-major like the targets `Y.T`."""
        hs, state = self.cell(X.T, state)
        return torch.addmm(self.b_q, hs.reshape(-1, hs.shape[-1]), self.W_q), state


@torch.no_grad()
def load_from_torch(cell: ScratchCell, twin: nn.Module) -> None:
    """Copy the weights of a one-layer nn.RNN/GRU/LSTM (or its *Cell) into `cell`."""
    suffix = "_l0" if hasattr(twin, "weight_ih_l0") else ""
    w_ih, w_hh = getattr(twin, "weight_ih" + suffix), getattr(twin, "weight_hh" + suffix)
    b_ih, b_hh = getattr(twin, "bias_ih" + suffix), getattr(twin, "bias_hh" + suffix)
    cell.W_x.copy_(w_ih.T)
    cell.W_h.copy_(w_hh.T)
    if cell.b_h is not None:
        cell.b.copy_(b_ih)
        cell.b_h.copy_(b_hh)
    else:
        cell.b.copy_(b_ih + b_hh)
