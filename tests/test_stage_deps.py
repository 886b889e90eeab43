"""Deps that cannot drift (issue 16): every project module a DVC stage imports when it runs is a
dep of that stage in dvc.yaml (the file, or a folder above it), so `dvc repro` reruns the stage
when that module changes. The slow test runs every stage of a throw-away copy of the repo with
tiny params, lists the project modules each loaded (sys.modules) and compares them with its deps.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from stage_imports import REPO, covers, is_allowed, project_files, stage_commands, traced_imports, uncovered

from pipeline.tabular.paths import stage_stem

# Project files a stage may import without depending on them: each cannot change any output a
# stage writes (data, models, metrics, plots). Keep it short; every entry needs its reason.
ALLOWED: dict[str, str] = {
    "cli.py": "CLI wiring: argument parsing, signal handling and the one-line `error:` exit",
    "pipeline/commands.py": "CLI wiring: the top-level typer app that routes to each pipeline's commands",
    "pipeline/errors.py": "error types: a change alters error messages, never outputs",
    "pipeline/kaggle_client.py": "download transport: what it fetches is checked against the registry's "
                                 "checksums (pipeline/datasets.py, a dep) before it lands in data/raw",
    "pipeline/tracking*": "MLflow transport (pipeline/tracking/ and any pipeline/tracking*.py): what "
                          "reaches MLflow, not DVC outputs; the run record under runs/ only names the run",
    "pipeline/private.py": "where the tracking transport keeps its sockets and locks (outside the repo): "
                           "never an output",
}

MISSING_HINT = "add them to the stage's deps in dvc.yaml (or a folder above them)"

COMPETITIONS: dict[str, dict] = yaml.safe_load((REPO / "params.yaml").read_text())["competitions"]


def _own_competition_code(block: dict) -> tuple[str, ...]:
    """What a competition's stages may import: the tabular pipeline and its own features module."""
    module = (block.get("features") or {}).get("module") or ""
    return ("pipeline/tabular", "pipeline/competitions/__init__.py",
            *([f"pipeline/competitions/{module}.py"] if module else []))


# Stage-name prefix -> the code of that pipeline. A stage may import its own pipeline's package
# and the shared plumbing (modules directly under pipeline/), never another pipeline's package;
# a competition's stages (`house_prices_*`, `titanic_*`) never another competition's features module.
OWN_PACKAGE: dict[str, tuple[str, ...]] = {
    "reg_": ("pipeline/regularization",), "rnn_": ("pipeline/rnn",),
    **{f"{stage_stem(key)}_": _own_competition_code(block) for key, block in COMPETITIONS.items()},
}
PIPELINE_PACKAGES = ("pipeline/tabular", "pipeline/competitions", "pipeline/regularization", "pipeline/rnn",
                     "pipeline/tune")

# Settings that make each tabular model type fit in a second or two (keys of its params dataclass).
TINY_MODEL = {
    "linear": {"epochs": 2},
    "mlp": {"epochs": 2},
    "elastic_net": {"max_iter": 100},
    "gradient_boosting": {"options": {"n_estimators": 10}},
    "lightgbm": {"n_estimators": 20},
    "spline_net": {"max_iter": 200},
}


# ---- fast: the checker itself


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_uncovered_reports_misses_and_lets_off_what_cannot_change_outputs(tmp_path):
    _write(tmp_path, {
        "pipeline/__init__.py": '"""Only a docstring: a package marker."""\n',
        "pipeline/tabular/__init__.py": '"""Docstring, then code."""\nLIMIT = 3\n',
        "pipeline/tabular/train.py": "",
        "pipeline/tabular/models/__init__.py": "",
        "pipeline/tabular/models/svr.py": "",
        "pipeline/tabularwork/x.py": "",
        "pipeline/planted.py": "",
        "pipeline/errors.py": "",
        "pipeline/tracking/store.py": "",
        "pipeline/tracking_service.py": "",
    })
    imported = {
        "pipeline/__init__.py", "pipeline/tabular/__init__.py", "pipeline/tabular/train.py",
        "pipeline/tabular/models/__init__.py", "pipeline/tabular/models/svr.py", "pipeline/tabularwork/x.py",
        "pipeline/planted.py", "pipeline/errors.py", "pipeline/tracking/store.py", "pipeline/tracking_service.py",
    }
    deps = ["data/processed/house-prices", "pipeline/tabular/train.py", "pipeline/tabular/models"]
    allowed = {"pipeline/errors.py": "error types", "pipeline/tracking*": "transport"}

    assert uncovered(imported, deps, allowed, repo=tmp_path) == {
        "pipeline/planted.py",          # a planted miss is reported
        "pipeline/tabular/__init__.py",   # runs code: not a mere package marker
        "pipeline/tabularwork/x.py",      # no dep; `pipeline/tabular` would not cover it either (below)
    }
    # a folder dep covers the files under it, with or without a trailing slash; a sibling folder
    # sharing its name as a prefix is not under it
    assert uncovered(imported, [*deps, "pipeline/tabular/"], allowed, repo=tmp_path) == {
        "pipeline/planted.py", "pipeline/tabularwork/x.py"}
    assert covers("pipeline/tabular", "pipeline/tabular/models/svr.py")
    assert not covers("pipeline/tabular", "pipeline/tabularwork/x.py")
    assert not covers("pipeline/tabular/train.py", "pipeline/tabular/train.pyc")
    assert covers(".", "cli.py")
    # nothing allowed, no deps: everything but the package markers (docstring only, or empty)
    assert uncovered(imported, [], {}, repo=tmp_path) == imported - {"pipeline/__init__.py",
                                                                     "pipeline/tabular/models/__init__.py"}


