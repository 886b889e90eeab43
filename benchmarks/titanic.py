"""Titanic: the pipeline's out-of-fold accuracy against two baselines, over several fold seeds.

    python benchmarks/titanic.py                 # fold seeds 0 1 2 (the README's table)
    python benchmarks/titanic.py --seeds 0 1 2 3 4
    python benchmarks/titanic.py --seeds $(seq 0 12) --cut best   # the cut that chases noise

For each fold seed every column is scored on the same stratified folds (`fold_ids` with the
seed, as the cv stage makes them):
- `gender rule`: the competition's gender_submission rule (women survive, men do not); it fits
  nothing, so its out-of-fold accuracy is its accuracy on train.csv;
- `plain GBM`: LightGBM with its default settings on the raw columns (numbers as they are,
  Sex and Embarked as integer codes, no engineering), fitted per fold;
- each model of `competitions.titanic.blend.models` with the block's features and params;
- `pipeline`: their blend as the blend stage makes it (weights and decision threshold chosen
  on the other folds' out-of-fold predictions only). `--cut` compares threshold rules: `rule`
  (the blend stage's: 0.5 unless another cut is clearly better), `half` (always 0.5), `best`
  (the cut with the best out-of-fold accuracy, whatever the evidence).
Only the competition's train.csv carries labels; nothing else is read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.tabular import blend, group_stats
from pipeline.tabular.config import load_competition
from pipeline.tabular.data import load
from pipeline.tabular.evaluation import CVParams, fold_ids
from pipeline.tabular.stages import fit_preprocessor
from pipeline.tabular.tasks import Scorer, class_index
from pipeline.tabular.train import cross_validate

KEY = "titanic"


def _plain_gbm(train: pd.DataFrame, y: np.ndarray, folds: np.ndarray, seed: int) -> np.ndarray:
    """LightGBM defaults on the raw columns, out of fold."""
    import lightgbm

    raw = train[["Pclass", "Age", "SibSp", "Parch", "Fare"]].copy()
    for column in ("Sex", "Embarked"):
        raw[column] = train[column].astype("category").cat.codes
    predicted = np.empty(len(y))
    for fold in np.unique(folds):
        valid = folds == fold
        model = lightgbm.LGBMClassifier(random_state=seed, verbose=-1, n_jobs=1)
        model.fit(raw[~valid], y[~valid])
        predicted[valid] = model.predict_proba(raw[valid])[:, 1]
    return predicted


def _best_cut(probability: np.ndarray, classes: np.ndarray) -> float:
    """The cut with the highest accuracy on these rows (ties: nearest 0.5), with no test of evidence."""
    order = np.unique(probability)
    cuts = np.concatenate([[0.5], (order[:-1] + order[1:]) / 2])
    accuracy = np.array([np.mean((probability >= c) == (classes == 1)) for c in cuts])
    best = np.flatnonzero(accuracy == accuracy.max())
    return float(cuts[best[np.argmin(np.abs(cuts[best] - 0.5))]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fold seeds")
    parser.add_argument("--cut", choices=("rule", "half", "best"), default="rule",
                        help="the pipeline's decision threshold: the blend stage's rule, 0.5, or the best cut")
    args = parser.parse_args()
    if args.cut == "best":
        blend.best_threshold = _best_cut  # what out_of_fold_blend calls for each fold
    os.environ.setdefault("PIPELINE_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    p = load_competition(KEY)
    if not (p.paths.raw / p.files["train"].basename).is_file():
        from pipeline import datasets

        datasets.download(KEY, mirror=datasets.mirror_from())
    raw = load(p)
    y = raw.train[p.target].map({c: i for i, c in enumerate(raw.classes)}).to_numpy(np.int64)
    X = fit_preprocessor(p, raw).transform(raw.train).to_numpy(np.float32)  # as the preprocess stage
    task, score = p.task_for(len(raw.classes)), Scorer(p.metric_spec)
    gender = (raw.train["Sex"] == "female").to_numpy(int)
    keys, _ = group_stats.discover(raw.train, raw.test, [p.id, p.target], p.group_stats)  # as preprocess does
    frames = [pd.DataFrame({k: group_stats.key_values(f, k) for k in keys}) for f in (raw.train, raw.test)]
    groups = group_stats.GroupEncoder(group_stats.codes(*frames)[0], y, len(raw.classes), p.group_stats, keys) \
        if keys else None
    header = ["fold seed", "gender rule", "plain GBM", *p.blend.models, "no groups", "pipeline"]
    print(f"Titanic out-of-fold accuracy, {p.cv.folds} stratified folds, {X.shape[1]} features "
          f"({p.features.get('module') or 'generic'} features), threshold: {args.cut}")
    print(f"group statistics of: {', '.join(keys) or 'none'} ('no groups': the same blend without them)")
    print(" | ".join(header))
    rows, started = [], time.perf_counter()
    for seed in args.seeds:
        folds = fold_ids(len(y), CVParams(folds=p.cv.folds, shuffle=True, seed=seed), strata=y)
        fit_rows = p.fit_mask(np.zeros(len(y), bool))  # Titanic flags no outliers: every row
        def blended_accuracy(encoder) -> tuple[dict, float]:
            oof = {m: cross_validate(p.model(m, task), X, y, folds, fit_rows, score, p.seed, curves=False,
                                     progress=False, task=task, groups=encoder).oof for m in p.blend.models}
            stacked = np.stack([oof[m] for m in p.blend.models], axis=-1)
            blended, thresholds = blend.out_of_fold_blend(stacked, y, folds, fit_rows, p.blend.method,
                                                          classification=True,
                                                          tune_threshold=p.tunes_threshold and args.cut != "half")
            return oof, float(np.mean(class_index(blended, thresholds) == y))

        oof, with_groups = blended_accuracy(groups)
        without = blended_accuracy(None)[1] if groups is not None else with_groups
        row = [float(np.mean(gender == y)), float(np.mean(class_index(_plain_gbm(raw.train, y, folds, seed)) == y)),
               *(float(np.mean(class_index(oof[m]) == y)) for m in p.blend.models), without, with_groups]
        rows.append(row)
        print(" | ".join([str(seed), *(f"{v:.4f}" for v in row)]))
    mean = np.mean(rows, axis=0)
    print(" | ".join(["mean", *(f"{v:.4f}" for v in mean)]))
    beats = all(r[-1] > max(r[0], r[1]) for r in rows)
    print(f"pipeline beats both baselines on every fold seed: {'yes' if beats else 'NO'} "
          f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
