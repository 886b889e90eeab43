"""How honest is the pipeline's CV? Cross-validation score against a held-out pseudo-test.

    python benchmarks/leaderboard.py                       # every competition, split seeds 0 1
    python benchmarks/leaderboard.py --only bike-demand --seeds 0 1 2

For each competition and split seed:
1. Labelled rows only (a competition's own train.csv, data a registry package ships, or the
   seeded bike generator): a pseudo-test is held out the way the real test was split (days
   20-31 of each month for the time-ordered bike demand, 30% at random otherwise), and a
   Kaggle-like folder is written: train.csv, test.csv without the target, a sample submission.
2. The pipeline runs on it as a user runs it, in a throw-away copy of this working tree
   (tests/sandbox.py): House Prices and Titanic reuse their shipped params blocks (their feature
   modules) with the files taken from that folder (`source` and checksums set); the others go
   through `python cli.py competition new NAME --from DIR`, then the metric is set when the
   guess differs from the competition's (as its Evaluation page would tell a user). Then
   `dvc repro <stem>_submission`. CV is `oof_<metric>` from metrics/NAME/cv.json (with its
   standard error when cv.json gives one); the submission is scored on the held-out labels.
3. A plain LightGBM (benchmarks/plain_lightgbm.py) is fitted on the same train.csv and scored
   on the same pseudo-test.
The table: CV (+- its standard error), pseudo-test score (+- its bootstrap standard error),
|CV - test| (relative to the score for log_rmse, rmsle, rmse, mae: a percentage), the plain
LightGBM's pseudo-test score, pipeline minus LightGBM (lower is better for the RMSE-like
metrics, higher for accuracy) and the wall seconds of `competition new` + `dvc repro`.
For the generated bike demand the split seed is the generator's seed (its test days are fixed).
Data: PIPELINE_DATA_MIRROR, else ../shared/datasets beside the repo; statsmodels (requirements-dev)
ships `fair` and `randhie`. Progress goes to stderr; exit 1 when a run failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE.parent / "tests")]

from leaderboard_data import COMPETITIONS, MIRROR_ENV, Competition, mirror, split, write_folder  # noqa: E402
from plain_lightgbm import RELATIVE, bootstrap_se, fit_predict, gap, score  # noqa: E402
from sandbox import copy_repo  # noqa: E402

from pipeline.tabular.paths import stage_stem, submission_file  # noqa: E402
from pipeline.tabular.tasks import METRICS  # noqa: E402

TRANSFORM = {"rmsle": "log1p", "log_rmse": "log"}  # the target space a metric on logs wants
HONEST = 0.02  # the bar on |CV - test|


@dataclass
class Row:
    name: str
    seed: int
    metric: str
    cv: float = float("nan")
    cv_se: float | None = None
    test: float = float("nan")
    test_se: float = float("nan")
    plain: float = float("nan")
    wall: float = float("nan")
    error: str = ""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def headline(cv: dict, metric: str) -> tuple[float, float | None]:
    """`oof_<metric>` and its standard error, when cv.json gives one under a name like
    `oof_<metric>_se` (or `stderr`, `standard_error`, nested or flat)."""
    flat: dict[str, object] = {}

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            if key == "models":
                continue
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                flat[f"{prefix}{key}"] = value
    walk(cv, "")
    value = float(cv[f"oof_{metric}"])
    for name in sorted(flat, key=len):
        words = set(name.replace(".", "_").split("_"))
        if (metric in name and isinstance(flat[name], (int, float))
                and (words & {"se", "stderr"} or "standard_error" in name or "std_error" in name)):
            return value, float(flat[name])
    return value, None


def _shipped(repo, competition: Competition, folder: Path, frames, classification: bool) -> pd.DataFrame:
    """The shipped block, its files from `folder` under their Kaggle names (source + checksums)."""
    block = yaml.safe_load((repo.path / "params.yaml").read_text())["competitions"][competition.name]
    names = {role: spec.get("kaggle_file") or Path(spec["name"]).name for role, spec in block["files"].items()}
    copies = {names[role]: mirror() / spec["name"] for role, spec in block["files"].items()
              if role not in ("train", "test", "sample_submission")}
    truth = write_folder(folder, competition, *frames, names=names, classification=classification, copies=copies)
    settings: dict[str, object] = {f"competitions.{competition.name}.source": str(folder)}
    for role in block["files"]:
        settings[f"competitions.{competition.name}.files.{role}.sha256"] = sha256(folder / names[role])
    repo.set_params(**settings)
    return truth


def _new(repo, competition: Competition, folder: Path, frames, classification: bool) -> pd.DataFrame:
    """`competition new NAME --from folder`; the metric set when the guess is not the competition's."""
    truth = write_folder(folder, competition, *frames, classification=classification)
    repo.run("python", "cli.py", "competition", "new", competition.name, "--from", str(folder), timeout=600)
    block = yaml.safe_load((repo.path / "params.yaml").read_text())["competitions"][competition.name]
    if block["metric"] != competition.metric:
        log(f"  guessed metric {block['metric']}; set to the competition's {competition.metric}")
        key = f"competitions.{competition.name}"
        repo.set_params(**{f"{key}.metric": competition.metric,
                           f"{key}.target_transform": TRANSFORM.get(competition.metric, "none")})
    return truth