def test_loaded_module_files_map_to_project_files(tmp_path):
    _write(tmp_path, {"pipeline/__init__.py": "", "pipeline/tabular/models/__init__.py": "",
                      "pipeline/tabular/train.py": "", "cli.py": "", "tests/helper.py": ""})
    loaded = [str(tmp_path / "pipeline/__init__.py"), str(tmp_path / "pipeline/tabular/models/__init__.py"),
              str(tmp_path / "pipeline/tabular/train.py"), str(tmp_path / "cli.py"),
              str(tmp_path / "tests/helper.py"),  # not the package, not the script: not a stage module
              "/usr/lib/python3/json/__init__.py", ""]  # a library; a built-in module (no file)
    assert project_files(tmp_path, loaded) == {"pipeline/__init__.py", "pipeline/tabular/models/__init__.py",
                                               "pipeline/tabular/train.py", "cli.py"}


def test_traced_imports_runs_the_command_and_fails_with_its_output(tmp_path):
    _write(tmp_path, {
        "pipeline/__init__.py": "",
        "pipeline/a.py": "import json\n",
        "pipeline/b.py": "",
        "cli.py": "import importlib, sys\nimport pipeline.a\nif sys.argv[1] == 'b':\n"
                  "    importlib.import_module('pipeline.b')  # what -X importtime would miss\n"
                  "if sys.argv[1] == 'fail':\n    print('stage output', file=sys.stderr)\n    sys.exit(3)\n",
    })
    assert traced_imports(tmp_path, "python cli.py a") == {"cli.py", "pipeline/__init__.py", "pipeline/a.py"}
    assert traced_imports(tmp_path, "python cli.py b") == {"cli.py", "pipeline/__init__.py", "pipeline/a.py",
                                                           "pipeline/b.py"}
    with pytest.raises(AssertionError, match=r"(?s)`python cli.py fail` failed .*exit 3.*stage output") as failed:
        traced_imports(tmp_path, "python cli.py fail")


def test_stage_commands_resolves_foreach_and_orders_producers_first(tmp_path):
    _write(tmp_path, {"dvc.yaml": yaml.safe_dump({"stages": {
        "merge": {"cmd": "python cli.py merge", "deps": ["out/x", "out/y", "pipeline/merge.py"],
                  "params": ["merge.k"], "outs": ["merged"]},
        "make": {"foreach": ["x", "y"],
                 "do": {"cmd": "python cli.py make ${item}", "deps": ["pipeline/${item}.py"], "outs": ["out/${item}"]}},
    }}), "params.yaml": "merge:\n  k: 1\n"})
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)

    stages = stage_commands(tmp_path)
    assert sorted(stages) == [("make@x", "python cli.py make x", ["pipeline/x.py"]),
                              ("make@y", "python cli.py make y", ["pipeline/y.py"]),
                              ("merge", "python cli.py merge", ["out/x", "out/y", "pipeline/merge.py"])]
    assert [name for name, _, _ in stages][-1] == "merge"


