"""Bars of issue 4 for the rnn pipeline: speed and quality figures, printed (never timed tests).

    python benchmarks/rnn_bench.py speed      # tokens/s of every model, and the two speed ratios
    python benchmarks/rnn_bench.py quality    # the course's settings: 500 epochs (Time Machine), 160 (lyrics)

speed: one training step (forward, backward, clipping, optimizer) on the Time Machine's batch
shape (batch 32, 35 steps, hidden 256, 28 tokens), repeated in interleaved rounds so load from
other processes hits every model alike; the median round counts. Rounds are timed in CPU
seconds of this process by default (`--clock cpu`): on a shared machine, wall time mostly
measures how long the process waited for a core. Compares
* concise (nn.RNN/GRU/LSTM) against a plain Python loop over nn.RNNCell/GRUCell/LSTMCell with
  the same one-hot inputs and output layer (bar: ratio >= 1);
* scratch (fused gates, hand-written backward) against concise (bar: GRU and LSTM >= 0.8); the
  autograd form of the scratch cells is shown for reference.
quality: trains with the course's settings (batch 32, 35 steps, hidden 256, sequential batches;
Time Machine: SGD lr 1, clip 1, 500 epochs; lyrics: Adam lr 0.01, clip 0.01, 160 epochs, as the
course's concise lyrics models) and prints the final perplexities against the bars, tokens/s and
the samples (bidirectional LSTM included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.rnn.concise import ConciseLM
from pipeline.rnn.config import TrainConfig
from pipeline.rnn.corpus import load_corpus
from pipeline.rnn.generate import generate
from pipeline.rnn.models import ModelSpec, make_model
from pipeline.rnn.scratch import ScratchLM
from pipeline.rnn.train import clip_gradients, train_language_model
from pipeline.runtime import describe_device, pick_device
from pipeline.runtime import keep_freed_memory

CELL_LOOPS = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}


class CellLoopLM(nn.Module):
    """The same language model as ConciseLM, but stepping an nn.*Cell in a Python loop."""

    def __init__(self, cell: str, vocab_size: int, hidden: int):
        super().__init__()
        self.vocab_size, self.hidden, self.lstm = vocab_size, hidden, cell == "lstm"
        self.cell = CELL_LOOPS[cell](vocab_size, hidden)
        self.out = nn.Linear(hidden, vocab_size)

    def begin_state(self, batch_size, device="cpu"):
        h = torch.zeros(batch_size, self.hidden, device=device)
        return (h, h.clone()) if self.lstm else h

    def forward(self, X, state):
        inputs = nn.functional.one_hot(X.T, self.vocab_size).to(torch.float32)
        outputs = []
        for x in inputs:
            state = self.cell(x, state)
            outputs.append(state[0] if self.lstm else state)
        hs = torch.stack(outputs)
        return self.out(hs.reshape(-1, self.hidden)), state


class UnfusedScratchLM(ScratchLM):
    """The scratch model with autograd through every gate op (the cells' reference `step`)."""

    def forward(self, X, state):
        hs, state = self.cell(X.T, state, fused=False)
        return torch.addmm(self.b_q, hs.reshape(-1, hs.shape[-1]), self.W_q), state


def speed_models(vocab: int, hidden: int) -> dict[str, nn.Module]:
    models: dict[str, nn.Module] = {}
    for cell in ("rnn", "gru", "lstm"):
        models[f"{cell}-scratch"] = ScratchLM(cell, vocab, hidden)
        models[f"{cell}-scratch-autograd"] = UnfusedScratchLM(cell, vocab, hidden)
        models[f"{cell}-concise"] = ConciseLM(cell, vocab, hidden)
        models[f"{cell}-nn-cell-loop"] = CellLoopLM(cell, vocab, hidden)
    models["lstm-deep-concise"] = ConciseLM("lstm", vocab, hidden, num_layers=2)
    models["lstm-bi-concise"] = ConciseLM("lstm", vocab, hidden, bidirectional=True)
    return models


def speed(args) -> dict:
    device = pick_device(args.device)
    torch.manual_seed(0)
    X = torch.randint(0, args.vocab, (args.batch_size, args.num_steps), device=device)
    Y = torch.randint(0, args.vocab, (args.batch_size, args.num_steps), device=device)
    models = {k: m.to(device) for k, m in speed_models(args.vocab, args.hidden).items()
              if not args.cells or k.split("-")[0] in args.cells}
    optimizers = {k: torch.optim.SGD(m.parameters(), lr=0.1) for k, m in models.items()}
    loss_fn = nn.CrossEntropyLoss()

    def step(name):
        model = models[name]
        logits, _ = model(X, model.begin_state(args.batch_size, device))
        loss = loss_fn(logits, Y.T.reshape(-1))
        optimizers[name].zero_grad()
        loss.backward()
        clip_gradients(model.parameters(), 1.0)
        optimizers[name].step()
        return loss.item()

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for name in models:  # warm-up
        step(name)
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name in models:
            start = clock()
            for _ in range(args.steps):
                step(name)
            seconds[name].append(clock() - start)
    tokens = args.steps * args.batch_size * args.num_steps
    tps = {name: tokens / statistics.median(s) for name, s in seconds.items()}
    print(f"device {describe_device(device)}, threads {torch.get_num_threads()}, batch {args.batch_size} × "
          f"{args.num_steps} steps, hidden {args.hidden}, vocab {args.vocab}; median of {args.rounds} rounds of "
          f"{args.steps} training steps, {args.clock} time")
    print(f"{'model':28s} {'tokens/s':>10s}")
    for name, value in tps.items():
        print(f"{name:28s} {value:10.0f}")
    ratios = {}
    print("\nbar: concise / nn-cell-loop >= 1;  scratch / concise >= 0.8 (GRU, LSTM)")
    for cell in args.cells or ("rnn", "gru", "lstm"):
        ratios[f"{cell}_concise_vs_cell_loop"] = tps[f"{cell}-concise"] / tps[f"{cell}-nn-cell-loop"]
        ratios[f"{cell}_scratch_vs_concise"] = tps[f"{cell}-scratch"] / tps[f"{cell}-concise"]
        ratios[f"{cell}_scratch_autograd_vs_concise"] = tps[f"{cell}-scratch-autograd"] / tps[f"{cell}-concise"]
        print(f"{cell:5s} concise/cell-loop {ratios[f'{cell}_concise_vs_cell_loop']:5.2f}   "
              f"scratch/concise {ratios[f'{cell}_scratch_vs_concise']:5.2f}   "
              f"(scratch with autograd/concise {ratios[f'{cell}_scratch_autograd_vs_concise']:5.2f})")
    return {"tokens_per_sec": tps, "ratios": ratios}


TM = {"epochs": 500, "optimizer": "sgd", "lr": 1.0, "clip": 1.0}
LYRICS = {"epochs": 160, "optimizer": "adam", "lr": 0.01, "clip": 0.01}
QUALITY = [  # name, corpus, cell, num_layers, bidirectional, settings, bar (max perplexity or None)
    ("tm-rnn-concise", "timemachine", "rnn", 1, False, TM, 1.3),
    ("tm-gru-concise", "timemachine", "gru", 1, False, TM, 1.1),
    ("tm-lstm-concise", "timemachine", "lstm", 1, False, TM, 1.1),
    ("tm-lstm-deep", "timemachine", "lstm", 2, False, TM, 1.1),
    ("tm-lstm-bi", "timemachine", "lstm", 1, True, TM, None),
    ("lyrics-gru-concise", "jaychou-lyrics", "gru", 1, False, LYRICS, 1.1),
    ("lyrics-lstm-concise", "jaychou-lyrics", "lstm", 1, False, LYRICS, 1.1),
]
PREFIXES = {"timemachine": ["time traveller", "traveller"], "jaychou-lyrics": ["分开", "不分开"]}


def quality(args) -> dict:
    device = pick_device(args.device)
    results = {}
    for name, corpus_name, cell, layers, bi, settings, bar in QUALITY:
        if args.only and name not in args.only:
            continue
        epochs = args.epochs or settings["epochs"]
        corpus = load_corpus(corpus_name, Path(args.raw_dir), 10000, 0)
        cfg = TrainConfig(hidden=256, batch_size=32, num_steps=35, scheme="sequential", epochs=epochs,
                          optimizer=args.optimizer or settings["optimizer"], lr=args.lr or settings["lr"],
                          clip=settings["clip"], seed=0)
        torch.manual_seed(cfg.seed)
        model = make_model(ModelSpec(cell, "concise", len(corpus.vocab), 256, layers, bi))
        start = time.perf_counter()
        history = train_language_model(model, corpus.indices, cfg, device, desc=name)
        ppl, tps = history["perplexity"][-1], history["tokens_per_sec"][-1]
        samples = [generate(model, corpus.vocab, p, 50, device, corpus=corpus_name) for p in PREFIXES[corpus_name]]
        verdict = "" if bar is None else ("  PASS" if ppl <= bar else "  FAIL") + f" (bar <= {bar})"
        print(f"{name:20s} {epochs} epochs {cfg.optimizer} lr {cfg.lr:g} clip {cfg.clip:g}: perplexity {ppl:.3f}{verdict}, {tps:.0f} tokens/s, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        for sample in samples:
            print(f"    {sample}", flush=True)
        results[name] = {"epochs": epochs, "perplexity": ppl, "bar": bar, "tokens_per_sec": tps,
                         "samples": samples}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["speed", "quality"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    speed_group = parser.add_argument_group("speed")
    speed_group.add_argument("--batch-size", type=int, default=32)
    speed_group.add_argument("--num-steps", type=int, default=35)
    speed_group.add_argument("--hidden", type=int, default=256)
    speed_group.add_argument("--vocab", type=int, default=28)
    speed_group.add_argument("--steps", type=int, default=5, help="training steps per round")
    speed_group.add_argument("--rounds", type=int, default=7)
    speed_group.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                             help="time rounds in CPU seconds of this process (default) or wall seconds")
    speed_group.add_argument("--cells", nargs="*", choices=["rnn", "gru", "lstm"], help="cells to time (default: all)")
    quality_group = parser.add_argument_group("quality")
    quality_group.add_argument("--only", nargs="*", help="experiments to run (default: all)")
    quality_group.add_argument("--epochs", type=int, help="override the course's epochs (quick check)")
    quality_group.add_argument("--optimizer", help="override the course's optimizer (sgd / adam)")
    quality_group.add_argument("--lr", type=float, help="override the course's learning rate")
    quality_group.add_argument("--raw-dir", default="data/raw")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the stages do
    result = speed(args) if args.what == "speed" else quality(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
