"""Run one experiment of `rnn.experiments` end to end: read its corpus, train, generate the
samples, write every stage output and log the MLflow run (experiment `rnn`, one run each)."""

from __future__ import annotations

import time
from pathlib import Path

from pipeline import tracking
from pipeline.files import write_metrics, write_text
from pipeline.plots import write_rows
from pipeline.rnn.batching import check_fits
from pipeline.rnn.config import Experiment
from pipeline.rnn.corpus import load_corpus
from pipeline.rnn.generate import generate
from pipeline.rnn.models import ModelSpec, make_model, save_model
from pipeline.rnn.train import train_language_model
from pipeline.stage import Stage, StageOutputs

PIPELINE = "rnn"


def run_experiment(exp: Experiment, raw_dir: Path, outputs: StageOutputs, progress: bool = True) -> dict:
    """Train experiment `exp`, write its outputs (`outputs`: `StageOutputs("rnn", exp.name)` for
    the stage), return its metrics."""
    cfg = exp.train
    overridden = set(exp.model.train)
    where = f"rnn.experiments.{exp.name}.train"
    stage = Stage(PIPELINE, exp.name, seed=cfg.seed, cpu_threads=cfg.cpu_threads, device=cfg.device,
                  where=where if "device" in overridden else "rnn.train", uses_torch=True, outputs=outputs)
    corpus = load_corpus(exp.model.corpus, raw_dir, exp.corpus.max_tokens, exp.corpus.min_freq)
    check_fits(len(corpus.indices), cfg.batch_size, cfg.num_steps,  # before any MLflow run starts
               where=where if {"batch_size", "num_steps"} & overridden else "rnn.train",
               corpus=f"corpus '{exp.model.corpus}'")
    spec = ModelSpec(exp.model.cell, exp.model.impl, len(corpus.vocab), cfg.hidden,
                     exp.model.num_layers, exp.model.bidirectional)
    stage.seed_again()  # the initial weights come from the seed alone, whatever ran since
    model = make_model(spec)
    model_tag = f"{spec.cell}-{spec.impl}" + (f"-{spec.num_layers}layers" if spec.num_layers > 1 else "") \
        + ("-bidirectional" if spec.bidirectional else "")
    tags = {"corpus": exp.model.corpus, "dataset": exp.model.corpus, "model": model_tag, "cell": spec.cell,
            "impl": spec.impl}
    params = {**exp.as_params(), "vocab_size": len(corpus.vocab), "corpus_tokens": len(corpus.indices)}

    with stage.tracked(params=params, tags=tags):
        started = time.perf_counter()
        lr_param = f"{where}.lr" if "lr" in overridden else "rnn.train.lr"
        history = train_language_model(model, corpus.indices, cfg, stage.device, desc=exp.name, progress=progress,
                                       lr_param=lr_param)
        train_seconds = time.perf_counter() - started
        samples = [generate(model, corpus.vocab, p, cfg.num_chars, stage.device, corpus=exp.model.corpus)
                   for p in exp.corpus.prefixes]
        # DVC-tracked outputs hold what repeats: no speed (tokens/s, seconds), which goes to MLflow only
        metrics = {"perplexity": history["perplexity"][-1], "epochs": cfg.epochs}
        speed = {"tokens_per_sec": history["tokens_per_sec"][-1], "train_seconds": train_seconds}
        model_file, samples_file = outputs.model(".pt"), outputs.model(".samples.txt")
        save_model(model_file, model, spec, corpus.vocab, exp.model.corpus,
                   extra={"experiment": exp.name, "metrics": metrics})
        write_text(samples_file, "".join(f"{s}\n" for s in samples))
        write_rows(outputs.plot(".csv"), [{"epoch": i + 1, "perplexity": p}
                                          for i, p in enumerate(history["perplexity"])])
        tracking.log_history(history)  # the last epoch's values are the run's perplexity and tokens_per_sec
        tracking.log_metrics({"train_seconds": train_seconds})
        tracking.log_artifact(samples_file, "samples")
        tracking.log_artifact(model_file, "model")
        write_metrics(outputs.metrics, {**metrics, **stage.device_tags})
    return {**metrics, **speed, **stage.device_tags, "samples": samples}
