"""RNN, GRU and LSTM written with tensors: the course's language models from scratch.

Each cell has the course's equations twice:
* `step`: one time step with autograd, the readable reference (`forward(..., fused=False)`);
* `fused_forward` / `fused_backward`: all steps without autograd plus the hand-written
  backward pass through time, driven by `_Recurrence` (the default).

Why the second form: nn.RNN/GRU/LSTM run their time loop in C++ (nn.LSTM in oneDNN); a Python
loop of autograd ops pays ~10 graph nodes per step and runs at under half their speed on a CPU.
The hand-written form keeps the sequential loop down to the matrix product and a few
multiplies per step:
* all gates share one input matrix `W_x` (inputs × gates·hidden) and one state matrix `W_h`
  (hidden × gates·hidden): one product per step for the state, not one per gate;
* the input products of all steps are taken before the loop, in one go; with one-hot inputs
  `one_hot(X) @ W_x + b` is the row lookup `(W_x + b)[X]` (`F.embedding`), which is what
  index inputs use; float inputs go through a real matmul;
* the forward loop writes gates and states into buffers for all steps; the backward pass
  first turns them into each gate's local derivative for all steps at once (a few large
  element-wise ops instead of ~20 small ones per step), so each backward step is one matmul
  and 3-4 multiplies;
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
            return F.embedding(inputs, self.W_x + self.b)  # bias added to V rows, not T·B
        return inputs @ self.W_x + self.b

    def forward(self, inputs: torch.Tensor, state: State, fused: bool = True) -> tuple[torch.Tensor, State]:
        """Run all steps; return the hidden states (T, B, hidden) and the final state. A cell that
        defines only `step` (a new one, before its hand-written backward) runs with autograd."""
        xw = self.input_products(inputs)
        if fused and type(self).fused_forward is not ScratchCell.fused_forward:
            hs, *last = _Recurrence.apply(self, xw, self.W_h, self.b_h, *state)
            return hs, tuple(last)
        outputs = []
        for t in range(xw.shape[0]):
            state = self.step(xw[t], state)
            outputs.append(state[0])
        return torch.stack(outputs), state

    def step(self, xw: torch.Tensor, state: State) -> State:  # pragma: no cover - abstract
        """One time step: `xw` is this step's `x W_x + b` (B, gates·hidden); return the new state."""
        raise NotImplementedError

    def fused_forward(self, xw, state, W_h, b_h, hs):  # pragma: no cover - abstract
        """Run every step without autograd, writing h_t into `hs[t + 1]` (`hs[0]` is the initial
        h); return the rest of the final state and what the backward pass needs."""
        raise NotImplementedError

    def fused_backward(self, saved, hs, d_h, d_rest, W_t):  # pragma: no cover - abstract
        """`d_h[t]`: the gradient reaching h_t from outside the recurrence (outputs, final state;
        0 for the initial state), `d_rest`: that of the rest of the final state. Return the
        gradients of the input products, of the state products `h W_h + b_h` (T, B, gates·hidden;
        the same tensor where the gates add the two) and of the initial state."""
        raise NotImplementedError


