"""House model bench: out-of-fold scores and CPU seconds per model config, and blends of them.

Runs the pipeline's own code (the stage's folds, outlier mask, `cross_validate`, `fit_all`,
`out_of_fold_blend`) in one process, without DVC or MLflow, so configs compare in seconds.
Needs the preprocessed features:

    PIPELINE_DATA_MIRROR=../shared/datasets python cli.py download house-prices
    python cli.py house preprocess
    python benchmarks/house_models.py                               # params.yaml's blend
    python benchmarks/house_models.py --models elastic_net lgbm_fast --blend elastic_net,lgbm_fast

Model names come from `house.models` in params.yaml, or from CANDIDATES below (explored
configs kept for the record). Each model's out-of-fold predictions are cached under
--cache by its config, so blends of cached models cost nothing to re-score.
CPU seconds = process time of 5 CV fits + 1 final fit (with curves, as the stages run them).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.house import models, paths  # noqa: E402
from pipeline.house.blend import out_of_fold_blend  # noqa: E402
from pipeline.house.config import load_house  # noqa: E402
from pipeline.house.evaluation import fold_ids, log_rmse, to_price  # noqa: E402
from pipeline.house.prepared import Prepared  # noqa: E402
from pipeline.house.train import cross_validate, fit_all  # noqa: E402
from pipeline.runtime import seed_everything, set_cpu_threads  # noqa: E402

CANDIDATES = {
    "lgbm_fast": {"type": "lightgbm", "n_estimators": 1000, "learning_rate": 0.03, "num_leaves": 8,
                  "min_child_samples": 10, "subsample": 0.8, "colsample_bytree": 0.3},
    "svr": {"type": "svr", "C": 20.0, "epsilon": 0.008, "gamma": 0.0003},
}


def scores(prices, predicted_target, log_target, outliers):
    predicted = to_price(predicted_target, log_target)
    return log_rmse(prices[~outliers], predicted[~outliers]), log_rmse(prices, predicted)


def run_model(name, config, p, prepared, cache: Path, final_fit: bool):
    key = hashlib.sha256(json.dumps([config, p.cv.__dict__, p.seed, str(paths.PROCESSED)], sort_keys=True,
                                    default=str).encode()).hexdigest()[:16]
    file = cache / f"{name}-{key}.json"
    if file.is_file():
        return json.loads(file.read_text())
    params = models.model_params(config, f"house.models.{name}")
    X, y = prepared.X(), prepared.y()
    folds = fold_ids(len(y), p.cv)
    mask = ~prepared.outliers() if p.outliers.drop_from_training else np.ones(len(y), bool)
    seed_everything(p.seed)
    start = time.process_time()
    result = cross_validate(params, X, y, folds, mask, prepared.log_target, p.seed, progress=False)
    cv_seconds = time.process_time() - start
    fit_seconds = 0.0
    if final_fit:
        start = time.process_time()
        fit_all(params, X, y, mask, prepared.log_target, p.seed)
        fit_seconds = time.process_time() - start
    record = {"name": name, "config": config, "oof": result.oof.tolist(), "cv_cpu_s": cv_seconds,
              "fit_cpu_s": fit_seconds}
    cache.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(record))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", help="model names (default: house.blend.models)")
    parser.add_argument("--blend", action="append", default=[], help="comma-separated models to blend (repeatable)")
    parser.add_argument("--search", type=int, default=0, help="score every blend of up to N of --models")
    parser.add_argument("--method", default=None, help="blend method (default: house.blend.method)")
    parser.add_argument("--no-final-fit", action="store_true", help="time the 5 CV fits only")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/house_models_bench"))
    args = parser.parse_args()

    p = load_house()
    set_cpu_threads(p.cpu_threads)
    prepared = Prepared.load(paths.PROCESSED)
    y, prices, outliers = prepared.y(), prepared.prices(), prepared.outliers()
    folds = fold_ids(len(y), p.cv)
    fit_mask = ~outliers if p.outliers.drop_from_training else np.ones(len(y), bool)
    method = args.method or p.blend.method
    names = args.models or list(p.blend.models)
    names += [m for spec in args.blend for m in spec.split(",") if m not in names]
    records = {}
    print(f"{'model':<24} {'oof w/o outl.':>13} {'oof all':>8} {'CPU s (5 cv + fit)':>19}")
    for name in names:
        config = p.models.get(name) or CANDIDATES.get(name)
        if config is None:
            raise SystemExit(f"unknown model {name}: not in house.models nor CANDIDATES")
        record = records[name] = run_model(name, config, p, prepared, args.cache, not args.no_final_fit)
        clean, every = scores(prices, np.array(record["oof"]), prepared.log_target, outliers)
        cpu = record["cv_cpu_s"] + record["fit_cpu_s"]
        print(f"{name:<24} {clean:13.4f} {every:8.4f} {cpu:10.1f} ({record['cv_cpu_s']:.1f} + "
              f"{record['fit_cpu_s']:.1f})", flush=True)

    blends = [spec.split(",") for spec in args.blend]
    if args.search:
        blends += [list(c) for k in range(2, args.search + 1) for c in itertools.combinations(names, k)]
    if not args.blend and not args.search:
        blends = [list(p.blend.models)]
    rows = []
    for combo in blends:
        predictions = np.column_stack([records[m]["oof"] for m in combo])
        blended, weights = out_of_fold_blend(predictions, y, folds, fit_mask, method)
        clean, every = scores(prices, blended, prepared.log_target, outliers)
        cpu = sum(records[m]["cv_cpu_s"] + records[m]["fit_cpu_s"] for m in combo)
        rows.append((clean, every, cpu, "+".join(combo), np.mean(weights, axis=0)))
    if rows:
        print(f"\nout-of-fold blends ({method}; weights of fold k fitted without fold k), best first:")
    for clean, every, cpu, combo, weights in sorted(rows)[:25]:
        print(f"{clean:.4f} / {every:.4f}  {cpu:6.1f} CPU s  {combo}  mean weights "
              f"{' '.join(f'{w:.2f}' for w in weights)}")


if __name__ == "__main__":
    main()
