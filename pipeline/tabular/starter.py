"""`python cli.py competition new SLUG`: start a Kaggle tabular competition in one command.

It finds the competition's train.csv, test.csv and sample submission (`--from` a folder or URL,
else the data mirror, else the Kaggle API), infers what a first submission needs (id column,
target, task, metric) from the files themselves, and writes `competitions.<key>` into
params.yaml and the competition's stages into dvc.yaml, both by appending text, so every other
line (and comment) stays as it was and `dvc exp run -S` keeps changing one line at a time.
Kaggle's metric cannot be read offline: it is guessed from the task, and the report says so.
"""

from __future__ import annotations

import re
import tempfile
import textwrap
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from pipeline import REPO_ROOT, datasets, kaggle_client
from pipeline.errors import DataError, DownloadError, ParamError
from pipeline.files import write_bytes
from pipeline.params import PARAMS_FILE, load_params

from . import shift, validation
from .config import REQUIRED_FILES
from .data import class_labels, columns_of, feature_columns, read_csv
from .features import Params as FeatureParams
from .features import Preprocessor
from .paths import stage_stem
from .tasks import METRICS

ROLES = REQUIRED_FILES  # the files a competition block names
SAMPLE_SUBMISSION = "sample_submission.csv"
KAGGLE_PAGE_SIZE = 200  # competition files listed per API call
MAX_CLASSES = 30  # a label-like target with more distinct values is not taken for classes
MAX_CLASS_SHARE = 0.05  # ... nor one with as many distinct values as 5% of the rows
SKEWED = 1.0  # a non-negative regression target skewed beyond this is learned as log1p
COMMENT_AT = 34  # column of the `#` of a comment after a value, as in the other competitions
PARAMS_WIDTH = 80  # columns of a params.yaml line DVC's `-S` keeps as it is (longer ones it refolds)
REPORT_WIDTH = 99  # the report's lines stay under 100 columns
SEED = 42  # the block's seed, and the train-vs-test check's
SHIFT_ROWS = 50_000  # rows of each file the train-vs-test check reads at most (evenly spread)
METRIC_NAMES = " | ".join(METRICS)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # a params key, and a DVC stage name's stem


# ---- where the files are


@dataclass
class Found:
    """The competition's three files as local paths, and where they came from."""

    where: str  # what the report says, e.g. "mirror /data/titanic"
    source: str  # the params' `source:` value: the `--from` folder or URL, else ''
    kaggle_files: dict[str, str]  # role -> the file's name among the competition's files
    paths: dict[str, Path]  # role -> a local copy (read in place for a folder)


def _local_folder(base: str) -> Path | None:
    """The folder a base names: a path or a `file://` URL; None for an http(s) URL."""
    if base.startswith("file://"):
        return Path(urllib.request.url2pathname(urllib.parse.urlparse(base).path))
    if "://" in base:
        return None
    return Path(base).expanduser()


def sample_submission_name(names: list[str]) -> str:
    """`sample_submission.csv`, else the one CSV whose name says "submission" (Titanic's
    gender_submission.csv): Kaggle names the sample file differently per competition."""
    if SAMPLE_SUBMISSION in names:
        return SAMPLE_SUBMISSION
    found = sorted(n for n in names if n.lower().endswith(".csv") and "submission" in n.lower())
    if len(found) != 1:
        what = (f"and {len(found)} CSVs whose name contains 'submission' ({', '.join(found)})" if found
                else "nor another CSV whose name contains 'submission'")
        raise FileNotFoundError(f"no sample submission: no {SAMPLE_SUBMISSION} {what}; "
                                f"its files: {', '.join(sorted(names)) or 'none'}")
    return found[0]


def _file_names(names: list[str]) -> dict[str, str]:
    """role -> file name, refusing a listing without train.csv or test.csv."""
    missing = [n for n in ("train.csv", "test.csv") if n not in names]
    if missing:
        raise FileNotFoundError(f"no {' or '.join(missing)}; its files: {', '.join(sorted(names)) or 'none'}")
    return {"train": "train.csv", "test": "test.csv", "sample_submission": sample_submission_name(names)}


