"""A competition's stages: what each `python cli.py competition ... KEY` command (= DVC stage) does.

Each function reads its inputs, does one job, writes its outputs atomically, and logs one
MLflow run (nested runs per fold for cross-validation) in the competition's experiment (its
key); seeds, threads, device, run tags and run record come from the stage harness
(pipeline/stage.py). `train` is cross-validation and the final fit of one model in one
process (stage `<stem>_train@MODEL`): each stage process pays ~2-3 s to import its libraries
and open the MLflow store, so one process per model instead of two saves that much per model.

Imports are kept to what a stage uses: torch only for torch models (the registry imports a
model's module when it is used), the features module only in preprocess.
"""

from __future__ import annotations

import json
import pickle
import sys

import numpy as np
import pandas as pd

from pipeline import tracking
from pipeline.errors import DataError, MissingColumns
from pipeline.files import write_bytes, write_csv, write_json, write_metrics
from pipeline.stage import Stage, StageOutputs

from . import models
from .blend import best_threshold, combine, fit_weights, out_of_fold_blend
from .config import CompetitionParams
from .data import feature_columns, lacking_file, load
from .evaluation import fold_summary, scores, standard_errors
from .figures import plot_fold_curves, plot_oof, plot_oof_classes, write_tables
from .prepared import Prepared
from .submission import read_sample, values_frame, write_submission
from .tasks import Scorer, Task, forward, inverse
from .train import cross_validate, fit_all, fitted_features

_X_LABEL = {"elastic_net": "iteration", "gradient_boosting": "number of trees", "lightgbm": "number of trees"}


def _outputs(p: CompetitionParams, name: str, metrics_name: str | None = None) -> StageOutputs:
    return StageOutputs(p.key, name, metrics_name=metrics_name)


def _load_prepared(p: CompetitionParams) -> Prepared:
    return Prepared.load(p.paths.processed, p.key)


def _task(p: CompetitionParams, prepared: Prepared):
    return p.task_for(len(prepared.classes))


def _group_encoder(p: CompetitionParams, prepared: Prepared, task: Task):
    """The out-of-fold group statistics of the keys preprocess found (None when it found none)."""
    from .group_stats import encoder

    return encoder(prepared, task.n_classes, p.group_stats)


def _scorer(p: CompetitionParams) -> Scorer:
    return Scorer(p.metric_spec, p.target_transform)


def _model_stage(p: CompetitionParams, model: str, stage: str):
    """What the cv and fit stages share: validated model params, the harness, data, run tags.

    torch is imported (seeded, threads capped, device checked) only for torch models.
    """
    model_params = p.model(model)  # a bad param, or a type the task rules out, fails before any data is read
    prepared = _load_prepared(p)
    task = _task(p, prepared)
    harness = Stage(p.key, f"{stage}:{model}", seed=p.seed, cpu_threads=p.cpu_threads, where=p.where,
                    device=getattr(model_params, "device", "cpu"), uses_torch=models.uses_torch(model_params),
                    outputs=_outputs(p, f"{stage}_{model}"))
    tags = {"stage": stage, "model": model, "model_type": model_params.type, "dataset": p.key,
            "competition": p.kaggle, "task": p.task, "metric": p.metric}
    return model_params, harness, prepared, tags, task


# ---- preprocess


def fit_preprocessor(p: CompetitionParams, raw):
    """The block's features module fitted on the rows its `stats_from` names (never the target)."""
    module, feature_params = p.features_module(), p.feature_params()
    features = feature_columns(raw.test, p.id)
    stats_rows = raw.train[features] if getattr(feature_params, "stats_from", "train") == "train" \
        else pd.concat([raw.train[features], raw.test[features]])
    try:
        return module.Preprocessor.fit(stats_rows, feature_params)
    except MissingColumns as exc:  # the file without them is at fault, not the features
        raise lacking_file(raw, exc) from None