def export_commit(rev: str, dest: Path) -> Path:
    """The repo as of commit `rev`, as a git repo `copy_repo` can copy (for a baseline run)."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=HERE.parent, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    return dest


def describe(rev: str | None) -> str:
    """Which pipeline ran: a commit, or the working tree with its HEAD and changed files."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True).stdout.strip()
    if rev:
        return f"commit {git('rev-parse', '--short', rev)} ({git('log', '-1', '--format=%cd', '--date=iso', rev)})"
    changed = len(git("status", "--porcelain").splitlines())
    return f"working tree: HEAD {git('rev-parse', '--short', 'HEAD')} + {changed} changed or new files"


def run_one(competition: Competition, seed: int, work: Path, source: Path = HERE.parent) -> Row:
    """One competition at one split seed: the pipeline's CV and pseudo-test, and the plain LightGBM."""
    row = Row(competition.name, seed, competition.metric)
    classification = "regression" not in METRICS[competition.metric].tasks
    frames = split(competition, seed)
    log(f"[{competition.name} seed {seed}] train {len(frames[0])} rows, pseudo-test {len(frames[1])}")
    repo = copy_repo(work / "repo", source)
    folder = work / "data"
    start = time.perf_counter()
    setup = _shipped if competition.shipped else _new
    truth = setup(repo, competition, folder, frames, classification)
    target = f"{stage_stem(competition.name)}_submission"
    log(f"  dvc repro {target}")
    repo.dvc("repro", target, timeout=1800)
    row.wall = time.perf_counter() - start
    cv = json.loads((repo.path / "metrics" / competition.name / "cv.json").read_text())
    row.cv, row.cv_se = headline(cv, competition.metric)
    submission = pd.read_csv(submission_file(competition.name, repo.path))
    merged = truth.merge(submission, on=competition.id, how="left", suffixes=("", "_predicted"))
    predicted = merged[f"{competition.target}_predicted"]
    if predicted.isna().any():
        raise RuntimeError(f"{submission_file(competition.name, repo.path).name}: "
                           f"{int(predicted.isna().sum())} pseudo-test ids without a prediction")
    truth_values = merged[competition.target].to_numpy()
    row.test = score(competition.metric, truth_values, predicted.to_numpy())
    row.test_se = bootstrap_se(competition.metric, truth_values, predicted.to_numpy(), seed)
    plain = fit_predict(frames[0], frames[1].drop(columns=[competition.target, *competition.train_only]),
                        competition.id, competition.target, competition.metric, seed)
    row.plain = score(competition.metric, frames[1][competition.target].to_numpy(), plain)
    log(f"  CV {row.cv:.4f}, pseudo-test {row.test:.4f}, plain LightGBM {row.plain:.4f}, {row.wall:.0f} s")
    return row