def _from_base(base: str, workdir: Path) -> tuple[dict[str, str], dict[str, Path]]:
    """The files under a folder (read in place) or URL (downloaded with the mirror's timeout).
    An http(s) base cannot be listed, so its sample submission must be sample_submission.csv."""
    folder = _local_folder(base)
    if folder is not None:
        if not folder.is_dir():
            raise FileNotFoundError(f"no such folder {folder}")
        names = _file_names([p.name for p in folder.iterdir() if p.is_file()])
        return names, {role: folder / name for role, name in names.items()}
    names = {"train": "train.csv", "test": "test.csv", "sample_submission": SAMPLE_SUBMISSION}
    paths = {}
    for role, name in names.items():
        paths[role] = workdir / name
        datasets._copy_from(datasets._join(base, name), paths[role])
    return names, paths


def kaggle_file_names(slug: str) -> list[str]:
    """Every file name of the competition, page by page (the sample submission's name varies)."""
    client, names, token = kaggle_client.api(), [], None
    while True:
        page = client.competition_list_files(slug, page_token=token, page_size=KAGGLE_PAGE_SIZE)
        names += [f.name for f in page.files or []]
        token = page.next_page_token
        if not token:
            return names


def _from_kaggle(slug: str, workdir: Path) -> tuple[dict[str, str], dict[str, Path]]:
    """The files through the Kaggle API (the user's credentials, rules accepted on the site)."""
    with kaggle_client.request_timeout():
        names = _file_names(kaggle_file_names(slug))
        paths = {role: workdir / name for role, name in names.items()}
        for role, name in names.items():
            kaggle_client.download_competition_file(slug, name, paths[role])
    return names, paths


def _attempts(slug: str, source: str | None, mirror: str | None) -> list[tuple[str, str, Any]]:
    """(label, params `source:` value, fetch(workdir) or None when skipped) in the order tried:
    `--from` alone when given (the user named the files: no mirror, no Kaggle API)."""
    attempts: list[tuple[str, str, Any]] = []
    if source:
        folder = _local_folder(source)
        value = str(folder.resolve()) if folder is not None and "://" not in source else source.rstrip("/")
        return [(f"--from {value}", value, lambda workdir: _from_base(value, workdir))]
    if mirror:
        base = datasets._join(mirror, slug)
        attempts.append((f"mirror {base}", "", lambda workdir: _from_base(base, workdir)))
    label = f"Kaggle API competition '{slug}'"
    if kaggle_client.has_credentials():
        attempts.append((label, "", lambda workdir: _from_kaggle(slug, workdir)))
    else:
        attempts.append((f"{label}: skipped, no Kaggle credentials ({kaggle_client.CREDENTIAL_HELP})", "", None))
    return attempts


def locate(slug: str, source: str | None, mirror: str | None, workdir: Path) -> Found:
    """The first place holding all three files; a DownloadError naming every place tried."""
    tried = []
    for label, value, fetch in _attempts(slug, source, mirror):
        if fetch is None:
            tried.append(label)
            continue
        try:
            names, paths = fetch(workdir)
        except Exception as exc:
            if source:  # the one place asked for: one line saying what it lacks
                raise DownloadError(f"{label}: {exc}") from exc
            tried.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        return Found(label, value, names, paths)
    hint = "" if source or mirror else f" (offline? pass --from DIR or set {datasets.MIRROR_ENV})"
    raise DownloadError(f"found no train.csv, test.csv and sample submission for competition '{slug}'{hint}; "
                        "tried:\n  - " + "\n  - ".join(tried))


# ---- what the files say


@dataclass
class Inferred:
    """The settings read off the files, each with the reason the report and params.yaml give."""

    id: str
    target: str
    task: str
    metric: str
    target_transform: str
    why: dict[str, str]  # setting -> reason
    classes: list  # classification: the training labels
    left_out: list[str]  # in train, not in test, not the target
    unknown: list[str]  # what could not be inferred, and how to set it
    kinds: dict[str, list[str]]  # the generic preprocessing's kind -> columns
    kind_notes: list[str] = field(default_factory=list)
    n_rows: int = 0  # training rows: the net's defaults scale with them
    shift: dict = field(default_factory=dict)  # shift.check of the generic features: how test differs
    scheme: str = ""  # the folds `cv.scheme: auto` makes of these files, and why


def infer_id(sample: pd.DataFrame, test: pd.DataFrame, names: dict[str, str]) -> str:
    """The sample submission's first column: Kaggle matches predictions to test rows by it."""
    column = str(sample.columns[0])
    if column not in test.columns:
        raise DataError(f"{names['test']}: no column {column!r} (the first column of {names['sample_submission']}, "
                        f"taken for the id); its columns: {columns_of(test)}")
    return column


