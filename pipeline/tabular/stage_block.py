"""The dvc.yaml stages of one competition, as text: every competition's block is this template.

`python cli.py competition new` appends a block for the competition it starts; the blocks
of House Prices and Titanic in dvc.yaml are the same template (tests/test_stage_block.py
checks that dvc.yaml holds exactly what `render` gives). Deps name every module a stage
imports (tests/test_stage_deps.py traces them) and params only the ones that shape its
outputs, so `dvc repro` reruns a stage exactly when something it depends on changed.
"""

from __future__ import annotations

from pipeline import REPO_ROOT

from .paths import stage_stem, submission_file

_PLUMBING = ("pipeline/__init__.py       # REPO_ROOT: where outputs go", "pipeline/files.py",
             "pipeline/metric_notes.py   # the stage's summary line", "pipeline/params.py", "pipeline/plots.py",
             "pipeline/scores.py", "pipeline/stage.py", "pipeline/tables.py")
# every module `stages.py` imports, the stage's command module and the package itself
_TABULAR = ("pipeline/tabular/__init__.py", "pipeline/tabular/blend.py", "pipeline/tabular/commands.py",
            "pipeline/tabular/config.py", "pipeline/tabular/data.py", "pipeline/tabular/evaluation.py",
            "pipeline/tabular/figures.py", "pipeline/tabular/group_stats.py", "pipeline/tabular/paths.py",
            "pipeline/tabular/prepared.py", "pipeline/tabular/stages.py", "pipeline/tabular/submission.py",
            "pipeline/tabular/tasks.py", "pipeline/tabular/train.py", "pipeline/tabular/validation.py")
_TORCH = ("pipeline/runtime.py", "pipeline/training.py")  # torch models: device, seeds, epochs


def _list(items, indent: int) -> str:
    pad = " " * indent
    return "".join(f"{pad}- {item}\n" for item in items)


def _params(key: str, names, indent: int) -> str:
    return _list((f"competitions.{key}.{name}" for name in names), indent)


def render(key: str, features_module: str = "") -> str:
    """The YAML of competition `key`'s stages (indented to sit under `stages:`)."""
    stem, submission = stage_stem(key), submission_file(key).relative_to(REPO_ROOT).as_posix()
    features = ["pipeline/tabular/features.py       # the generic preprocessing (modules build on it)",
                "pipeline/tabular/numbers.py        # statistics that cannot overflow",
                "pipeline/tabular/shift.py          # features test's values do not support"]
    if features_module:
        features += ["pipeline/competitions/__init__.py",
                     f"pipeline/competitions/{features_module}.py   # this competition's features"]
    tabular, model_tabular = _list(_TABULAR, 6), _list(_TABULAR, 8)
    return f"""
  # ---- {key}: raw CSVs -> features -> k-fold CV per model -> final fits -> blend -> submission
  {stem}_download:
    cmd: python cli.py download {key}
    deps:
{_list(("pipeline/__init__.py       # REPO_ROOT: where outputs go", "pipeline/datasets.py", "pipeline/files.py",
        "pipeline/params.py         # reads the block's files and data.mirror"), 6)}\
    params:
{_params(key, ("files",), 6)}\
    outs:
      - data/raw/{key}

  {stem}_preprocess:
    cmd: python cli.py competition preprocess {key}
    deps:
      - data/raw/{key}
{_list(features, 6)}      - pipeline/tabular/models/__init__.py   # the registry: config checks model types
{tabular}{_list(_PLUMBING, 6)}\
    params:
{_params(key, ("id", "target", "task", "metric", "target_transform", "features", "seed", "cv.scheme",
              "group_stats", "shift"), 6)}\
    outs:
      - data/processed/{key}
    metrics:
      - metrics/{key}/preprocess.json:
          cache: false
      - metrics/{key}/shift.json:       # how test differs from train (pipeline/tabular/shift.py)
          cache: false

  {stem}_train:                   # k-fold CV, then the final fit, of one model: one process per model
    foreach: ${{competitions.{key}.blend.models}}
    do:
      cmd: python cli.py competition train {key} ${{item}}
      deps:
        - data/processed/{key}
        - pipeline/tabular/models    # every model type: a new one needs no edit here
{model_tabular}{_list((*_PLUMBING, *_TORCH), 8)}\
      params:
{_params(key, ("seed", "cpu_threads", "task", "metric", "target_transform", "cv", "drop_outliers",
              "group_stats"), 8)}\
        - competitions.{key}.models.${{item}}
      outs:
        - data/interim/{key}/oof_${{item}}.csv
        - models/{key}/${{item}}.pkl
      metrics:
        - metrics/{key}/cv_${{item}}.json:
            cache: false
            persist: true      # never restored from DVC's run cache: each build is an MLflow run
        - metrics/{key}/fit_${{item}}.json:
            cache: false
      plots:                       # pipeline/tabular/figures.py
        - plots/{key}/cv_${{item}}.csv:   # mean curve over folds; header only for one-shot fits
            cache: false
            x: step
            y: valid_${{competitions.{key}.metric}}
        - plots/{key}/cv_${{item}}_folds.csv:   # each fold's final scores, every model
            cache: false
            x: fold
            y: valid_${{competitions.{key}.metric}}
            template: scatter
        - plots/{key}/cv_${{item}}.png:
            cache: false

  {stem}_blend:
    cmd: python cli.py competition blend {key}
    deps:
      - data/processed/{key}
      - data/interim/{key}
      - pipeline/tabular/models/__init__.py
{tabular}{_list(_PLUMBING, 6)}\
    params:
{_params(key, ("seed", "cpu_threads", "metric", "target_transform", "drop_outliers", "blend"), 6)}\
    outs:
      - models/{key}/blend.json
    metrics:
      - metrics/{key}/cv.json:
          cache: false
          persist: true      # never restored from DVC's run cache: each build is an MLflow run
    plots:
      - plots/{key}/oof.png:
          cache: false

  {stem}_submission:              # predicts the test features preprocess made (test.parquet)
    cmd: python cli.py competition submission {key}
    deps:
      - data/raw/{key}      # the sample submission the file is checked against
      - data/processed/{key}
      - models/{key}
      - pipeline/tabular/models
{tabular}{_list((*_PLUMBING, *_TORCH), 6)}\
    params:
{_params(key, ("seed", "cpu_threads", "metric", "files.sample_submission", "drop_outliers", "group_stats"), 6)}\
    outs:
      - {submission}
    metrics:
      - metrics/{key}/submission.json:
          cache: false
          persist: true      # never restored from DVC's run cache: each build is an MLflow run
"""