def test_a_stage_may_import_its_own_pipeline_and_the_shared_plumbing_only():
    assert {"house_prices_", "titanic_"} <= set(OWN_PACKAGE)  # every competition's stages, named by its key
    assert COMPETITIONS["house-prices"]["features"]["module"] == "house_prices"
    imported = {"cli.py", "pipeline/params.py", "pipeline/tabular/train.py", "pipeline/tabular/models/svr.py",
                "pipeline/rnn/__init__.py", "pipeline/regularization/fit.py", "pipeline/tune/competition.py",
                "pipeline/competitions/__init__.py", "pipeline/competitions/house_prices.py",
                "pipeline/competitions/nobodys_features.py"}  # a features module no competition names
    other_pipelines = {"pipeline/rnn/__init__.py", "pipeline/regularization/fit.py", "pipeline/tune/competition.py"}
    assert foreign_imports("house_prices_train@svr", imported) == {
        *other_pipelines, "pipeline/competitions/nobodys_features.py"}
    assert foreign_imports("house_prices_preprocess", imported) == foreign_imports("house_prices_train@svr", imported)
    assert foreign_imports("titanic_preprocess", imported) == {  # House Prices' features are not Titanic's
        *other_pipelines, "pipeline/competitions/house_prices.py", "pipeline/competitions/nobodys_features.py"}
    assert foreign_imports("reg_dropout", imported) == {
        "pipeline/rnn/__init__.py", "pipeline/tabular/train.py", "pipeline/tabular/models/svr.py",
        "pipeline/tune/competition.py", "pipeline/competitions/__init__.py", "pipeline/competitions/house_prices.py",
        "pipeline/competitions/nobodys_features.py"}
    assert foreign_imports("rnn_train@tm-lstm-bi", {"pipeline/rnn/train.py", "pipeline/files.py"}) == set()
    assert foreign_imports("download@timemachine", imported) == imported - {"cli.py", "pipeline/params.py"}


def _repo_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return [name for name in listed if name and (REPO / name).is_file()]


def test_allowed_list_is_short_explained_and_current():
    assert len(ALLOWED) <= 6, "ALLOWED is for the few modules that cannot change outputs; add deps instead"
    for entry, reason in ALLOWED.items():
        assert isinstance(reason, str) and len(reason.strip()) >= 15, f"ALLOWED[{entry!r}] needs its reason"
    files = _repo_files()
    stale = [entry for entry in ALLOWED if not any(is_allowed(name, [entry]) for name in files)]
    assert not stale, f"ALLOWED entries that match no file of the repo (moved or deleted?): {stale}"


def test_every_code_dep_names_an_existing_file():
    """A module moved or renamed leaves its old path in dvc.yaml: `dvc repro` then stops on a
    missing dep. Seen here in a second, without running any stage."""
    gone = {stage: {dep for dep in deps if (dep.startswith("pipeline/") or dep.endswith(".py"))
                    and not (REPO / dep).exists()}
            for stage, _, deps in stage_commands(REPO)}
    if any(gone.values()):
        pytest.fail("dvc.yaml deps that name no file or folder of the repo (moved or renamed? point them at "
                    f"the new path):\n{_report(gone)}", pytrace=False)


# ---- slow: every stage of a tiny copy, traced


def registered_model_types(repo: Path) -> list[str]:
    """The keys of the tabular model registry (`MODEL_TYPES = {...}` in pipeline/tabular/models*),
    read from the source so that a moved or renamed module does not break this test."""
    sources = sorted({*repo.glob("pipeline/tabular/models*.py"), *repo.glob("pipeline/tabular/models*/**/*.py")})
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            if (isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(target, ast.Name)
                    and target.id == "MODEL_TYPES" and isinstance(node.value, ast.Dict)):
                return [key.value for key in node.value.keys if isinstance(key, ast.Constant)]
    raise AssertionError(f"no `MODEL_TYPES = {{...}}` registry in {[str(s.relative_to(repo)) for s in sources]}")


def _covering_experiments(experiments: dict) -> list[str]:
    """A few rnn experiments that together cover every corpus, cell and impl, deep and not,
    bidirectional and not (greedy: the one adding most features first, ties in params order)."""
    def features(cfg):
        return {("corpus", cfg["corpus"]), ("cell", cfg["cell"]), ("impl", cfg.get("impl", "concise")),
                ("deep", cfg.get("num_layers", 1) > 1), ("bidirectional", bool(cfg.get("bidirectional")))}

    wanted = set().union(*(features(cfg) for cfg in experiments.values()))
    chosen: list[str] = []
    while wanted:
        best = max(experiments, key=lambda name: len(features(experiments[name]) & wanted))
        chosen.append(best)
        wanted -= features(experiments[best])
    return chosen


def _model_tasks(kind: str) -> tuple[str, ...]:
    """The tasks model type `kind` learns (its class's TASKS; imports the type's module)."""
    from pipeline.tabular import models

    return models.model_tasks(kind)