def _target_of_labels(lacking: list[str], train: pd.DataFrame, columns: list[str]) -> list[str]:
    """Per-class columns: the train column test lacks, or the one whose values name those columns."""
    if len(lacking) == 1:
        return lacking
    return [c for c in lacking if set(map(str, train[c].dropna().unique())) <= set(columns)]


def infer_target(train: pd.DataFrame, test: pd.DataFrame, sample: pd.DataFrame, id_column: str,
                 names: dict[str, str]) -> tuple[str, str, bool]:
    """(target, why, per_class). One value column names the target (when train has it); several
    are one probability column per class of the single train column that test lacks."""
    values = [str(c) for c in sample.columns[1:]]
    lacking = [str(c) for c in train.columns if c not in test.columns and c != id_column]
    if not values:
        raise DataError(f"{names['sample_submission']}: only column {id_column!r}; a sample submission "
                        "has the id, then the prediction column(s)")
    if len(values) == 1 and values[0] in train.columns:
        return values[0], "the sample's value column", False
    if len(values) > 1 and all(v in train.columns for v in values):
        raise DataError(f"{names['sample_submission']}: predicts several train columns ({', '.join(values)}); "
                        "only one target per competition is supported")
    candidates = _target_of_labels(lacking, train, values) if len(values) > 1 else lacking
    if len(candidates) != 1:
        raise DataError(f"{names['train']}: cannot tell the target: {names['sample_submission']} predicts "
                        f"{', '.join(values)}, and the columns train has and test lacks are "
                        f"{', '.join(lacking) or 'none'}; train's columns: {columns_of(train)}")
    if len(values) > 1:
        return candidates[0], "in train only; per-class sample", True
    return candidates[0], "in train, not in test", False


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _show(values: list, limit: int = 8) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def infer_task(y: pd.Series, per_class: bool, n_columns: int) -> tuple[str, str, list[str]]:
    """(task, why, warnings): 2 values -> binary; a few integer or string labels -> multiclass;
    other numbers -> regression."""
    values = y.dropna()
    distinct = class_labels(y)
    if per_class:
        return "multiclass", f"the sample has a probability column per class ({n_columns})", []
    if len(distinct) < 2:
        raise DataError(f"train.csv: target {y.name!r} has {len(distinct)} distinct value(s): nothing to learn")
    if len(distinct) == 2:
        return "binary", f"2 distinct values ({_show(distinct)})", []
    number = _is_number(values)
    kind = "integer" if number and bool(np.all(values == np.round(values))) else "number" if number else "string"
    few = len(distinct) <= MAX_CLASSES and len(distinct) < MAX_CLASS_SHARE * len(values)
    if kind in ("integer", "string") and few:
        return "multiclass", f"{kind} target, {len(distinct)} distinct values ({_show(distinct)})", []
    if kind == "string":
        return "multiclass", f"string target, {len(distinct)} distinct values", [
            f"task: {len(distinct)} classes is more than a first guess expects; check that {y.name!r} is the target"]
    return "regression", f"{kind} target with {len(distinct)} distinct values", []


def infer_metric(task: str, y: pd.Series, sample_values: pd.Series, per_class: bool) -> tuple[str, str, str]:
    """(metric, transform, why): a first guess from the task; Kaggle's real metric is on its site."""
    if task == "regression":
        values = y.dropna().astype(np.float64)
        skew = float(values.skew())
        if values.min() >= 0 and skew > SKEWED:
            return "rmsle", "log1p", f"non-negative target, right-skewed (skew {skew:.2f} > {SKEWED:g})"
        return "rmse", "none", f"regression target (skew {skew:.2f})"
    if task == "binary":
        sample = sample_values.dropna()
        if _is_number(sample) and not np.all(sample == np.round(sample)):
            return "auc", "none", "the sample's values are fractional probabilities"
        return "accuracy", "none", "the sample's values are labels"
    if per_class:
        return "logloss", "none", "the sample has a probability column per class"
    return "accuracy", "none", "the sample has one label column"


def feature_kinds(rows: pd.DataFrame) -> tuple[dict[str, list[str]], list[str]]:
    """kind -> columns, and the notes, of the generic preprocessing fitted on `rows` (the feature
    columns): what the first `dvc repro` will do with each column, said before it runs."""
    return _kinds_of(Preprocessor.fit(rows, FeatureParams()))