def preprocess(p: CompetitionParams) -> dict:
    """Infer and fit the features on train (and test, if the features module asks), leave out
    features the test's values do not support, choose how folds mirror the test split, find the
    keys for group statistics, and write model-ready tables with the target in target space."""
    from . import group_stats, shift, validation

    raw = load(p)
    module, feature_params = p.features_module(), p.feature_params()
    preprocessor = fit_preprocessor(p, raw)
    target = raw.train[p.target]
    outliers = np.asarray(module.outliers(raw.train, target, feature_params), bool) \
        if hasattr(module, "outliers") else np.zeros(len(target), bool)
    if p.task == "regression":
        y = forward(target.to_numpy(np.float64), p.target_transform)
    else:
        index = {label: i for i, label in enumerate(raw.classes)}
        y = target.map(index).to_numpy(np.int64)
    ids_train, ids_test = raw.train[[p.id]].reset_index(drop=True), raw.test[[p.id]].reset_index(drop=True)
    features_train = preprocessor.transform(raw.train).reset_index(drop=True)
    features_test = preprocessor.transform(raw.test).reset_index(drop=True)
    columns = list(preprocessor.columns)
    unsupported = shift.unsupported_features(features_train, features_test, columns, keep=p.shift.keep,
                                             units=shift.units_of(preprocessor))
    columns = [c for c in columns if c not in unsupported]
    scheme = validation.choose(p.cv.scheme, raw.train, raw.test, p.id, p.task != "regression", f"{p.where}.cv.scheme")
    keys, key_notes = group_stats.discover(raw.train, raw.test, [p.id, p.target], p.group_stats,
                                           f"{p.where}.group_stats")
    key_frames = [pd.DataFrame({group_stats.KEY_PREFIX + k: group_stats.key_values(frame, k) for k in keys},
                               index=frame.index).reset_index(drop=True) for frame in (raw.train, raw.test)]
    train = pd.concat([ids_train, features_train[columns], key_frames[0]], axis=1)
    test = pd.concat([ids_test, features_test[columns], key_frames[1]], axis=1)
    labels = pd.DataFrame({p.id: ids_train[p.id], "label": target.to_numpy(), "y": y, "is_outlier": outliers})
    if scheme.blocks is not None:
        labels["block"] = scheme.blocks
    shifted = dict.fromkeys(unsupported.values())  # a category's dummies share one reason
    notes = [*raw.notes, *getattr(preprocessor, "notes", []),
             *(f"{reason}: left out (keep it with {p.where}.shift.keep)" for reason in shifted),
             *key_notes, f"cv folds: {scheme.label}: {scheme.reason}"]
    meta = {"id": p.id, "target": p.target, "task": p.task, "classes": raw.classes,
            "target_transform": p.target_transform, "columns": columns, "notes": notes, "group_keys": keys,
            "cv_scheme": {"kind": scheme.kind, "column": scheme.column, "ordered": scheme.ordered,
                          "reason": scheme.reason}}
    report = shift.adversarial(features_train, features_test, list(preprocessor.columns), p.seed) \
        if p.shift.adversarial else {}
    Prepared(train, test, labels, meta).save(p.paths.processed, (str(raw.paths['train']), str(raw.paths['test'])))
    preprocessor.save(p.paths.processed / "preprocessor.json")  # the fitted state, for inspection and reuse
    write_metrics(_outputs(p, "shift").metrics, {**report, "left_out": unsupported})
    for note in notes:  # on stderr: stdout is the stage's summary
        print(f"note: {note}", file=sys.stderr)
    summary = {"n_train": len(train), "n_test": len(test), "n_features": len(columns),
               "n_outliers": int(outliers.sum()), "outlier_ids": raw.train.loc[outliers, p.id].tolist(),
               "n_columns_left_out": len(raw.notes) + len(getattr(preprocessor, "notes", [])) + len(unsupported),
               "n_group_keys": len(keys)}
    if hasattr(preprocessor, "skewed"):
        summary["n_skewed_transformed"] = len(preprocessor.skewed)
    if p.task != "regression":
        summary["n_classes"] = len(raw.classes)
    write_metrics(_outputs(p, "preprocess").metrics, summary)
    return summary


# ---- train: k-fold cross-validation, then the final fit


def _oof_frame(p: CompetitionParams, prepared: Prepared, folds: np.ndarray, oof: np.ndarray) -> pd.DataFrame:
    """Out-of-fold predictions as a table: `prediction`, or `prediction_<k>` per class."""
    frame = pd.DataFrame({p.id: prepared.ids(), "fold": folds + 1})
    if oof.ndim == 2:
        for k in range(oof.shape[1]):
            frame[f"prediction_{k}"] = oof[:, k]
    else:
        frame["prediction"] = oof
    return frame


