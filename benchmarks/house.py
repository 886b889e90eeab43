"""House Prices benchmark: prints the figures the issues set bars for (no asserts, no timing tests).

1. The `original` preset (the course's linear recipe) through `dvc repro`: 5-fold mean valid
   log-RMSE (published runs: 0.1702-0.1708).
2. The default params from scratch (download -> submission) through `dvc repro`: wall time,
   5-fold scores over all 1460 rows and without the two partial-sale outliers, per model.
3. A second `dvc repro` (must run nothing), then one model's param changed (only that model's
   stage, the blend and the submission may rerun).
4. Per-stage start-up: CPU and wall seconds a stage process spends before its work (the
   CLI, the libraries its model needs, opening its MLflow run), per model type, through the
   shared tracking service and, for comparison, importing mlflow in the stage itself.
5. The plain one-script baseline (benchmarks/house_baseline.py: Lasso + 3000-tree gradient
   boosting, 5-fold CV, fit, predict), and the ratio of part 2's time to it (goal <= 0.85).

Each part runs in a throw-away copy of the repo against the dataset mirror:
    PIPELINE_DATA_MIRROR=../shared/datasets python benchmarks/house.py [PART ...]
PART: original, default, rerun, startup, baseline (default: all), and serial:
part 2 again with `house.cv.workers=1` (folds one at a time), to see what parallel folds gain.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test helpers' sandbox

from pipeline.tabular.presets import preset
from sandbox import copy_repo

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def stages_run(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def timed_repro(repo, *targets: str) -> tuple[float, list[str]]:
    """Wall seconds and stages run; also prints the CPU seconds the stage processes used,
    a figure that other load on the machine inflates far less than wall time."""
    cpu = _children_cpu()
    start = time.perf_counter()
    result = repo.dvc("repro", *targets, timeout=1800)
    wall = time.perf_counter() - start
    print(f"  [dvc repro {' '.join(targets)}: {wall:.1f} s wall, {_children_cpu() - cpu:.1f} s CPU, "
          f"load average {os.getloadavg()[0]:.1f}]")
    return wall, stages_run(result.stdout)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_process(argv: list[str], **kwargs) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds user+sys, result) of one child process."""
    cpu = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=True, **kwargs)
    return time.perf_counter() - start, _children_cpu() - cpu, result


# What a stage process does before its work: the CLI, the stage module, its model's library, and
# opening (and ending) its MLflow run. `python cli.py house --help` is the CLI alone. Stages log
# through the shared tracking service (pipeline/tracking/service.py): "warm" is every stage after
# the first of a session, "cold" the first one, which starts the service; "in-process" is the
# old way (PIPELINE_TRACKING_SERVICE=0), each stage importing mlflow and opening the store itself.
STARTUP = {
    "cli: python cli.py house --help": None,
    "preprocess / blend (pandas)": ["preprocess"],
    "train elastic_net (NumPy)": ["elastic_net"],
    "train lightgbm": ["lightgbm"],
    "train svr (scikit-learn)": ["svr"],
    "train mlp (torch)": ["mlp"],
}
_STARTUP_CODE = """
import sys
import cli
from pipeline import tracking
from pipeline.tabular import models, stages
if sys.argv[1] != "preprocess":
    models.model_class(sys.argv[1])
tracking.use_service()
with tracking.start_run("house-prices", "startup-probe"):
    pass
"""


def startup(store: str, repeats: int = 3) -> None:
    """Per-stage start-up cost, best of `repeats` (CPU seconds are the steadier figure)."""
    root = Path(__file__).resolve().parent.parent
    print("\n== per-stage start-up: CLI, imports, one MLflow run opened and ended (best of 3; goal <= 1.5 s)")
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    for label, kinds in STARTUP.items():
        argv = [sys.executable, "cli.py", "house", "--help"] if kinds is None else \
            [sys.executable, "-c", _STARTUP_CODE, *kinds]
        if kinds is None:
            runs = {"": [timed_process(argv, cwd=root, env=env)[:2] for _ in range(repeats)]}
        else:
            runs = {"warm": [timed_process(argv, cwd=root, env=env)[:2] for _ in range(repeats)],
                    "in-process": [timed_process(argv, cwd=root, env={**env, "PIPELINE_TRACKING_SERVICE": "0"})[:2]
                                   for _ in range(repeats)]}
        for mode, times in runs.items():
            wall, cpu = min(r[0] for r in times), min(r[1] for r in times)
            print(f"  {label:<36} {mode:<11} {wall:5.2f} s wall {cpu:5.2f} s CPU  "
                  f"(load average {os.getloadavg()[0]:.1f})")
    cold_store = store.removesuffix(".db") + "-cold.db"
    wall, cpu, _ = timed_process([sys.executable, "-c", _STARTUP_CODE, "elastic_net"], cwd=root,
                                 env={**env, "MLFLOW_TRACKING_URI": cold_store})
    print(f"  {'train elastic_net, first of a session':<36} {'cold':<11} {wall:5.2f} s wall {cpu:5.2f} s CPU  "
          f"(starts the tracking service; load average {os.getloadavg()[0]:.1f})")