def _number(value: float | None, se: float | None = None) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:.4f}" + (f"±{se:.4f}" if se is not None and np.isfinite(se) else "")


def table(rows: list[Row]) -> list[str]:
    """The report, every line under 100 columns."""
    head = (f"{'competition':<13}{'seed':>4}  {'metric':<8} {'CV ± se':<15} {'test ± se':<15} "
            f"{'|CV-test|':>9} {'LightGBM':>8} {'pipe-LGBM':>9} {'wall s':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"{r.name:<13}{r.seed:>4}  {r.metric:<8} failed: {r.error}"[:99])
            continue
        difference = gap(r.metric, r.cv, r.test)
        shown = f"{100 * difference:.1f}%" if r.metric in RELATIVE else f"{difference:.4f}"
        lines.append(f"{r.name:<13}{r.seed:>4}  {r.metric:<8} {_number(r.cv, r.cv_se):<15} "
                     f"{_number(r.test, r.test_se):<15} {shown:>9} {_number(r.plain):>8} "
                     f"{r.test - r.plain:>+9.4f} {r.wall:>6.0f}")
    done = [r for r in rows if not r.error]
    honest = sum(gap(r.metric, r.cv, r.test) <= HONEST for r in done)
    better = sum(r.test >= r.plain if METRICS[r.metric].greater_is_better else r.test <= r.plain for r in done)
    noise = sum(abs(r.cv - r.test) <= 2 * np.hypot(r.cv_se or 0.0, r.test_se) for r in done)
    lines += ["", f"|CV - test| <= {HONEST} (relative for RMSE-like metrics): {honest} of {len(done)}; "
              f"no worse than plain LightGBM: {better} of {len(done)}",
              f"|CV - test| within 2 standard errors (CV's and the pseudo-test's): {noise} of {len(done)}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="split seeds (default: 0 1)")
    parser.add_argument("--only", nargs="+", choices=sorted(COMPETITIONS), metavar="NAME",
                        help="these competitions only: " + ", ".join(COMPETITIONS))
    parser.add_argument("--commit", help="run the pipeline as of this commit (default: the working tree)")
    parser.add_argument("--keep", type=Path, help="keep each run's repo copy and data folder under this folder")
    args = parser.parse_args(argv)
    os.environ.setdefault(MIRROR_ENV, str(mirror()))
    os.environ.setdefault("PIPELINE_TRACKING_IDLE", "20")  # each copy's tracking service exits soon after
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # each copy logs to its own mlflow.db, never a shared server
    names = args.only or list(COMPETITIONS)
    load_start = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="leaderboard-") as tmp:
        base = args.keep or Path(tmp)
        source = export_commit(args.commit, base / "source") if args.commit else HERE.parent
        what = describe(args.commit)
        log(f"pipeline: {what}; load average {load_start[0]:.2f}")
        for name in names:
            for seed in args.seeds:
                work = base / f"{name}-{seed}"
                work.mkdir(parents=True, exist_ok=True)
                try:
                    rows.append(run_one(COMPETITIONS[name], seed, work, source))
                except Exception as exc:  # noqa: BLE001 - one failed run is reported, the others go on
                    log(traceback.format_exc())
                    message = str(exc).strip().splitlines()
                    rows.append(Row(name, seed, COMPETITIONS[name].metric,
                                    error=f"{type(exc).__name__}: {message[0] if message else ''}"))
    print(f"pipeline: {what}")
    print("\n".join(table(rows)))
    load_end = os.getloadavg()
    print(f"load average (1, 5, 15 min): start {', '.join(f'{v:.2f}' for v in load_start)}; "
          f"end {', '.join(f'{v:.2f}' for v in load_end)}")
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
