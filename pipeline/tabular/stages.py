"""The House Prices stages: what each `python cli.py house ...` command (= DVC stage) does.

Each function reads its inputs, does one job, writes its outputs atomically, and logs one
MLflow run (nested runs per fold for cross-validation) in the `house-prices` experiment;
seeds, threads, device, run tags and run record come from the stage harness (pipeline/stage.py).
`train` is cross-validation and the final fit of one model in one process (stage
`house_train@MODEL`): each stage process pays ~2-3 s to import its libraries and open the
MLflow store, so one process per model instead of two saves that much per model.

Imports are kept to what a stage uses: torch only for torch models (the registry imports a
model's module when it is used), scikit-learn only for its models.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd

from pipeline import tracking
from pipeline.errors import DataError
from pipeline.files import write_bytes, write_csv, write_json, write_metrics
from pipeline.stage import Stage, StageOutputs

from . import models, paths
from .blend import fit_weights, out_of_fold_blend
from .config import HouseParams
from .data import ID, SAMPLE_FILE, TARGET, load
from .evaluation import fold_ids, log_rmse, oof_scores, to_price
from .features import Preprocessor
from .figures import plot_fold_curves, plot_oof, write_tables
from .prepared import Prepared
from .submission import validate_submission, write_submission
from .train import cross_validate, fit_all


def _outputs(name: str, metrics_name: str | None = None) -> StageOutputs:
    return StageOutputs(paths.PIPELINE, name, metrics_name=metrics_name)


def _model_stage(p: HouseParams, model: str, stage: str):
    """What the cv and fit stages share: validated model params, the harness, data, run tags.

    torch is imported (seeded, threads capped, device checked) only for torch models.
    """
    model_params = p.model(model)
    harness = Stage(paths.PIPELINE, f"{stage}:{model}", seed=p.seed, cpu_threads=p.cpu_threads, where="house",
                    device=getattr(model_params, "device", "cpu"), uses_torch=models.uses_torch(model_params),
                    outputs=_outputs(f"{stage}_{model}"))
    prepared = Prepared.load(paths.PROCESSED)
    tags = {"stage": stage, "model": model, "model_type": model_params.type, "dataset": paths.PIPELINE}
    return model_params, harness, prepared, tags


def preprocess(p: HouseParams) -> dict:
    """Fit the feature statistics and write model-ready train/test tables."""
    raw = load(paths.RAW)
    stats_rows = raw.train if p.features.stats_from == "train" else pd.concat([raw.train, raw.test])
    preprocessor = Preprocessor.fit(stats_rows.drop(columns=[TARGET], errors="ignore"), p.features)
    features_train = preprocessor.transform(raw.train)
    prices = raw.train[TARGET].to_numpy(np.float64)
    outlier = ((raw.train["GrLivArea"] > p.outliers.living_area_above)
               & (raw.train[TARGET] < p.outliers.price_below)).to_numpy() if "GrLivArea" in raw.train else \
        np.zeros(len(prices), bool)
    train = pd.concat([pd.DataFrame({ID: raw.train[ID].to_numpy(), TARGET: prices,
                                     "target": np.log(prices) if p.features.log_target else prices,
                                     "is_outlier": outlier}), features_train.reset_index(drop=True)], axis=1)
    test = pd.concat([raw.test[[ID]].reset_index(drop=True),
                      preprocessor.transform(raw.test).reset_index(drop=True)], axis=1)
    Prepared(train, test, preprocessor).save(paths.PROCESSED)
    summary = {"n_train": len(train), "n_test": len(test), "n_features": len(preprocessor.columns),
               "n_skewed_transformed": len(preprocessor.skewed), "n_outliers": int(outlier.sum()),
               "outlier_ids": raw.train.loc[outlier, ID].astype(int).tolist()}
    write_metrics(_outputs("preprocess").metrics, summary)
    return summary


def _fit_mask(p: HouseParams, prepared: Prepared) -> np.ndarray:
    outliers = prepared.outliers()
    return ~outliers if p.outliers.drop_from_training else np.ones(len(outliers), bool)


def _scores(prepared: Prepared, oof_target: np.ndarray) -> dict[str, float]:
    """All-rows and outliers-excluded log-RMSE of out-of-fold predictions."""
    return oof_scores(prepared.prices(), oof_target, prepared.log_target, prepared.outliers())


def _run_params(p: HouseParams, model: str | None = None) -> dict:
    params = {"seed": p.seed, "features": p.features, "outliers": p.outliers, "cv": p.cv}
    if model is not None:
        params["model"] = models.tracked_params(model, p.model(model))
    return params


_X_LABEL = {"elastic_net": "iteration", "gradient_boosting": "number of trees", "lightgbm": "number of trees"}


def cross_validation(p: HouseParams, model: str) -> dict:
    """k-fold CV of one model: out-of-fold predictions, per-fold scores and curves."""
    model_params, harness, prepared, tags = _model_stage(p, model, "cv")
    out = harness.outputs
    X, y = prepared.X(), prepared.y()
    folds = fold_ids(len(y), p.cv)
    run_params = _run_params(p, model)
    with harness.tracked(params=run_params, tags=tags):
        result = cross_validate(model_params, X, y, folds, _fit_mask(p, prepared), prepared.log_target, p.seed,
                                workers=p.cv.workers)
        for fold in result.folds:
            # fold runs carry the params too, so the compare view works on them as on the parents
            with harness.tracked(params=run_params, tags={**tags, "fold": fold.fold + 1}, nested=True,
                                 run_name=f"cv:{model}:fold{fold.fold + 1}"):
                _log_curves(fold.history)
                final = {"n_train": fold.n_train, "n_valid": fold.n_valid}
                if not fold.history:  # models with curves already logged these, one point per step
                    final.update(train_log_rmse=fold.train_log_rmse, valid_log_rmse=fold.valid_log_rmse)
                tracking.log_metrics(final)
        valid = [f.valid_log_rmse for f in result.folds]
        metrics = {"valid_log_rmse_mean": float(np.mean(valid)), "valid_log_rmse_std": float(np.std(valid)),
                   "train_log_rmse_mean": float(np.mean([f.train_log_rmse for f in result.folds])),
                   **_scores(prepared, result.oof)}
        # The headline scores go first: the compare view's parallel-coordinates plot draws the
        # first metric a run logged, and that must be the mean score, not the last fold's.
        tracking.log_metrics(metrics)
        # the parent holds every fold's scores too, step = fold, for charts over the parent runs
        tracking.log_history({"fold_valid_log_rmse": [f.valid_log_rmse for f in result.folds],
                              "fold_train_log_rmse": [f.train_log_rmse for f in result.folds]})
        write_csv(paths.oof(model), pd.DataFrame({ID: prepared.train[ID], "fold": folds + 1,
                                                  "prediction": result.oof}))
        write_metrics(out.metrics,
                      {**metrics, "folds": {f"fold{f.fold + 1}": {"valid_log_rmse": f.valid_log_rmse,
                                                                  "train_log_rmse": f.train_log_rmse}
                                            for f in result.folds}})
        write_tables(out.plot(".csv"), out.plot("_folds.csv"), result.folds)
        plot_fold_curves(out.plot(".png"), result.folds, title=f"{model}: {p.cv.folds}-fold log-RMSE",
                         xlabel=_X_LABEL.get(model_params.type, "epoch"))
        tracking.log_artifact(out.plot(".png"))
    return metrics


def fit(p: HouseParams, model: str) -> dict:
    """Train one model on every training row; save it with its preprocessing state."""
    model_params, harness, prepared, tags = _model_stage(p, model, "fit")
    X, y = prepared.X(), prepared.y()
    mask = _fit_mask(p, prepared)
    with harness.tracked(params=_run_params(p, model), tags=tags):
        fitted, history = fit_all(model_params, X, y, mask, prepared.log_target, p.seed)
        _log_curves(history)
        train_score = log_rmse(prepared.prices()[mask], to_price(fitted.predict(X[mask]), prepared.log_target))
        metrics = {"train_log_rmse": train_score, "n_train": int(mask.sum())}
        # pickle, not torch.save: a scikit-learn or NumPy model's stage need not import torch
        write_bytes(paths.model_file(model), pickle.dumps({
            "name": model, "params": models.to_dict(model_params), "state": fitted.state(),
            "n_features": X.shape[1], "seed": p.seed,
        }, protocol=pickle.HIGHEST_PROTOCOL))
        write_metrics(harness.outputs.metrics, metrics)
        tracking.log_metrics(metrics)
    return metrics


def train(p: HouseParams, model: str) -> dict:
    """Stage `house_train@MODEL`: k-fold CV of one model, then its final fit, in one process."""
    return {"cv": cross_validation(p, model), "fit": fit(p, model)}


def _log_curves(history: dict[str, list[float]]) -> None:
    """Log a model's curves; a `step` list (iterations, number of trees) gives their x values."""
    curves = {k: v for k, v in history.items() if k != "step"}
    tracking.log_history(curves, steps=[int(s) for s in history["step"]] if "step" in history else None)


