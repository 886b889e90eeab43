"""House Prices benchmark: prints the figures the issues set bars for (no asserts, no timing tests).

1. The `original` preset (the course's linear recipe) through `dvc repro`: 5-fold mean valid
   log-RMSE (published runs: 0.1702-0.1708).
2. The default params from scratch (download -> submission) through `dvc repro`: wall time,
   5-fold scores over all 1460 rows and without the two partial-sale outliers, per model.
3. A second `dvc repro` (must run nothing), then one training param changed (only its
   downstream stages may rerun).
4. The all-torch blend (elastic net + MLP) from scratch: the one-minute configuration.

Each part runs in a throw-away copy of the repo against the dataset mirror:
    PIPELINE_DATA_MIRROR=../shared/datasets python benchmarks/house.py
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.house.presets import preset  # noqa: E402
from pipeline.sandbox import copy_repo  # noqa: E402

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


def main() -> None:
    os.environ.setdefault("PIPELINE_DATA_MIRROR", str(SHARED))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"

        original = copy_repo(Path(tmp) / "original")
        original.set_params(**preset("original"))
        seconds, _ = timed_repro(original, "house_blend")
        cv = json.loads((original.path / "metrics/house-prices/cv_linear.json").read_text())
        print("== original recipe (preset `original`: linear, Adam lr 5, raw-price MSE, 5 unshuffled folds)")
        print(f"5-fold mean valid log-RMSE: {cv['valid_log_rmse_mean']:.4f}  "
              f"(train {cv['train_log_rmse_mean']:.4f}; folds "
              + ", ".join(f"{v['valid_log_rmse']:.4f}" for v in cv["folds"].values())
              + f"); without outliers {cv['oof_log_rmse_without_outliers']:.4f}; {seconds:.0f} s")

        default = copy_repo(Path(tmp) / "default")
        seconds, ran = timed_repro(default, "house_submission")
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

        seconds, ran = timed_repro(default, "house_submission")
        print(f"\nsecond dvc repro: {seconds:.1f} s, stages run: {ran or 'none'}")
        default.set_params(**{"house.models.mlp.lr": 0.002})
        seconds, ran = timed_repro(default, "house_submission")
        print(f"after -S house.models.mlp.lr=0.002: {seconds:.1f} s, stages run: {ran}")

        torch_only = copy_repo(Path(tmp) / "torch-only")
        torch_only.set_params(**{"house.blend.models": ["elastic_net", "mlp"]})
        seconds, _ = timed_repro(torch_only, "house_submission")
        metrics = json.loads((torch_only.path / "metrics/house-prices/cv.json").read_text())
        print("\n== -S 'house.blend.models=[elastic_net,mlp]' (the one-minute loop), from scratch")
        print(f"{seconds:.1f} s wall; mean valid {metrics['valid_log_rmse_mean']:.4f}, out of fold "
              f"{metrics['oof_log_rmse']:.4f} all rows, {metrics['oof_log_rmse_without_outliers']:.4f} without outliers")


if __name__ == "__main__":
    main()
