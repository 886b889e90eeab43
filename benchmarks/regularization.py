"""Speed and result figures of the regularization pipeline (targets: every reg_* stage from scratch
in <= 3 min on the 2-core CPU, issue 10: their training in well under 1 min; dropout scratch and
concise >= 0.85 test accuracy with the shipped params: 4 epochs, batch 128, lr decayed).

    python benchmarks/regularization.py                 # every stage, as DVC runs it, plus figures
    python benchmarks/regularization.py --stages dropout --threads 0 --threads 1

Each stage runs as `python cli.py regularization <command>` in a scratch directory with the
repo's params.yaml (cpu_threads overridden when asked) and a scratch MLflow store, created before
any stage is timed (creating a SQLite store takes 10-40 s here), so the repo's outputs and
mlflow.db are untouched. Timings on a shared machine are noisy: the load average and the
stage's CPU seconds are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {"polynomial": "polynomial", "weight_decay": "weight-decay", "dropout": "dropout", "init": "init"}


def create_store(uri: str) -> None:
    """Create the MLflow store up front, so no stage's time includes the schema migrations."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.search_experiments()


def run_stage(stage: str, params: dict, workdir: Path, store: str) -> tuple[float, float, dict]:
    """Run one stage command; return its wall and CPU seconds and its metrics JSON."""
    params_file = workdir / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    start, cpu = time.perf_counter(), os.times()
    subprocess.run([sys.executable, str(REPO / "cli.py"), "regularization", COMMANDS[stage], "--params",
                    str(params_file), *(["--data-dir", str(REPO / "data/raw/fashion-mnist")]
                                        if stage in ("dropout", "init") else [])],
                   cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds, after = time.perf_counter() - start, os.times()
    cpu_seconds = after.children_user + after.children_system - cpu.children_user - cpu.children_system
    return seconds, cpu_seconds, json.loads((workdir / "metrics/regularization" / f"{stage}.json").read_text())


def concise_dropout_seconds(params: dict) -> tuple[float, float]:
    """Training time alone (data already in memory) and test accuracy of the concise variant."""
    import torch

    from pipeline.params import build
    from pipeline.regularization import dropout, fashion
    from pipeline.regularization.config import DropoutParams
    from pipeline.runtime import seed_everything

    p = build(DropoutParams, {**params, "variants": ["concise"]}, "regularization.dropout")
    torch.set_num_threads(p.cpu_threads or os.cpu_count() or 1)  # 0: torch's default, one thread per core
    train, test = fashion.load(REPO / "data/raw/fashion-mnist", p.train_limit, p.test_limit)
    seed_everything(p.seed)
    start = time.perf_counter()
    outcome = dropout.configs(p, torch.device("cpu"), train, test)[0].run()
    return time.perf_counter() - start, outcome.final["test_acc"]


def summary(stage: str, metrics: dict) -> str:
    if stage == "polynomial":
        from pipeline.regularization.polynomial import learned_weights

        return "; ".join(f"{name}: train {m['train_loss']:.3g} test {m['test_loss']:.3g} w=[" +
                         ", ".join(f"{w:.4f}" for w in learned_weights(m)[:6]) +
                         (", ..." if len(learned_weights(m)) > 6 else "") + "]" for name, m in metrics.items())
    if stage == "weight_decay":
        return "; ".join(f"{name}: ||w|| {m['w_norm']:.4g} test {m['test_loss']:.3g}" for name, m in metrics.items())
    if stage == "dropout":
        return "; ".join(f"{name}: train_acc {m['train_acc']:.4f} test_acc {m['test_acc']:.4f}"
                         for name, m in metrics.items())
    def g(value: float | None) -> str:  # a diverged run's NaN is null in the metrics JSON
        return "nan" if value is None else f"{value:.3g}"

    return "; ".join(f"{name}: grad first/last {g(m['grad_norm_first'])}/{g(m['grad_norm_last'])} "
                     f"(after steps {g(m['grad_norm_first_after'])}/{g(m['grad_norm_last_after'])}) "
                     f"acc {m['test_acc']:.3f}{' DIVERGED' if m['diverged'] else ''}" for name, m in metrics.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    parser.add_argument("--threads", type=int, action="append",
                        help="override cpu_threads of every stage (repeat to compare; 0: torch default)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    total = 0.0
    store_dir = tempfile.TemporaryDirectory()
    store = f"sqlite:///{Path(store_dir.name) / 'mlflow.db'}"
    create_store(store)
    for threads in args.threads or [None]:
        label = "params.yaml cpu_threads" if threads is None else f"cpu_threads={threads}"
        for stage in args.stages:
            params = {"regularization": json.loads(json.dumps(base["regularization"]))}
            if threads is not None:
                params["regularization"][stage]["cpu_threads"] = threads
            with tempfile.TemporaryDirectory() as tmp:
                seconds, cpu, metrics = run_stage(stage, params, Path(tmp), store)
            total += seconds
            print(f"[{label}] reg_{stage}: {seconds:.1f} s, {cpu:.1f} s CPU (load {os.getloadavg()[0]:.1f})  "
                  f"{summary(stage, metrics)}", flush=True)
        if "dropout" in args.stages:
            params = json.loads(json.dumps(base["regularization"]["dropout"]))
            if threads is not None:
                params["cpu_threads"] = threads
            seconds, acc = concise_dropout_seconds(params)
            print(f"[{label}] dropout concise, {params['epochs']} epochs, training only: {seconds:.1f} s, "
                  f"test_acc {acc:.4f} (load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"total stage time: {total:.1f} s")


if __name__ == "__main__":
    main()
