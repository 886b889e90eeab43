"""Which project modules a DVC stage imports, and which of them its `deps` in dvc.yaml miss.

`dvc repro` reruns a stage only when one of its `deps` changed, so every project module a
stage's command imports must be a dep of that stage (the file itself, or a folder above it):
otherwise an edit to that module leaves stale outputs that `dvc repro` calls up to date.
tests/test_stage_deps.py runs every stage and checks that with these:

- `stage_commands(repo)`: every stage of the repo's dvc.yaml, resolved by DVC itself
  (foreach and `${}` interpolation), producers before the stages that use their outputs;
- `traced_imports(repo, cmd, env)`: run one stage command, return the project files it imported;
- `uncovered(imported, deps, allowed)`: those not covered by a dep nor allowed.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "pipeline"  # the project's importable package; cli.py is the other project module


def stage_commands(repo: Path) -> list[tuple[str, str, list[str]]]:
    """(stage name, cmd, file/folder deps) of every stage in `repo`'s dvc.yaml, as DVC resolves
    them: `house_prices_train@svr`, `python cli.py competition train house-prices svr`, repo-relative
    POSIX dep paths (params deps left out). Ordered as `dvc repro` runs them: a stage after the stages whose
    outputs it depends on."""
    from dvc.dependency import ParamsDependency
    from dvc.repo import Repo
    from dvc.repo.reproduce import plan_repro

    repo = Path(repo).resolve()
    stages = []
    with Repo(str(repo)) as dvc_repo:
        for stage in plan_repro(dvc_repo.index.graph):
            cmd = stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd)
            deps = [Path(os.path.relpath(dep.fs_path, repo)).as_posix()
                    for dep in stage.deps if not isinstance(dep, ParamsDependency)]
            dvcfile = Path(os.path.relpath(stage.dvcfile.path, repo)).as_posix()
            name = stage.name if dvcfile == "dvc.yaml" else f"{dvcfile}:{stage.name}"
            stages.append((name, cmd, deps))
    return stages


# Run as `python -c BOOTSTRAP SCRIPT ARGS...`: runs SCRIPT as __main__ and, however it exits,
# writes the files of every module loaded in the process to $STAGE_IMPORTS_FILE. sys.modules
# sees every import; `-X importtime` misses those made by importlib.import_module (the tabular
# model registry, a competition's features module, the CLI's lazy command groups).
BOOTSTRAP = """
import atexit, os, runpy, sys
def _dump(path=os.environ["STAGE_IMPORTS_FILE"]):
    with open(path, "w") as out:
        out.writelines(f"{getattr(m, '__file__', None) or ''}\\n" for m in list(sys.modules.values()))
atexit.register(_dump)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def project_files(repo: Path, loaded_files: Iterable[str]) -> set[str]:
    """The repo-relative paths of the loaded module files that are the project's: under
    `pipeline/`, or the script itself (cli.py)."""
    repo = Path(repo).resolve()
    found = set()
    for name in loaded_files:
        if not name:
            continue
        try:
            path = Path(name).resolve().relative_to(repo)
        except ValueError:
            continue  # a library's module
        if path.suffix == ".py" and (path.parts[0] == PACKAGE or len(path.parts) == 1):
            found.add(path.as_posix())
    return found


def _argv(cmd: str) -> list[str]:
    argv = shlex.split(cmd)
    if len(argv) < 2 or argv[0] not in ("python", "python3") or argv[1].startswith("-"):
        raise AssertionError(f"stage command {cmd!r} is not `python SCRIPT ...`: cannot trace its imports")
    return argv


def traced_imports(repo: Path, cmd: str, env: Mapping[str, str] | None = None,
                   timeout: float = 600) -> set[str]:
    """Run a stage's `python SCRIPT ...` command in `repo` with this interpreter and return the
    repo-relative files of the project modules it loaded (`pipeline/...` and the script).
    A command that fails raises AssertionError with its output."""
    import tempfile

    repo = Path(repo).resolve()
    imported: set[str] = set()
    for command in (c.strip() for c in cmd.split("&&")):
        argv = _argv(command)
        with tempfile.TemporaryDirectory() as scratch:
            listing = Path(scratch) / "modules.txt"
            run_env = {**(os.environ if env is None else env), "STAGE_IMPORTS_FILE": str(listing)}
            result = subprocess.run([sys.executable, "-c", BOOTSTRAP, *argv[1:]], check=False, cwd=repo,
                                    env=run_env, capture_output=True, text=True, timeout=timeout)
            if result.returncode != 0:
                raise AssertionError(f"`{command}` failed in {repo} (exit {result.returncode}):\n"
                                     f"{result.stdout}\n{result.stderr}")
            imported |= project_files(repo, listing.read_text().splitlines())
        imported.add(PurePosixPath(os.path.normpath(argv[1])).as_posix())  # the script (__main__ then)
    return imported


def is_package_marker(path: Path) -> bool:
    """An `__init__.py` whose body is nothing but (at most) a docstring: importing it runs no
    code, so it cannot change any output and need not be a dep."""
    path = Path(path)
    if path.name != "__init__.py" or not path.is_file():
        return False
    body = ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
               and isinstance(node.value.value, str) for node in body) and len(body) <= 1


def covers(dep: str, path: str) -> bool:
    """Whether dep `dep` (a file or a folder) covers repo file `path`: equal, or a folder above it
    (by whole path components: `pipeline/tabular` does not cover `pipeline/tabularwork/x.py`)."""
    dep_parts = PurePosixPath(os.path.normpath(dep)).parts  # "." (the whole repo): ()
    parts = PurePosixPath(os.path.normpath(path)).parts
    return parts[:len(dep_parts)] == dep_parts


def is_allowed(path: str, allowed: Iterable[str]) -> bool:
    """Whether `path` is an allowed path or matches an allowed glob (fnmatch: `*` spans folders)."""
    return any(path == entry or fnmatch.fnmatchcase(path, entry) for entry in allowed)


def uncovered(imported: set[str], deps: list[str], allowed: Mapping[str, str], *,
              repo: Path = REPO) -> set[str]:
    """The files of `imported` that no dep covers (equal path or a folder above it), that are not
    in `allowed` (path or glob -> reason) and are not docstring-only `__init__.py` package
    markers (checked in `repo`)."""
    return {path for path in imported
            if not any(covers(dep, path) for dep in deps)
            and not is_allowed(path, allowed)
            and not is_package_marker(Path(repo) / path)}
