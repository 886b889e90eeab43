"""Which score judges each experiment, and which way it is better.

The terminal views (`cli.py runs`, `metrics`, `exps`) and the UI's saved views put an
experiment's headline score first and rank by it. A competition's headline is its Kaggle metric
out of fold (without the outliers when the competition leaves them out of its fits: House
Prices), then the mean fold score; its direction is the metric's own (`tabular.tasks.METRICS`),
not a guess from the name.
"""

from __future__ import annotations

import re

# Experiments that are not competitions: their scores, the first the one runs are ranked by.
HEADLINES = {
    "regularization": ("test_loss", "test_acc"),
    "rnn": ("perplexity",),
}
# Names of scores outside the competitions' metrics whose best value is the highest.
_HIGHER = ("acc", "auc")
# `<where>_<metric>[_<summary>]`: how a competition's stages name a score of its metric.
_SCORE = re.compile(r"^(?:oof|valid|train|fold_valid|fold_train|blend_oof)_(?P<rest>.+)$")
_SUMMARIES = ("_without_outliers", "_mean", "_std", "_se", "_test_se")


def competition_names() -> list[str]:
    """The competitions under `competitions:` in params.yaml."""
    from pipeline.params import load_params

    return list(load_params().get("competitions") or {})


def competition_block(key: str) -> dict | None:
    """The params block of competition `key` (None when it is no competition)."""
    from pipeline.params import load_params

    block = (load_params().get("competitions") or {}).get(key)
    return block if isinstance(block, dict) and block.get("metric") else None


def headline(experiment: str) -> tuple[str, ...]:
    """An experiment's headline scores; () when it is unknown."""
    if experiment in HEADLINES:
        return HEADLINES[experiment]
    block = competition_block(experiment)
    if block is None:
        return ()
    metric = str(block["metric"])
    first = f"oof_{metric}_without_outliers" if block.get("drop_outliers") else f"oof_{metric}"
    return first, f"valid_{metric}_mean"


def metric_of(name: str) -> str | None:
    """The competition metric a score is of: `oof_log_rmse_without_outliers` -> `log_rmse`,
    `valid_accuracy_mean` -> `accuracy`; None for other scores (`perplexity`, `test_loss`)."""
    from pipeline.tabular.tasks import METRICS

    found = _SCORE.match(name)
    if found is None:
        return None
    rest = found["rest"]
    for suffix in _SUMMARIES:
        if rest.endswith(suffix) and rest.removesuffix(suffix) in METRICS:
            return rest.removesuffix(suffix)
    return rest if rest in METRICS else None


def higher_is_better(metric: str) -> bool:
    """Whether a score's best value is its highest: the competition metric's own direction
    (accuracy, AUC up; log-RMSE, log loss down), else accuracies and AUCs up, losses down."""
    from pipeline.tabular.tasks import METRICS

    of = metric_of(metric)
    if of is not None:
        return METRICS[of].greater_is_better
    name = metric.lower()
    return any(word in name for word in _HIGHER) and "loss" not in name