def load_model(model: str):
    """A fitted model from `models/house-prices/<model>.pkl`."""
    path = paths.model_file(model)
    if not path.is_file():
        raise DataError(f"{path}: not found (run `python cli.py house train {model}`)")
    with path.open("rb") as fh:
        saved = pickle.load(fh)  # our own file (a DVC output), as torch.load(weights_only=False) was
    params = models.model_params(saved["params"], f"{path}:params")
    fitted = models.create(params, saved["n_features"], saved["seed"])
    fitted.load_state(saved["state"])
    return fitted


def _cpu_stage(p: HouseParams, name: str, metrics_name: str | None = None) -> Stage:
    """The harness of a stage that runs on NumPy alone (blend, submission)."""
    return Stage(paths.PIPELINE, name, seed=p.seed, cpu_threads=p.cpu_threads, where="house",
                 outputs=_outputs(name, metrics_name))


def blend(p: HouseParams) -> dict:
    """Choose blend weights on out-of-fold predictions; score the blend out of fold too."""
    harness = _cpu_stage(p, "blend", metrics_name=paths.CV_SCORES.stem)  # the pipeline's headline score
    prepared = Prepared.load(paths.PROCESSED)
    y = prepared.y()
    frames = [pd.read_csv(paths.oof(m)) for m in p.blend.models]
    for name, frame in zip(p.blend.models, frames):
        if not np.array_equal(frame[ID].to_numpy(), prepared.train[ID].to_numpy()) or frame["prediction"].isna().any():
            raise DataError(f"{paths.oof(name)}: out-of-fold predictions do not cover the training rows; rerun its cv")
    predictions = np.column_stack([f["prediction"].to_numpy() for f in frames])
    folds = frames[0]["fold"].to_numpy()
    mask = _fit_mask(p, prepared)
    blended, _ = out_of_fold_blend(predictions, y, folds, mask, p.blend.method)
    weights = fit_weights(predictions[mask], y[mask], p.blend.method)
    scores = _scores(prepared, blended)
    per_fold = [log_rmse(prepared.prices()[folds == k], to_price(blended[folds == k], prepared.log_target))
                for k in np.unique(folds)]
    metrics = {**scores, "valid_log_rmse_mean": float(np.mean(per_fold)),
               "weights": dict(zip(p.blend.models, map(float, weights))),
               "models": {m: _scores(prepared, predictions[:, i]) for i, m in enumerate(p.blend.models)}}
    tags = {"stage": "blend", "model": "+".join(p.blend.models), "dataset": paths.PIPELINE}
    with harness.tracked(params={**_run_params(p), "blend": p.blend}, tags=tags):
        write_json(paths.BLEND_WEIGHTS, {"models": p.blend.models, "weights": weights.tolist(),
                                         "log_target": prepared.log_target})
        write_metrics(harness.outputs.metrics, metrics)
        plot_oof(paths.OOF_PLOT, prepared.prices(), to_price(blended, prepared.log_target),
                 prepared.outliers(), title=f"Out-of-fold blend: log-RMSE {scores['oof_log_rmse']:.4f} "
                                            f"({scores['oof_log_rmse_without_outliers']:.4f} without outliers)")
        tracking.log_metrics({**scores, "valid_log_rmse_mean": metrics["valid_log_rmse_mean"],
                              **{f"weight_{m}": w for m, w in metrics["weights"].items()}})
        tracking.log_artifact(paths.OOF_PLOT)
    return metrics