def _kinds_of(fitted: Preprocessor) -> tuple[dict[str, list[str]], list[str]]:
    kinds: dict[str, list[str]] = {}
    for column, kind in fitted.kinds.items():
        kinds.setdefault(str(kind), []).append(str(column))
    return kinds, [str(note) for note in fitted.notes]


def infer(frames: dict[str, pd.DataFrame], names: dict[str, str], key: str) -> Inferred:
    """Every setting the files tell, and what they cannot (the metric, always)."""
    train, test, sample = frames["train"], frames["test"], frames["sample_submission"]
    id_column = infer_id(sample, test, names)
    target, target_how, per_class = infer_target(train, test, sample, id_column, names)
    y = train[target]
    task, task_why, unknown = infer_task(y, per_class, len(sample.columns) - 1)
    metric, transform, metric_why = infer_metric(task, y, sample[sample.columns[-1]], per_class)
    unknown.append(f"metric: Kaggle's metric is not known offline; guessed {metric}; set competitions.{key}.metric "
                   f"({METRIC_NAMES}) to the one on the competition's Evaluation page")
    left_out = [str(c) for c in train.columns if c not in test.columns and c not in (id_column, target)]
    why = {"id": f"the first column of {names['sample_submission']}, also in test", "target": target_how,
           "task": task_why, "metric": f"guessed: {metric_why}", "target_transform": (
               "the metric scores log(1 + target)" if transform == "log1p" else "the target is learned as it is")}
    features = [c for c in feature_columns(test, id_column) if c in train.columns]
    classes = class_labels(y) if task != "regression" else []
    fitted = Preprocessor.fit(train[features], FeatureParams())
    kinds, notes = _kinds_of(fitted)
    return Inferred(id_column, target, task, metric, transform, why, classes, left_out, unknown, kinds, notes,
                    len(train), shift=shift_check(fitted, train[features], test[features]),
                    scheme=scheme_line(train, test, id_column, task, key))


def scheme_line(train: pd.DataFrame, test: pd.DataFrame, id_column: str, task: str, key: str) -> str:
    """What `cv.scheme: auto` (pipeline/tabular/validation.py) makes of these files."""
    where = f"competitions.{key}.cv.scheme"
    chosen = validation.choose("auto", train, test, id_column, task != "regression", where=where)
    return f"CV folds (cv.scheme auto): {chosen.label}: {chosen.reason}"