def baseline() -> tuple[float, float]:
    wall, cpu, result = timed_process([sys.executable, str(Path(__file__).with_name("house_baseline.py")),
                                       os.environ["PIPELINE_DATA_MIRROR"]])
    print("\n== plain one-script baseline (benchmarks/house_baseline.py: Lasso + 3000-tree gradient boosting)")
    print(result.stdout.rstrip())
    print(f"  [{wall:.1f} s wall, {cpu:.1f} s CPU, load average {os.getloadavg()[0]:.1f}]")
    return wall, cpu


def main(parts: list[str]) -> None:
    os.environ.setdefault("PIPELINE_DATA_MIRROR", str(SHARED))
    parts = parts or ["original", "default", "rerun", "startup", "baseline"]
    pipeline_time = None
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        if "startup" in parts:
            startup(os.environ["MLFLOW_TRACKING_URI"])
        if "baseline" in parts:
            base_wall, base_cpu = baseline()
        if "default" in parts:
            pipeline_time = scratch(Path(tmp), rerun="rerun" in parts)
        if "serial" in parts:
            serial = scratch(Path(tmp), rerun=False, workers=1)
            if pipeline_time:
                print(f"\nfolds one at a time / two at a time: {serial[0] / pipeline_time[0]:.2f}x wall, "
                      f"{serial[1] / pipeline_time[1]:.2f}x CPU")
        if pipeline_time and "baseline" in parts:
            print(f"\npipeline / baseline: {pipeline_time[0] / base_wall:.2f}x wall, "
                  f"{pipeline_time[1] / base_cpu:.2f}x CPU (goal <= 0.85)")
        if "original" in parts:
            original_recipe(Path(tmp))


def original_recipe(tmp: Path) -> None:
    original = copy_repo(Path(tmp) / "original")
    original.set_params(**preset("original"))
    seconds, _ = timed_repro(original, "house_blend")
    cv = json.loads((original.path / "metrics/house-prices/cv_linear.json").read_text())
    print("== original recipe (preset `original`: linear, Adam lr 5, raw-price MSE, 5 unshuffled folds)")
    print(f"5-fold mean valid log-RMSE: {cv['valid_log_rmse_mean']:.4f}  "
          f"(train {cv['train_log_rmse_mean']:.4f}; folds "
          + ", ".join(f"{v['valid_log_rmse']:.4f}" for v in cv["folds"].values())
          + f"); without outliers {cv['oof_log_rmse_without_outliers']:.4f}; {seconds:.0f} s")


def scratch(tmp: Path, rerun: bool, workers: int | None = None) -> tuple[float, float]:
    """Part 2 (and 3 when `rerun`): the default params from scratch; returns (wall, CPU) seconds."""
    default = copy_repo(Path(tmp) / f"default-{workers}")
    if workers is not None:
        default.set_params(**{"house.cv.workers": workers})
        print(f"\n== house.cv.workers={workers}")
    cpu = _children_cpu()
    seconds, ran = timed_repro(default, "house_submission")
    cpu = _children_cpu() - cpu
    metrics = json.loads((default.path / "metrics/house-prices/cv.json").read_text())
    print("\n== default params, download -> submission, from scratch")
    print(f"dvc repro house_submission: {seconds:.1f} s wall, {len(ran)} stages")
    print(f"blend 5-fold mean valid log-RMSE (all 1460 rows): {metrics['valid_log_rmse_mean']:.4f}")
    print(f"blend out-of-fold log-RMSE: all rows {metrics['oof_log_rmse']:.4f}, "
          f"without the 2 outliers (1458 rows) {metrics['oof_log_rmse_without_outliers']:.4f}")
    print("weights: " + ", ".join(f"{m} {w:.3f}" for m, w in metrics["weights"].items()))
    for model, scores in metrics["models"].items():
        print(f"  {model:<18} all rows {scores['oof_log_rmse']:.4f}  without outliers "
              f"{scores['oof_log_rmse_without_outliers']:.4f}")
    if not rerun:
        return seconds, cpu
    seconds_again, ran = timed_repro(default, "house_submission")
    print(f"\nsecond dvc repro: {seconds_again:.1f} s, stages run: {ran or 'none'}")
    key, value = _one_model_param(default.path / "params.yaml")
    default.set_params(**{key: value})
    seconds_again, ran = timed_repro(default, "house_submission")
    print(f"after -S {key}={value:g}: {seconds_again:.1f} s, stages run: {ran}")
    return seconds, cpu


def _one_model_param(params_file: Path) -> tuple[str, float]:
    """A numeric param of the blend's first model, 10% up: what a user's `-S` tweak looks like."""
    import yaml

    house = yaml.safe_load(params_file.read_text())["house"]
    model = house["blend"]["models"][0]
    name, value = next((k, v) for k, v in house["models"][model].items()
                       if isinstance(v, float) and not isinstance(v, bool))
    return f"house.models.{model}.{name}", round(value * 1.1, 10)


if __name__ == "__main__":
    main(sys.argv[1:])