def _read_oof(p: CompetitionParams, prepared: Prepared, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(folds, predictions) a cv stage wrote; refused unless they cover the training rows."""
    path = p.paths.oof(model)
    if not path.is_file():
        raise DataError(f"{path}: not found (run `python cli.py competition train {p.key} {model}`)")
    frame = pd.read_csv(path)
    columns = [c for c in frame.columns if str(c).startswith("prediction")]
    if not columns or not np.array_equal(frame[p.id].astype(str).to_numpy(), prepared.ids().astype(str)) \
            or frame[columns].isna().any().any():
        raise DataError(f"{path}: out-of-fold predictions do not cover the training rows; rerun its cv")
    values = frame[columns].to_numpy(np.float64)
    return frame["fold"].to_numpy(), values if len(columns) > 1 else values[:, 0]


def cross_validation(p: CompetitionParams, model: str) -> dict:
    """k-fold CV of one model: out-of-fold predictions, per-fold scores and curves."""
    model_params, harness, prepared, tags, task = _model_stage(p, model, "cv")
    out, metric = harness.outputs, p.metric
    X, y = prepared.X(), prepared.y()
    folds = p.fold_ids(prepared, task)
    run_params = p.run_params(model, model_params)
    with harness.tracked(params=run_params, tags=tags):
        result = cross_validate(model_params, X, y, folds, p.fit_mask(prepared.outliers()), _scorer(p), p.seed,
                                workers=p.cv.workers, task=task, groups=_group_encoder(p, prepared, task))
        for fold in result.folds:
            # fold runs carry the params too, so the compare view works on them as on the parents
            with harness.tracked(params=run_params, tags={**tags, "fold": fold.fold + 1}, nested=True,
                                 run_name=f"cv:{model}:fold{fold.fold + 1}"):
                _log_curves(fold.history)
                final = {"n_train": fold.n_train, "n_valid": fold.n_valid}
                if not fold.history:  # models with curves already logged these, one point per step
                    final.update({f"train_{metric}": fold.train_score, f"valid_{metric}": fold.valid_score})
                tracking.log_metrics(final)
        metrics = {**fold_summary(result.folds, metric),
                   **scores(p.metric_spec, p.target_transform, prepared.truth(), result.oof, prepared.outliers())}
        # The headline scores go first: the compare view's parallel-coordinates plot draws the
        # first metric a run logged, and that must be the competition's score (`scores.headline`).
        from pipeline.scores import headline

        tracking.log_metrics({**{k: metrics[k] for k in headline(p.key) if k in metrics}, **metrics})
        # the parent holds every fold's scores too, step = fold, for charts over the parent runs
        tracking.log_history({f"fold_valid_{metric}": [f.valid_score for f in result.folds],
                              f"fold_train_{metric}": [f.train_score for f in result.folds]})
        write_csv(p.paths.oof(model), _oof_frame(p, prepared, folds, result.oof))
        write_metrics(out.metrics,
                      {**metrics, "folds": {f"fold{f.fold + 1}": {f"valid_{metric}": f.valid_score,
                                                                  f"train_{metric}": f.train_score}
                                            for f in result.folds}})
        write_tables(out.plot(".csv"), out.plot("_folds.csv"), result.folds, metric)
        plot_fold_curves(out.plot(".png"), result.folds, title=f"{model}: {p.cv.folds}-fold {metric}",
                         metric=metric, xlabel=_X_LABEL.get(model_params.type, "epoch"))
        tracking.log_artifact(out.plot(".png"))
    return metrics


def fit(p: CompetitionParams, model: str) -> dict:
    """Train one model on every training row; save it for the submission stage."""
    model_params, harness, prepared, tags, task = _model_stage(p, model, "fit")
    X, y = prepared.X(), prepared.y()
    mask = p.fit_mask(prepared.outliers())
    score = _scorer(p)
    with harness.tracked(params=p.run_params(model, model_params), tags=tags):
        X_fit = fitted_features(X, mask, p.seed, _group_encoder(p, prepared, task))
        fitted, history = fit_all(model_params, X_fit, y[mask], np.ones(len(X_fit), bool), score, p.seed, task=task)
        _log_curves(history)
        metrics = {f"train_{p.metric}": score(y[mask], fitted.predict(X_fit)), "n_train": int(mask.sum())}
        # pickle, not torch.save: a scikit-learn or NumPy model's stage need not import torch
        write_bytes(p.paths.model_file(model), pickle.dumps({
            "name": model, "params": models.to_dict(model_params), "state": fitted.state(),
            "n_features": X_fit.shape[1], "seed": p.seed, "task": [task.kind, task.n_classes],
        }, protocol=pickle.HIGHEST_PROTOCOL))
        write_metrics(harness.outputs.metrics, metrics)
        tracking.log_metrics(metrics)
    return metrics


def train(p: CompetitionParams, model: str) -> dict:
    """Stage `<stem>_train@MODEL`: k-fold CV of one model, then its final fit, in one process."""
    return {"cv": cross_validation(p, model), "fit": fit(p, model)}


def _log_curves(history: dict[str, list[float]]) -> None:
    """Log a model's curves; a `step` list (iterations, number of trees) gives their x values."""
    curves = {k: v for k, v in history.items() if k != "step"}
    tracking.log_history(curves, steps=[int(s) for s in history["step"]] if "step" in history else None)


def load_model(p: CompetitionParams, model: str):
    """A fitted model from `models/<key>/<model>.pkl`."""
    path = p.paths.model_file(model)
    if not path.is_file():
        raise DataError(f"{path}: not found (run `python cli.py competition train {p.key} {model}`)")
    with path.open("rb") as fh:
        saved = pickle.load(fh)  # our own file (a DVC output), as torch.load(weights_only=False) was
    params = models.model_params(saved["params"], f"{path}:params")
    kind, n_classes = saved.get("task", ("regression", 0))
    fitted = models.create(params, saved["n_features"], saved["seed"], Task(kind, n_classes))
    fitted.load_state(saved["state"])
    return fitted


def _cpu_stage(p: CompetitionParams, name: str, metrics_name: str | None = None) -> Stage:
    """The harness of a stage that runs on NumPy alone (blend, submission)."""
    return Stage(p.key, name, seed=p.seed, cpu_threads=p.cpu_threads, where=p.where,
                 outputs=_outputs(p, name, metrics_name))


# ---- blend


def blend(p: CompetitionParams) -> dict:
    """Choose blend weights (and a binary decision threshold) on out-of-fold predictions; score
    the blend out of fold too."""
    harness = _cpu_stage(p, "blend", metrics_name=p.paths.cv_scores.stem)  # the competition's headline score
    prepared = _load_prepared(p)
    y, truth, classification = prepared.y(), prepared.truth(), prepared.task != "regression"
    read = [_read_oof(p, prepared, m) for m in p.blend.models]
    folds = read[0][0]
    predictions = np.stack([values for _, values in read], axis=-1)  # models on the last axis
    mask = p.fit_mask(prepared.outliers())
    blended, row_thresholds = out_of_fold_blend(predictions, y, folds, mask, p.blend.method, classification,
                                                p.tunes_threshold)
    weights = fit_weights(predictions[mask], y[mask], p.blend.method, classification)
    threshold = best_threshold(combine(predictions[mask], weights), y[mask]) if p.tunes_threshold else 0.5
    spec, transform, outliers = p.metric_spec, p.target_transform, prepared.outliers()
    scored = scores(spec, transform, truth, blended, outliers, threshold=row_thresholds)
    fold_scores = [scores(spec, transform, truth[folds == k], blended[folds == k], outliers[folds == k],
                          threshold=row_thresholds[folds == k]) for k in np.unique(folds)]
    per_fold = [s[f"oof_{p.metric}"] for s in fold_scores]
    scheme = prepared.cv_scheme()
    # each score with its standard error beside it
    headline = {**scored, **standard_errors(scored, fold_scores, p.metric, len(prepared.test))}
    metrics = {**headline, f"valid_{p.metric}_mean": float(np.mean(per_fold)),
               "cv_scheme": _scheme_label(scheme), "cv_scheme_reason": scheme["reason"],
               "weights": dict(zip(p.blend.models, map(float, weights))),
               "models": {m: scores(spec, transform, truth, predictions[..., i], outliers)
                          for i, m in enumerate(p.blend.models)}}
    if p.tunes_threshold:
        metrics["threshold"] = threshold
    tags = {"stage": "blend", "model": "+".join(p.blend.models), "dataset": p.key, "competition": p.kaggle}
    with harness.tracked(params={**p.run_params(), "blend": p.blend}, tags=tags):
        write_json(p.paths.blend_weights, {"models": p.blend.models, "weights": weights.tolist(),
                                           "threshold": threshold, "task": prepared.task,
                                           "target_transform": transform})
        write_metrics(harness.outputs.metrics, metrics)
        _plot_blend(p, prepared, blended, scored)
        tracking.log_metrics({**headline, f"valid_{p.metric}_mean": metrics[f"valid_{p.metric}_mean"],
                              **{f"weight_{m}": w for m, w in metrics["weights"].items()}})
        tracking.log_artifact(p.paths.oof_plot)
    return metrics


def _scheme_label(scheme: dict) -> str:
    return f"{scheme['kind']}:{scheme['column']}" if scheme.get("column") else scheme["kind"]


def _plot_blend(p: CompetitionParams, prepared: Prepared, blended: np.ndarray, headline: dict) -> None:
    summary = ", ".join(f"{k.removeprefix('oof_')} {v:.4f}" for k, v in headline.items())
    title = f"Out-of-fold blend: {summary}"
    if prepared.task == "regression":
        log_axes = p.target_transform != "none" or p.metric_spec.needs_positive_target  # prices: log scales
        plot_oof(p.paths.oof_plot, prepared.truth(), inverse(blended, p.target_transform), prepared.outliers(),
                 title=title, target=p.target, log_axes=log_axes)
    else:
        plot_oof_classes(p.paths.oof_plot, prepared.y(), blended, prepared.classes, title=title)


# ---- submission


def submission(p: CompetitionParams) -> dict:
    """Predict the test features preprocess made with the fitted models and blend weights; write
    and validate the CSV against the competition's sample submission."""
    if not p.paths.blend_weights.is_file():
        raise DataError(f"{p.paths.blend_weights}: not found (run `python cli.py competition blend {p.key}`)")
    harness = _cpu_stage(p, "submission")  # models predict on the CPU (torch nets are saved there)
    blend_state = json.loads(p.paths.blend_weights.read_text())
    prepared = _load_prepared(p)
    X_test = prepared.X_test()
    groups = _group_encoder(p, prepared, _task(p, prepared))
    if groups is not None:  # the test's group statistics come from every row the models were fitted on
        X_test = np.hstack([X_test, groups.encode(p.fit_mask(prepared.outliers()), groups.test_codes,
                                                  p.seed)[1]])
    predicted = combine(np.stack([load_model(p, name).predict(X_test) for name in blend_state["models"]], axis=-1),
                        np.asarray(blend_state["weights"]))
    if prepared.task == "regression":
        predicted = inverse(predicted, blend_state["target_transform"])
    sample, fmt = read_sample(p.paths.raw / p.files["sample_submission"].basename, prepared.task, p.metric_spec,
                              prepared.classes)
    frame = values_frame(fmt, prepared.test_ids(), predicted, prepared.classes, blend_state.get("threshold", 0.5))
    frame = write_submission(p.paths.submission, frame, sample, fmt, prepared.classes)
    metrics = {"n_rows": len(frame), **_submission_summary(frame, fmt)}
    tags = {"stage": "submission", "model": "+".join(blend_state["models"]), "dataset": p.key,
            "competition": p.kaggle}
    with harness.tracked(params={"blend": blend_state}, tags=tags):
        write_metrics(harness.outputs.metrics, metrics)
        tracking.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        tracking.log_artifact(p.paths.submission)
        for plot in sorted(p.paths.plots.glob("*.png")):
            tracking.log_artifact(plot, "plots")
    return metrics


def _submission_summary(frame: pd.DataFrame, fmt) -> dict:
    """What the predictions look like: the range of numbers, or the share of each label."""
    column = frame[fmt.columns[0]]
    if fmt.kind == "value":
        name = fmt.columns[0]
        return {f"{name}_min": float(column.min()), f"{name}_median": float(column.median()),
                f"{name}_max": float(column.max())}
    if fmt.kind == "label":
        return {"label_share": {str(k): float(v) for k, v in column.value_counts(normalize=True).sort_index().items()}}
    return {"mean_probability": {c: float(frame[c].mean()) for c in fmt.columns}}