def shift_check(fitted: Preprocessor, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """How test differs from train in the generic features (pipeline/tabular/shift.py), on at
    most SHIFT_ROWS rows of each, so a big competition is still set up in seconds."""
    if not fitted.columns:
        return {}
    train, test = (frame.iloc[shift.even_rows(len(frame), SHIFT_ROWS)] for frame in (train, test))
    return shift.check(fitted.transform(train), fitted.transform(test), fitted.columns, seed=SEED,
                       units=shift.units_of(fitted))


# ---- the params block, as text


def model_defaults(task: str, n_rows: int = 0) -> dict[str, Any]:
    """First-submission models: small boosted trees, a regularized linear model, a one-layer net.
    Untuned on purpose: a first submission; `dvc exp run -S` is where they get better. On more
    than 20,000 rows the net takes bigger batches and fewer epochs, so the first `dvc repro`
    stays within minutes on a laptop CPU. From 10,000 rows the trees take LightGBM's own leaf
    settings and most columns per tree: on a few strong columns (an hour, a working day) the
    small-data settings, half the columns per tree, cost 0.01 rmsle on the generated hourly
    demand and statsmodels' randhie (benchmarks/leaderboard.py's data; LightGBM alone, pseudo-test)."""
    big = n_rows > 20_000
    many = n_rows >= 10_000
    mlp = {"type": "mlp", "hidden": [64], "dropout": 0.2, "optimizer": "adamw", "lr": 0.003,
           "weight_decay": 0.01, "batch_size": 256 if big else 64, "epochs": 15 if big else 30}
    if task == "regression":
        mlp["standardize_target"] = True
    return {
        "lightgbm": {"type": "lightgbm", "n_estimators": 400, "learning_rate": 0.03, "num_leaves": 31 if many else 15,
                     "min_child_samples": 20 if many else 10, "subsample": 0.8,
                     "colsample_bytree": 0.8 if many else 0.5},
        "elastic_net": {"type": "elastic_net", "alpha": 0.001, "l1_ratio": 0.5},
        "mlp": mlp,
    }


def params_block(key: str, slug: str, found: Found, sha256: dict[str, str], inferred: Inferred) -> dict[str, Any]:
    """`competitions.<key>` as data (the schema the competition stages read)."""
    files = {role: {"name": f"{slug}/{found.kaggle_files[role]}", "sha256": sha256[role],
                    "kaggle_file": found.kaggle_files[role]} for role in ROLES}
    return {
        "kaggle": slug, "files": files, "source": found.source, "id": inferred.id, "target": inferred.target,
        "task": inferred.task, "metric": inferred.metric, "target_transform": inferred.target_transform,
        "seed": SEED, "cpu_threads": 1, "features": {"module": "", "stats_from": "train"}, "drop_outliers": False,
        "group_stats": {"columns": "auto", "smoothing": 10.0, "min_linked_share": 0.2, "inner_folds": 5},
        "shift": {"keep": [], "adversarial": True},
        "cv": {"folds": 5, "shuffle": True, "seed": 42, "workers": 0, "scheme": "auto"},
        "models": model_defaults(inferred.task, inferred.n_rows),
        "blend": {"models": ["lightgbm", "elastic_net", "mlp"], "method": "optimize"},
    }


def block_comments(key: str, found: Found, inferred: Inferred) -> dict[str, str]:
    """dotted path -> the short comment after that line: what a value means, or that it was
    inferred (the report says why at length)."""
    transform = "learn log1p(target): rmsle" if inferred.target_transform == "log1p" else "none | log | log1p"
    return {
        "kaggle": "Kaggle slug: submit, API download",
        "files": f"checksum-verified into data/raw/{key}",
        "files.train.name": "path under the data mirror",
        "files.train.kaggle_file": "its name among Kaggle's files",
        "source": "`new --from`: tried first" if found.source else "folder or URL tried first ('' = none)",
        "id": "inferred: the sample's first column",
        "target": f"inferred: {inferred.why['target']}",
        "task": f"inferred: {len(inferred.classes)} classes" if inferred.classes else "inferred: numbers",
        "metric": "guessed: check Kaggle's Evaluation page",
        "target_transform": transform,
        "cpu_threads": "torch CPU threads (0: torch's default)",
        "features.module": "'' = the generic preprocessing",
        "features.stats_from": "train | train_and_test",
        "cv.workers": "folds fitted at once (0: one per core; same results)",
        "cv.scheme": "auto | random | stratified | group:COLUMN | time:COLUMN",
        "group_stats.columns": "auto | none | [COLUMN, NAME:first_word]",
        "shift.keep": "features kept though test's values lie where train has none",
        "models.mlp.standardize_target": "learn (y - mean) / std",
        "blend.method": "optimize (weights on out-of-fold) | mean",
    }


def scalar(value: Any) -> str:
    """A scalar as PyYAML (and DVC's ruamel) write it: plain when that reads back the same."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return yaml.safe_dump(value, width=10_000, allow_unicode=True).removesuffix("\n...\n").removesuffix("\n")


def commented(indent: int, text: str, comment: str | None) -> list[str]:
    """A line with its comment aligned at COMMENT_AT, or, when that would reach PARAMS_WIDTH, the
    comment on the lines above it."""
    line = " " * indent + text
    if not comment:
        return [line]
    inline = f"{line.ljust(COMMENT_AT - 2)}  # {comment}"
    if len(inline) < PARAMS_WIDTH:
        return [inline]
    wrapped = textwrap.wrap(comment, PARAMS_WIDTH - 1 - indent - 2, break_on_hyphens=False)
    return [" " * indent + "# " + part for part in wrapped] + [line]


def yaml_lines(mapping: Mapping[str, Any], comments: Mapping[str, str], indent: int, path: str = "") -> list[str]:
    """A mapping in DVC's block layout: list items at their key's indent, no flow style."""
    lines: list[str] = []
    for name, value in mapping.items():
        dotted = f"{path}{name}"
        if isinstance(value, Mapping):
            lines += commented(indent, f"{scalar(name)}:", comments.get(dotted))
            lines += yaml_lines(value, comments, indent + 2, dotted + ".")
        elif isinstance(value, list) and not value:  # DVC writes an empty list in flow style too
            lines += commented(indent, f"{scalar(name)}: []", comments.get(dotted))
        elif isinstance(value, list):
            lines += commented(indent, f"{scalar(name)}:", comments.get(dotted))
            lines += [" " * indent + f"- {scalar(item)}" for item in value]
        else:
            lines += commented(indent, f"{scalar(name)}: {scalar(value)}", comments.get(dotted))
    return lines


# ---- writing params.yaml and dvc.yaml


TOP_KEY = re.compile(r"^([^\s#-][^:]*):")


def _top_keys(lines: list[str]) -> list[tuple[int, str]]:
    """(line index, name) of each top-level key."""
    return [(i, m.group(1)) for i, line in enumerate(lines) if (m := TOP_KEY.match(line))]


def insert_into_section(text: str, section: str, block: str, separator: str = "") -> str:
    """`block` appended as the last entry of top-level `section` (after its last indented line and
    `separator`, before the blank lines and comments that open the next section); a new section
    at the end of the file when there is none. Every other byte stays."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    keys = _top_keys(lines)
    starts = [i for i, name in keys if name == section]
    if not starts:
        return "".join(lines) + ("\n" if lines else "") + f"{section}:\n" + block
    following = [i for i, _ in keys if i > starts[0]]
    end = following[0] if following else len(lines)
    last = max([starts[0]] + [i for i in range(starts[0] + 1, end) if lines[i][:1] in (" ", "\t")
                              and lines[i].strip()])
    return "".join(lines[:last + 1]) + separator + block + "".join(lines[last + 1:])


def _competitions(text: str) -> dict[str, Any]:
    return (yaml.safe_load(text) or {}).get("competitions") or {}


def refuse_existing(text: str, key: str, where: Path) -> None:
    """Checked before any download: `new` never overwrites a competition's block."""
    if key in _competitions(text):
        raise ParamError(f"{where}: competitions.{key} already exists; remove it first, or pass --name NEW_KEY")


def new_params_text(text: str, lines: list[str]) -> str:
    """params.yaml with the block's lines added to `competitions:`, after a blank line as the
    other entries are."""
    return insert_into_section(text, "competitions", "".join(line + "\n" for line in lines),
                               "\n" if _competitions(text) else "")


def overlong(lines: list[str]) -> list[str]:
    """What the report says of lines DVC's `-S` would refold (a long `--from` path, a long column
    name): the value stays the same, but the first `dvc exp run -S` rewrites those lines."""
    return [f"params.yaml line `{line.strip()[:40]}...` is {len(line)} columns (> {PARAMS_WIDTH}): the first "
            "`dvc exp run -S` refolds it (same value)" for line in lines if len(line) > PARAMS_WIDTH]


def _stage_names(yaml_text: str, where: str) -> list[str]:
    """The names under `stages:`, in the file's order."""
    try:
        stages = (yaml.safe_load(yaml_text) or {}).get("stages") or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{where}: not valid YAML ({exc})") from exc
    return list(stages)


def new_dvc_text(text: str, key: str, where: Path) -> tuple[str, list[str]]:
    """dvc.yaml with the competition's stages appended (stages: is its last section), and their
    names; refuses stage names dvc.yaml already has."""
    from pipeline.tabular.stage_block import render

    keys = _top_keys(text.splitlines())
    if not keys or keys[-1][1] != "stages":
        raise DataError(f"{where}: `stages:` must be the file's last section to append to; "
                        f"its last is {keys[-1][1] + ':' if keys else 'none'}")
    stages = render(key)
    names = _stage_names("stages:\n" + stages, "stage_block.render")
    taken = sorted(set(names) & set(_stage_names(text, str(where))))
    if taken:
        raise DataError(f"{where}: already has stage(s) {', '.join(taken)}; remove them first, "
                        "or pass --name NEW_KEY")
    return (text if text.endswith("\n") else text + "\n") + stages, names


# ---- the report


@dataclass
class Report:
    """What `new` did, as the CLI prints it."""

    key: str
    slug: str
    found: Found
    shapes: dict[str, tuple[int, int]]  # role -> (rows, columns)
    sha256: dict[str, str]
    inferred: Inferred
    params_file: Path
    dvc_file: Path
    stages: list[str]
    layout: list[str]  # params.yaml lines DVC's `-S` would refold

    def _files(self) -> list[str]:
        lines = [f"Files: from {self.found.where}"]
        for role in ROLES:
            rows, cols = self.shapes[role]
            lines.append(f"  {self.found.kaggle_files[role]:<24} {rows:>7} rows {cols:>4} columns  "
                         f"sha256 {self.sha256[role][:12]}...")
        return lines

    def _settings(self) -> list[str]:
        i = self.inferred
        values = {"id": i.id, "target": i.target, "task": i.task, "metric": i.metric,
                  "target_transform": i.target_transform}
        lines = ["Inferred:"]
        for name, value in values.items():
            lines.append(f"  {name + ': ' + value:<28} {i.why[name]}")
        if i.classes:
            lines.append(f"  classes: {len(i.classes)} ({_show(i.classes)})")
        if i.task == "regression" and i.target_transform != "none":
            lines.append(f"  the models learn {i.target_transform}({i.target}); predictions are transformed back")
        return lines

    def _columns(self) -> list[str]:
        i = self.inferred
        left_out = ", ".join(i.left_out) or "none"
        lines = [f"Left out (in train, not in test: cannot be known at prediction time): {left_out}"]
        lines.append("Column kinds (the generic preprocessing, pipeline/tabular/features.py):")
        lines += [f"  {kind}: {', '.join(columns)}" for kind, columns in i.kinds.items()]
        return lines + [f"  note: {note}" for note in i.kind_notes]

    def _shift(self) -> list[str]:
        report = self.inferred.shift
        return shift.format_report(report, report["unsupported"]) if report else []

    def text(self) -> str:
        wrote = (f"Wrote: {self.params_file.name} competitions.{self.key}; "
                 f"{self.dvc_file.name} stages {', '.join(self.stages)}")
        lines = [f"New competition '{self.key}' (Kaggle: {self.slug})", *self._files(), *self._settings(),
                 "Could not infer:", *(f"  {u}" for u in self.inferred.unknown + self.layout), *self._columns(),
                 *self._shift(), *([self.inferred.scheme] if self.inferred.scheme else []), wrote,
                 f"Next: dvc repro {stage_stem(self.key)}_submission   (or `dvc repro`: every pipeline)"]
        return "\n".join(_fold(line) for line in lines)


def _fold(line: str) -> str:
    """A report line folded under REPORT_WIDTH, continuation lines indented past its own indent."""
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.fill(line, REPORT_WIDTH, subsequent_indent=indent, break_on_hyphens=False,
                         break_long_words=False)


# ---- the command


def _check_name(value: str, what: str) -> None:
    if not NAME.fullmatch(value):
        raise ParamError(f"{what} {value!r}: use letters, digits, '-' and '_' (it names a params key and stages)")


def new_competition(slug: str, source: str | None = None, key: str | None = None,
                    params_file: Path = PARAMS_FILE, dvc_file: Path = REPO_ROOT / "dvc.yaml") -> Report:
    """Find the files, infer the settings, append the params block and the stages; the report.
    Nothing is written unless everything succeeded up to the writes."""
    key = key or slug
    _check_name(slug, "competition slug")
    _check_name(key, "key")
    params_file, dvc_file = Path(params_file), Path(dvc_file)
    params_text = params_file.read_bytes().decode("utf-8")
    refuse_existing(params_text, key, params_file)
    new_dvc, stages = new_dvc_text(dvc_file.read_bytes().decode("utf-8"), key, dvc_file)
    mirror = datasets.mirror_from((load_params(params_file).get("data") or {}).get("mirror"))
    with tempfile.TemporaryDirectory(prefix="competition-new-") as tmp:
        found = locate(slug, source, mirror, Path(tmp))
        frames = {role: read_csv(found.paths[role], label=f"{found.kaggle_files[role]} ({found.where})") for role in ROLES}
        sha256 = {role: datasets.payload_sha256(found.paths[role]) for role in ROLES}
    inferred = infer(frames, found.kaggle_files, key)
    block = params_block(key, slug, found, sha256, inferred)
    lines = [f"  {scalar(key)}:", *yaml_lines(block, block_comments(key, found, inferred), 4)]
    new_params = new_params_text(params_text, lines)
    write_bytes(params_file, new_params.encode("utf-8"))
    write_bytes(dvc_file, new_dvc.encode("utf-8"))
    shapes = {role: frame.shape for role, frame in frames.items()}
    return Report(key, slug, found, shapes, sha256, inferred, params_file, dvc_file, stages, overlong(lines))
