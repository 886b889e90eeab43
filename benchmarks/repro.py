"""What a user waits for: the README's `dvc repro`, and House Prices download -> submission
against the one-script baseline, wall and CPU seconds, with the load average (no asserts).

    PIPELINE_DATA_MIRROR=../shared/datasets python benchmarks/repro.py [PART ...] [--set KEY=VALUE ...]

PART (default: both):
* `full`: a fresh clone (the working tree's tracked and new files, committed outputs and
  dvc.lock included, in a new git repo) runs `dvc repro`; then `git status` says how many
  tracked files it changed (0 on the machine the outputs were committed from).
* `house`: a copy without outputs runs `dvc repro house_prices_submission` (download ->
  submission), then benchmarks/house_baseline.py (Lasso + 3000-tree gradient boosting) in the
  same run: the ratio of the two (issue 26's bar: <= 0.5).
`--rev REV` benchmarks that commit (a `git clone` of it) instead of the working tree, whose
other work in progress may not run. `--set competitions.house-prices.cv.workers=1` (any dotted
param, repeatable) changes params.yaml
in each copy first, as `dvc exp run -S` would: to compare 1 worker with the default (0: one per
core). CPU seconds are those of every process the command waited for (stages, fold workers);
the shared tracking service, which outlives its stage, is not counted. Other load on the machine
inflates wall time: the load average (1 minute) is printed at the start and the end of each part.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test helpers' sandbox

from sandbox import copy_repo  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (5 min {five:.2f})"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall s, CPU s of the process and every child it waited for, result); fails loudly."""
    cpu, start = _children_cpu(), time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=3600)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if result.returncode:
        sys.exit(f"error: {' '.join(argv)} failed in {cwd}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return wall, cpu, result


def set_params(repo: Path, settings: list[str]) -> None:
    if not settings:
        return
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for setting in settings:
        key, _, value = setting.partition("=")
        node = params
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = yaml.safe_load(value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))


def dvc() -> str:
    return str(Path(sys.executable).parent / "dvc")


def full(tmp: Path, settings: list[str], source: Path) -> None:
    print(f"\n== full `dvc repro` in a fresh clone ({load()})")
    repo = copy_repo(tmp / "clone", source, outputs=True).path
    set_params(repo, settings)
    if settings:  # the changed params are the clone's new baseline: git status then shows only what repro changed
        subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.invalid", "commit", "-qam",
                        "params"], cwd=repo, check=True)
    wall, cpu, result = timed([dvc(), "repro"], repo)
    ran = [line.split("'")[1] for line in result.stdout.splitlines() if line.startswith("Running stage")]
    changed = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    print(f"dvc repro: {wall:.1f} s wall, {cpu:.1f} s CPU ({cpu / wall:.2f} cores busy), {len(ran)} stages run")
    print(f"git status afterwards: {len(changed)} tracked files changed"
          + (": " + ", ".join(line[3:] for line in changed[:6]) + (" ..." if len(changed) > 6 else "")
             if changed else " (a clean tree)"))
    print(f"({load()})")


def house(tmp: Path, settings: list[str], source: Path) -> None:
    print(f"\n== House Prices, download -> submission, against the one-script baseline ({load()})")
    repo = copy_repo(tmp / "house", source).path
    set_params(repo, settings)
    wall, cpu, _ = timed([dvc(), "repro", "house_prices_submission"], repo)
    print(f"pipeline  dvc repro house_prices_submission: {wall:6.1f} s wall {cpu:6.1f} s CPU  ({load()})")
    base_wall, base_cpu, result = timed([sys.executable, str(ROOT / "benchmarks" / "house_baseline.py"),
                                         os.environ["PIPELINE_DATA_MIRROR"], str(tmp / "baseline.csv")], ROOT)
    print(f"baseline  benchmarks/house_baseline.py:      {base_wall:6.1f} s wall {base_cpu:6.1f} s CPU  ({load()})")
    print(f"pipeline / baseline: {wall / base_wall:.2f}x wall, {cpu / base_cpu:.2f}x CPU (bar: <= 0.5x wall)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", metavar="PART", help="full, house (default: both)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings")
    parser.add_argument("--rev", help="a commit to benchmark instead of the working tree")
    args = parser.parse_args()
    if unknown := set(args.parts) - {"full", "house"}:
        parser.error(f"unknown part {', '.join(sorted(unknown))}: full, house")
    os.environ.setdefault("PIPELINE_DATA_MIRROR", str(SHARED))
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # each copy logs to its own mlflow.db, as a fresh clone does
    print(f"{os.cpu_count()} CPUs, {len(os.sched_getaffinity(0))} usable; {load()}; "
          f"{args.rev or 'working tree'}; params changed: {', '.join(args.settings) or 'none'}")
    with tempfile.TemporaryDirectory(prefix="repro-bench-") as tmp:
        source = ROOT
        if args.rev:
            source = Path(tmp) / "source"
            subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(source)], check=True)
            subprocess.run(["git", "checkout", "-q", args.rev], cwd=source, check=True)
        for part in args.parts or ["full", "house"]:
            {"full": full, "house": house}[part](Path(tmp), args.settings, source)
    print(f"\nend: {load()}")


if __name__ == "__main__":
    main()
