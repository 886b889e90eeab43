"""Do the torch stages give the same numbers on another x86 CPU? Emulated ISAs, candidate settings.

    python benchmarks/cross_cpu.py                        # every workload x CPU x setting: a table
    python benchmarks/cross_cpu.py --rnn-epochs 100 --workloads tm-rnn-scratch --settings none,portable

Issue 17 saw the RNN perplexity of `tm-rnn-scratch` at 1.166 on one x86 machine and 1.183 on
another, and dropout's test accuracy at 0.8569 vs 0.8578. Only one CPU type is at hand, so each
"CPU" here is this machine with its libraries capped to an instruction set, as they would run on
a CPU that has no more than that:

* `avx512`: nothing capped (this machine: ATen picks AVX512 kernels, MKL and oneDNN theirs);
* `avx2`:   ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2, ONEDNN_MAX_CPU_ISA=AVX2
  (an AVX2-only CPU such as AMD Zen 2/3 or Intel before Skylake-SP);
* `sse`:    ATEN_CPU_CAPABILITY=default, MKL_ENABLE_INSTRUCTIONS=SSE4_2, ONEDNN_MAX_CPU_ISA=SSE41, and
  glibc's math functions without AVX or FMA (GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-AVX512F).

A candidate setting is then applied on top of each (it wins where both set one variable):

* `none`: today's default;
* `deterministic`: `torch.use_deterministic_algorithms(True)`;
* `mkl_cbwr`: MKL_CBWR=COMPATIBLE (MKL's conditional numerical reproducibility: one SSE2 code
  path on every Intel or compatible CPU);
* `aten_default`: ATEN_CPU_CAPABILITY=default (ATen's kernels without AVX: no Sleef vector math);
* `portable`: `PIPELINE_PORTABLE_MATH=1`, the switch the stages read (pipeline/runtime.py): both of
  the last two, and oneDNN off (`torch.backends.mkldnn.enabled = False`: nn.LSTM runs on ATen + MKL);
* `portable_onednn`: the same with oneDNN on, capped at SSE4.1 (ONEDNN_MAX_CPU_ISA=SSE41);
* `portable_avx2`: MKL_CBWR=AVX2, ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2 (CPUs with AVX2
  only; MKL documents its AVX2 branch for Intel CPUs, COMPATIBLE for Intel and compatible ones).

Each workload runs in a fresh process with one thread (as the stages do) and prints, per CPU,
its headline metric at full precision (RNN: the last epoch's perplexity; dropout: the concise
variant's test accuracy, all variants in --json); "same" says whether every metric of the run (every epoch)
is bit-identical across the CPUs. CPU seconds are the worker's own (training only, median of
`--repeats` runs), so a busy machine distorts them less than wall time would.
What this cannot emulate: another vendor's microarchitecture inside MKL (MKL takes other paths on
AMD), which MKL_CBWR=COMPATIBLE is documented to cover and the ISA caps only approximate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CPUS = {
    "avx512": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "sse": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41",
            "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-AVX512F"},  # libm's functions without FMA too
}
SETTINGS = {
    "none": {},
    "deterministic": {"CROSS_CPU_DETERMINISTIC": "1"},
    "mkl_cbwr": {"MKL_CBWR": "COMPATIBLE"},
    "aten_default": {"ATEN_CPU_CAPABILITY": "default"},
    "portable": {"PIPELINE_PORTABLE_MATH": "1"},
    "portable_onednn": {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "portable_avx2": {"MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}
# a setting that needs an instruction set a CPU lacks is not run there
NEEDS = {"portable_avx2": {"avx2", "avx512"}}
WORKLOADS = ("tm-gru-concise", "tm-rnn-scratch", "tm-lstm-concise", "dropout")
CLEARED = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_CBWR",
           "GLIBC_TUNABLES", "PIPELINE_PORTABLE_MATH", "CROSS_CPU_DETERMINISTIC")


# ---- the worker: one workload in this process, with the environment it was started with


def work(workload: str, raw: Path, rnn_epochs: int, dropout_limit: int, dropout_epochs: int) -> dict:
    import torch

    from pipeline import runtime

    runtime.apply_math_mode()  # PIPELINE_PORTABLE_MATH, as a stage does, before any torch op
    torch.set_num_threads(1)
    if os.environ.get("CROSS_CPU_DETERMINISTIC") == "1":
        torch.use_deterministic_algorithms(True)
    torch.optim.SGD([torch.zeros(1, requires_grad=True)])  # the first optimizer imports torch._dynamo: ~1 s, untimed
    from pipeline.params import load_params

    params = load_params(REPO / "params.yaml")
    if workload == "dropout":
        from pipeline.params import build
        from pipeline.regularization import dropout, fashion
        from pipeline.regularization.config import DropoutParams

        section = dict(params["regularization"]["dropout"])  # 0: as params.yaml has it
        section.update({"train_limit": dropout_limit, "test_limit": 2000} if dropout_limit else {})
        section.update({"epochs": dropout_epochs} if dropout_epochs else {})
        p = build(DropoutParams, section, "regularization.dropout")
        train, test = fashion.load(raw / "fashion-mnist", p.train_limit, p.test_limit)
        started = time.process_time()
        metrics, finals = {}, {}
        for config in dropout.configs(p, torch.device("cpu"), train, test):
            runtime.seed_everything(p.seed)
            outcome = config.run()
            metrics.update({f"{config.name}.{k}.{i}": x for k, vs in outcome.history.items()
                            for i, x in enumerate(vs)})
            finals[f"{config.name}.test_acc"] = outcome.final["test_acc"]
        seconds = time.process_time() - started
        headline = finals.get("concise.test_acc", next(iter(finals.values())))  # issue 17: 0.8569 vs 0.8578
    else:
        from pipeline.rnn.config import TrainConfig, load_experiment
        from pipeline.rnn.corpus import load_corpus
        from pipeline.rnn.models import ModelSpec, make_model
        from pipeline.rnn.train import train_language_model

        exp = load_experiment(params, workload)
        cfg = TrainConfig(**{**exp.train.__dict__, "epochs": rnn_epochs or exp.train.epochs, "device": "cpu"})
        corpus = load_corpus(exp.model.corpus, raw, exp.corpus.max_tokens, exp.corpus.min_freq)
        runtime.seed_everything(cfg.seed)
        model = make_model(ModelSpec(exp.model.cell, exp.model.impl, len(corpus.vocab), cfg.hidden,
                                     exp.model.num_layers, exp.model.bidirectional))
        started = time.process_time()
        history = train_language_model(model, corpus.indices, cfg, torch.device("cpu"), progress=False)
        seconds = time.process_time() - started
        metrics = {f"perplexity.{i}": v for i, v in enumerate(history["perplexity"])}
        finals = {"perplexity": history["perplexity"][-1]}
        headline = finals["perplexity"]
    return {"metrics": metrics, "headline": headline, "finals": finals, "cpu_seconds": seconds,
            "aten": torch.backends.cpu.get_cpu_capability()}


# ---- the driver


def prepare_data(workloads: list[str], root: Path) -> Path:
    from pipeline.datasets import download, mirror_from
    from pipeline.params import load_params
    from pipeline.rnn.config import load_experiment

    params = load_params(REPO / "params.yaml")
    names = {"fashion-mnist" if w == "dropout" else load_experiment(params, w).model.corpus for w in workloads}
    for name in sorted(names):
        download(name, root, mirror_from())
    return root


def run_worker(workload: str, cpu: str, setting: str, args, raw: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update({**CPUS[cpu], **SETTINGS[setting], "OMP_NUM_THREADS": "1"})
    argv = [sys.executable, __file__, "--worker", workload, "--raw", str(raw), "--rnn-epochs", str(args.rnn_epochs),
            "--dropout-limit", str(args.dropout_limit), "--dropout-epochs", str(args.dropout_epochs)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--cpus", default=",".join(CPUS))
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--rnn-epochs", type=int, default=5, help="0: each experiment's, as params.yaml has it")
    parser.add_argument("--dropout-limit", type=int, default=5000,
                        help="training images (test: 2000); 0: as params.yaml has it (every image)")
    parser.add_argument("--dropout-epochs", type=int, default=2, help="0: as params.yaml has it")
    parser.add_argument("--repeats", type=int, default=1, help="runs per cell; the CPU seconds are their median")
    parser.add_argument("--json", type=Path, help="also write every result here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(work(args.worker, args.raw, args.rnn_epochs, args.dropout_limit, args.dropout_epochs)))
        return

    workloads, cpus, settings = (s.split(",") for s in (args.workloads, args.cpus, args.settings))
    results = []
    with tempfile.TemporaryDirectory(prefix="cross-cpu-") as tmp:
        raw = prepare_data(workloads, Path(tmp))
        with open("/proc/loadavg") as fh:
            load = fh.read().split()[0]
        print(f"# {os.uname().machine}, {cpu_name()}, load {load}; rnn epochs {args.rnn_epochs or 'as params'}, "
              f"dropout {args.dropout_limit or 'all'} images x {args.dropout_epochs or 'as params'} epochs; "
              f"CPU s: median of {args.repeats}; 'same': every epoch's metrics bit-identical on every CPU", flush=True)
        header = f"{'workload':<19} {'setting':<15} " + " ".join(f"{c + ' metric':>20} {'CPU s':>6}" for c in cpus) \
            + "  same"
        print(header)
        print("-" * len(header))
        for workload in workloads:
            for setting in settings:
                row = {}
                for cpu in cpus:
                    if setting in NEEDS and cpu not in NEEDS[setting]:
                        continue
                    runs = [run_worker(workload, cpu, setting, args, raw) for _ in range(args.repeats)]
                    if any(r["metrics"] != runs[0]["metrics"] for r in runs):
                        print(f"  note: {workload} {setting} on {cpu} differs between runs on one CPU")
                    row[cpu] = {**runs[0], "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs)}
                    results.append({"workload": workload, "setting": setting, "cpu": cpu, **row[cpu]})
                metrics = [r["metrics"] for r in row.values()]
                same = all(m == metrics[0] for m in metrics)
                cells = []
                for cpu in cpus:
                    if cpu not in row:
                        cells.append(f"{'-':>20} {'-':>6}")
                        continue
                    value = row[cpu]["headline"]
                    cells.append(f"{value:>20.15g} {row[cpu]['cpu_seconds']:>6.2f}")
                print(f"{workload:<19} {setting:<15} " + " ".join(cells) + f"  {'yes' if same else 'NO'}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
