"""Generate text from a prefix by greedy decoding (always the most likely next character, so
the same model and prefix always give the same text).

The prefix is normalized like the model's corpus (e.g. lowercased for the Time Machine) and
any character still outside the vocabulary is fed as `<unk>`, so no prefix makes it fail.
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline.errors import ParamError
from pipeline.rnn.corpus import NORMALIZERS, Vocab


@torch.no_grad()
def generate(model: nn.Module, vocab: Vocab, prefix: str, num_chars: int, device: torch.device | str = "cpu",
             corpus: str | None = None) -> str:
    """`prefix` followed by `num_chars` generated characters."""
    if not prefix:
        raise ParamError("prefix must not be empty: generation starts from at least one character")
    if num_chars < 0:
        raise ParamError(f"num_chars must be >= 0; got {num_chars}")
    normalize = NORMALIZERS.get(corpus or "", lambda text: text)
    fed = vocab.to_indices(normalize(prefix))
    was_training = model.training
    model.eval()
    state = model.begin_state(1, device)
    # one character at a time, as the course does (a bidirectional model sees no future here either)
    for idx in fed:
        logits, state = model(torch.tensor([[idx]], device=device), state)
    out = []
    for _ in range(num_chars):
        nxt = int(logits[-1].argmax())
        out.append(nxt)
        logits, state = model(torch.tensor([[nxt]], device=device), state)
    model.train(was_training)
    return prefix + "".join(vocab.to_tokens(out))