class RNNCell(ScratchCell):
    """H = tanh(X W_xh + H W_hh + b)."""

    def step(self, xw, state):
        (h,) = state
        return (torch.tanh(torch.addmm(xw, h, self.W_h)),)

    def fused_forward(self, xw, state, W_h, b_h, hs):
        for t in range(len(xw)):
            torch.addmm(xw[t], hs[t], W_h, out=hs[t + 1]).tanh_()
        return (), None

    def fused_backward(self, saved, hs, d_h, d_rest, W_t):
        local = _one_minus_square(hs[1:])  # tanh' of every step
        d_pre = torch.empty_like(local)
        dh = d_h[-1]
        for t in reversed(range(len(d_pre))):
            torch.mul(dh, local[t], out=d_pre[t])
            dh = torch.addmm(d_h[t], d_pre[t], W_t)
        return d_pre, d_pre, (dh,)


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

    def fused_forward(self, xw, state, W_h, b_h, hs):
        H = self.hidden
        hw = torch.empty_like(xw)  # h W_h + b_h of every step
        rz = torch.empty_like(xw[..., :2 * H])
        n = torch.empty_like(hs[1:])
        x_rz, x_n = xw.split((2 * H, H), dim=2)
        hw_rz, hw_n = hw.split((2 * H, H), dim=2)
        r, z = rz.split(H, dim=2)
        for t in range(len(xw)):
            torch.addmm(b_h, hs[t], W_h, out=hw[t])
            torch.add(x_rz[t], hw_rz[t], out=rz[t]).sigmoid_()
            torch.addcmul(x_n[t], r[t], hw_n[t], out=n[t]).tanh_()
            torch.lerp(n[t], hs[t], z[t], out=hs[t + 1])  # n + z (h - n)
        return (), (r, z, n, hw_n)

    def fused_backward(self, saved, hs, d_h, d_rest, W_t):
        r, z, n, hw_n = saved
        T, B, H = n.shape
        # d(h_t)/d(pre-activation) of r, z, n for every step: d_xw = dh * k_x, d_hw = dh * k_h
        k_x = n.new_empty(T, B, 3, H)
        k_r, k_z, k_n = k_x.unbind(2)
        _one_minus_square(n, out=k_n).addcmul_(k_n, z, value=-1)  # (1 - z) tanh'
        torch.sub(hs[:-1], n, out=k_z).mul_(_sigmoid_grad(z))
        torch.mul(k_n, hw_n, out=k_r).mul_(_sigmoid_grad(r))
        k_h = k_x.clone()
        k_h[:, :, 2].mul_(r)
        d_xw, d_hw = torch.empty_like(k_x), torch.empty_like(k_h)
        d_hw_rows = d_hw.view(T, B, 3 * H)
        dh = d_h[-1]
        for t in reversed(range(T)):
            torch.mul(k_x[t], dh[:, None], out=d_xw[t])
            torch.mul(k_h[t], dh[:, None], out=d_hw[t])
            dh = torch.addmm(torch.addcmul(d_h[t], dh, z[t]), d_hw_rows[t], W_t)  # via W_h and via z h
        return d_xw.view(T, B, 3 * H), d_hw_rows, (dh,)


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

    def fused_forward(self, xw, state, W_h, b_h, hs):
        H = self.hidden
        act = torch.empty_like(xw)  # sigmoid(i, f, o), tanh(g) of every step
        cs = torch.empty_like(hs)  # cs[0] is the initial C
        cs[0] = state[1]
        tc = torch.empty_like(hs[1:])
        i, f, g, o = act.split(H, dim=2)
        for t in range(len(xw)):
            gates = torch.addmm(xw[t], hs[t], W_h)
            torch.sigmoid(gates, out=act[t])
            torch.tanh(gates[:, 2 * H:3 * H], out=g[t])
            torch.mul(f[t], cs[t], out=cs[t + 1]).addcmul_(i[t], g[t])
            torch.tanh(cs[t + 1], out=tc[t])
            torch.mul(o[t], tc[t], out=hs[t + 1])
        return (cs[-1].clone(),), (act, cs, tc)

    def fused_backward(self, saved, hs, d_h, d_rest, W_t):
        act, cs, tc = saved
        i, f, g, o = act.split(self.hidden, dim=2)
        # d(c_t)/d(pre-activation) of i, f, g and d(h_t)/d(pre-activation of o), every step
        local = _sigmoid_grad(act)  # g's block is replaced by tanh' next
        k_i, k_f, k_g, k_o = local.split(self.hidden, dim=2)
        _one_minus_square(g, out=k_g).mul_(i)
        k_i.mul_(g)
        k_f.mul_(cs[:-1])
        k_o.mul_(tc)
        k_c = _one_minus_square(tc).mul_(o)  # d(c_t) from d(h_t)
        T, B, H = tc.shape
        k_ifg = local.view(T, B, 4, H)[:, :, :3]
        d_pre = torch.empty_like(local)  # gates = xw + hw: one gradient for both
        d_ifg, d_o = d_pre.view(T, B, 4, H)[:, :, :3], d_pre[..., 3 * H:]
        dh, dc_next = d_h[-1], d_rest[0]
        for t in reversed(range(T)):
            dc = torch.addcmul(dc_next, dh, k_c[t])
            torch.mul(k_ifg[t], dc[:, None], out=d_ifg[t])
            torch.mul(k_o[t], dh, out=d_o[t])
            dc_next = dc * f[t]
            dh = torch.addmm(d_h[t], d_pre[t], W_t)
        return d_pre, d_pre, (dh, dc_next)


def _one_minus_square(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """1 - x², tanh's derivative from its output, in one pass and without temporaries."""
    return torch.addcmul(x.new_ones(()), x, x, value=-1, out=out)


def _sigmoid_grad(s: torch.Tensor) -> torch.Tensor:
    """s (1 - s), the sigmoid's derivative from its output, in one pass."""
    return torch.addcmul(s, s, s, value=-1)


class _Recurrence(torch.autograd.Function):
    """Run a cell over all steps without autograd; backpropagate through time by hand."""

    @staticmethod
    def forward(ctx, cell, xw, W_h, b_h, *state):
        hs = xw.new_empty(xw.shape[0] + 1, *state[0].shape)  # hs[0]: initial h; hs[t + 1]: step t's
        hs[0] = state[0]
        rest, saved = cell.fused_forward(xw, state, W_h, b_h, hs)
        ctx.cell, ctx.saved, ctx.hs, ctx.has_b_h = cell, saved, hs, b_h is not None
        ctx.save_for_backward(W_h)
        return (hs[1:], hs[-1].clone(), *rest)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_hs, d_last_h, *d_rest):
        (W_h,) = ctx.saved_tensors
        hs = ctx.hs
        d_h = torch.zeros_like(hs)  # gradient reaching each h_t from outside the recurrence
        if d_hs is not None:
            d_h[1:] = d_hs
        if d_last_h is not None:
            d_h[-1] += d_last_h
        d_rest = [torch.zeros_like(hs[0]) if d is None else d for d in d_rest]
        W_t = W_h.t().contiguous()  # MKL multiplies by a contiguous W_h^T faster than by the view
        d_xw, d_hw, d_state = ctx.cell.fused_backward(ctx.saved, hs, d_h, d_rest, W_t)
        hidden, width = W_h.shape
        d_W_h = hs[:-1].reshape(-1, hidden).t() @ d_hw.reshape(-1, width)
        d_b_h = d_hw.sum(dim=(0, 1)) if ctx.has_b_h else None
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