def shrink_params(copy) -> dict[str, object]:
    """Params that make every stage of the copy run in seconds while still importing every code
    path: each competition's own blend, and every registered model type in the blend of the first
    competition whose task it can learn (a type's module imports the same project modules in any
    task), rnn experiments covering every option."""
    params = yaml.safe_load((copy.path / "params.yaml").read_text())
    competitions: dict[str, object] = {}
    blended_types: set[str] = set()
    for key, block in params["competitions"].items():
        models = {name: dict(cfg) for name, cfg in block["models"].items()}
        blend = list(block["blend"]["models"])
        blended_types |= {models[name]["type"] for name in blend}
        for kind in registered_model_types(copy.path):
            if block["task"] in _model_tasks(kind) and kind not in blended_types:
                name = next((name for name, cfg in models.items() if cfg.get("type") == kind), f"tiny_{kind}")
                models.setdefault(name, {"type": kind})
                blend.append(name)
                blended_types.add(kind)
        for name in blend:
            for option, value in TINY_MODEL.get(models[name]["type"], {}).items():
                models[name][option] = ({**models[name].get(option, {}), **value} if isinstance(value, dict)
                                        else value)
        competitions.update({f"competitions.{key}.models": models, f"competitions.{key}.blend.models": blend,
                             f"competitions.{key}.cv.folds": 2})
    unused = set(registered_model_types(copy.path)) - blended_types
    assert not unused, f"model types no competition's task lets a stage run: {sorted(unused)}"

    experiments = params["rnn"]["experiments"]
    tiny_experiments = {name: {**experiments[name], "train": {**experiments[name].get("train", {}), "epochs": 1}}
                        for name in _covering_experiments(experiments)}
    changes = {
        **competitions,
        "regularization.polynomial.epochs": 2,
        "regularization.weight_decay.epochs": 2,
        "regularization.dropout.epochs": 1,
        "regularization.dropout.train_limit": 512,
        "regularization.dropout.test_limit": 256,
        "regularization.init.epochs": 1,
        "regularization.init.train_limit": 512,
        "regularization.init.test_limit": 256,
        "regularization.init.probe_batch": 64,
        "regularization.init.probe_steps": 2,
        "rnn.train.epochs": 1,
        "rnn.train.hidden": 32,
        "rnn.experiments": tiny_experiments,
        **{f"rnn.corpora.{corpus}.max_tokens": 2000 for corpus in params["rnn"]["corpora"]},
    }
    copy.set_params(**changes)
    return changes


def foreign_imports(stage: str, imported: set[str]) -> set[str]:
    """Files of another pipeline's code a stage imported (`house_prices_*` stages: not pipeline/rnn/...,
    nor another competition's features module)."""
    prefixes = sorted((prefix for prefix in OWN_PACKAGE if stage.startswith(prefix)), key=len)
    own = OWN_PACKAGE[prefixes[-1]] if prefixes else ()
    return {path for path in imported
            if any(covers(package, path) for package in PIPELINE_PACKAGES)
            and not any(covers(mine, path) for mine in own)}


def _report(by_stage: dict[str, set[str]]) -> str:
    return "\n".join(f"  {stage}:\n" + "\n".join(f"    - {path}" for path in sorted(paths))
                     for stage, paths in by_stage.items() if paths)


@pytest.mark.slow
def test_every_stage_depends_on_every_project_module_it_imports(repo_copy, tmp_path):
    changes = shrink_params(repo_copy)
    blends = {k: v for k, v in changes.items() if k.endswith(".blend.models")}
    print(f"\n{blends}; rnn experiments: {list(changes['rnn.experiments'])}")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'stage-deps-mlflow.db'}"}
    env.pop("DVC_STAGE", None)  # not under `dvc repro`: no prestart of the tracking service for a next stage

    missing: dict[str, set[str]] = {}
    foreign: dict[str, set[str]] = {}
    started = time.monotonic()
    for stage, cmd, deps in stage_commands(repo_copy.path):
        began = time.monotonic()
        try:
            imported = traced_imports(repo_copy.path, cmd, env)
        except AssertionError as failed:  # the stage's own output, without a traceback into this helper
            pytest.fail(f"stage {stage}: {failed}", pytrace=False)
        print(f"{time.monotonic() - began:6.1f} s  {stage}: {len(imported)} project modules", flush=True)
        missing[stage] = uncovered(imported, deps, ALLOWED, repo=repo_copy.path)
        foreign[stage] = foreign_imports(stage, imported)
    print(f"{time.monotonic() - started:6.1f} s  every stage")

    problems = []
    if any(missing.values()):
        problems.append(f"Stages import project modules that are not in their deps, so `dvc repro` would not "
                        f"rerun them when those change; {MISSING_HINT}:\n{_report(missing)}")
    if any(foreign.values()):
        problems.append("Stages import another pipeline's modules (a stage imports its own pipeline's package "
                        "and the shared plumbing only; cli.py should import a group's commands only when that "
                        f"group runs):\n{_report(foreign)}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