def submission(p: HouseParams) -> dict:
    """Predict the test features preprocess made with the fitted models and blend weights; write
    and validate the CSV against the competition's sample submission."""
    if not paths.BLEND_WEIGHTS.is_file():
        raise DataError(f"{paths.BLEND_WEIGHTS}: not found (run `python cli.py house blend`)")
    harness = _cpu_stage(p, "submission")  # models predict on the CPU (torch nets are saved there)
    blend_state = json.loads(paths.BLEND_WEIGHTS.read_text())
    prepared = Prepared.load(paths.PROCESSED)
    X_test = prepared.X_test()
    columns = [load_model(name).predict(X_test) for name in blend_state["models"]]
    predicted = np.column_stack(columns) @ np.asarray(blend_state["weights"])
    prices = to_price(predicted, blend_state["log_target"])
    sample = paths.RAW / SAMPLE_FILE
    frame = write_submission(paths.SUBMISSION, prepared.test[ID].to_numpy(), prices, sample)
    validate_submission(paths.SUBMISSION, sample)
    metrics = {"n_rows": len(frame), "price_min": float(frame[TARGET].min()),
               "price_median": float(frame[TARGET].median()), "price_max": float(frame[TARGET].max())}
    tags = {"stage": "submission", "model": "+".join(blend_state["models"]), "dataset": paths.PIPELINE}
    with harness.tracked(params={"blend": blend_state}, tags=tags):
        write_metrics(harness.outputs.metrics, metrics)
        tracking.log_metrics(metrics)
        tracking.log_artifact(paths.SUBMISSION)
        for plot in sorted(paths.PLOTS.glob("*.png")):
            tracking.log_artifact(plot, "plots")
    return metrics
