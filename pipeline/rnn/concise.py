"""The concise language model: nn.RNN / nn.GRU / nn.LSTM (any depth, one or two directions)
on one-hot inputs, then a linear output layer, as the course builds it."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class ConciseLM(nn.Module):
    """Same interface as `scratch.ScratchLM`: `begin_state`, `forward(X, state) -> (logits, state)`."""

    def __init__(self, cell: str, vocab_size: int, hidden: int, num_layers: int = 1,
                 bidirectional: bool = False):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = LAYERS[cell](vocab_size, hidden, num_layers=num_layers, bidirectional=bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.out = nn.Linear(hidden * self.num_directions, vocab_size)
        # On CPU nn.LSTM runs oneDNN's fused LSTM, whose backward also computes the (unused)
        # gradient of the one-hot inputs: a T·B × vocab × 4·hidden product. With few tokens the
        # fused cell wins (28 tokens: ~1.5x faster than ATen's LSTM); with the lyrics' 1,028 that
        # product dominates and ATen's LSTM is ~30% faster (benchmarks/rnn_bench.py, docs/rnn.md).
        self.onednn = vocab_size <= hidden

    def begin_state(self, batch_size: int, device: torch.device | str = "cpu"):
        shape = (self.num_directions * self.rnn.num_layers, batch_size, self.rnn.hidden_size)
        if isinstance(self.rnn, nn.LSTM):
            return torch.zeros(shape, device=device), torch.zeros(shape, device=device)
        return torch.zeros(shape, device=device)

    def forward(self, X: torch.Tensor, state):
        """X: (batch, steps) indices -> logits (steps·batch, vocab), time-major like the targets `Y.T`."""
        inputs = F.one_hot(X.T, self.vocab_size).to(torch.float32)
        with _onednn(self.onednn):
            hs, state = self.rnn(inputs, state)
        return self.out(hs.reshape(-1, hs.shape[-1])), state


@contextmanager
def _onednn(enabled: bool):
    """Allow or forbid oneDNN (only nn.LSTM uses it here) for the ops run inside; never allow it in
    a process that turned it off (PIPELINE_PORTABLE_MATH=1, pipeline/runtime.py)."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = enabled and before
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before
