"""Run one experiment of `rnn.experiments` end to end: read its corpus, train, generate the
samples, write every stage output and log the MLflow run (experiment `rnn`, one run each)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pipeline import tracking
from pipeline.files import write_json, write_text
from pipeline.plots import write_rows
from pipeline.rnn.batching import check_fits
from pipeline.rnn.config import Experiment
from pipeline.rnn.corpus import load_corpus
from pipeline.rnn.generate import generate
from pipeline.rnn.models import ModelSpec, make_model, save_model
from pipeline.rnn.train import train_language_model
from pipeline.runtime import describe_device, pick_device, seed_everything, set_cpu_threads
from pipeline.runtime import keep_freed_memory

PIPELINE = "rnn"


@dataclass(frozen=True)
class Outputs:
    """Where one experiment's stage writes (dvc.yaml declares the same paths)."""

    model: Path
    samples: Path
    metrics: Path
    plot: Path
    run_record: Path

    @classmethod
    def for_experiment(cls, name: str, root: Path = Path(".")) -> Outputs:
        return cls(model=root / "models" / "rnn" / f"{name}.pt",
                   samples=root / "models" / "rnn" / f"{name}.samples.txt",
                   metrics=root / "metrics" / "rnn" / f"{name}.json",
                   plot=root / "plots" / "rnn" / f"{name}.csv",
                   run_record=root / "runs" / "rnn" / f"{name}.json")


def run_experiment(exp: Experiment, raw_dir: Path, outputs: Outputs, progress: bool = True) -> dict:
    """Train experiment `exp`, write its outputs, return its metrics."""
    cfg = exp.train
    set_cpu_threads(cfg.cpu_threads)
    keep_freed_memory()
    device = pick_device(cfg.device)
    corpus = load_corpus(exp.model.corpus, raw_dir, exp.corpus.max_tokens, exp.corpus.min_freq)
    overridden = {"batch_size", "num_steps"} & set(exp.model.train)
    check_fits(len(corpus.indices), cfg.batch_size, cfg.num_steps,  # before any MLflow run starts
               where=f"rnn.experiments.{exp.name}.train" if overridden else "rnn.train",
               corpus=f"corpus '{exp.model.corpus}'")
    spec = ModelSpec(exp.model.cell, exp.model.impl, len(corpus.vocab), cfg.hidden,
                     exp.model.num_layers, exp.model.bidirectional)
    seed_everything(cfg.seed)
    model = make_model(spec)
    device_tags = describe_device(device)
    model_tag = f"{spec.cell}-{spec.impl}" + (f"-{spec.num_layers}layers" if spec.num_layers > 1 else "") \
        + ("-bidirectional" if spec.bidirectional else "")
    tags = {**device_tags, "seed": cfg.seed, "corpus": exp.model.corpus, "dataset": exp.model.corpus,
            "model": model_tag, "cell": spec.cell, "impl": spec.impl}
    params = {**exp.as_params(), "vocab_size": len(corpus.vocab), "corpus_tokens": len(corpus.indices)}

    with tracking.start_run(PIPELINE, exp.name, params=params, tags=tags) as run:
        started = time.perf_counter()
        lr_param = f"rnn.experiments.{exp.name}.train.lr" if "lr" in exp.model.train else "rnn.train.lr"
        history = train_language_model(model, corpus.indices, cfg, device, desc=exp.name, progress=progress,
                                       lr_param=lr_param)
        train_seconds = time.perf_counter() - started
        samples = [generate(model, corpus.vocab, p, cfg.num_chars, device, corpus=exp.model.corpus)
                   for p in exp.corpus.prefixes]
        metrics = {
            "perplexity": history["perplexity"][-1],
            "tokens_per_sec": history["tokens_per_sec"][-1],
            "train_seconds": train_seconds,
            "epochs": cfg.epochs,
        }
        save_model(outputs.model, model, spec, corpus.vocab, exp.model.corpus,
                   extra={"experiment": exp.name, "metrics": metrics})
        write_text(outputs.samples, "".join(f"{s}\n" for s in samples))
        write_rows(outputs.plot, [{"epoch": i + 1, "perplexity": p, "tokens_per_sec": t}
                                  for i, (p, t) in enumerate(zip(history["perplexity"], history["tokens_per_sec"]))])
        tracking.log_history(history)  # the last epoch's values are the run's perplexity and tokens_per_sec
        tracking.log_metrics({"train_seconds": train_seconds})
        tracking.log_artifact(outputs.samples, "samples")
        tracking.log_artifact(outputs.model, "model")
        write_json(outputs.metrics, {**metrics, **device_tags})
        tracking.write_run_record(outputs.run_record, run)
    return {**metrics, **device_tags, "samples": samples}
