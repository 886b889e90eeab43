"""Ship a competition's submission to Kaggle with the official `kaggle` client.

Before anything is sent the file is checked as Kaggle would (the sample submission's header,
every test id once, values of the sample's type) and must be current the way DVC sees it:
`dvc status <stem>_submission --with-deps` is clean (the hashes dvc.lock holds for every input, param and output of the
submission and of the stages before it match the files now), so `dvc repro <stem>_submission`
would change nothing. File times play no part: `dvc checkout`, a rebuild that DVC skips, or a
`touch` leave a current submission current. The default message names the git commit and the CV score,
so the leaderboard entry can be traced back to a run. `kaggle` is imported only to upload:
a dry run, and every other command, work without credentials.
"""

from __future__ import annotations

import filecmp
import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline import REPO_ROOT, kaggle_client, tracking
from pipeline.datasets import payload_sha256 as sha256  # a CSV's payload is the file itself
from pipeline.errors import DataError

from .config import CompetitionParams, load_competition


@dataclass(frozen=True)
class Layout:
    """The files `submit` reads (a competition's paths; tests point it elsewhere)."""

    submission: Path
    sample: Path
    blend: Path
    models: Path
    cv: Path
    meta: Path  # what preprocess says about the target (task, classes)
    metric: str
    experiment: str
    root: Path = REPO_ROOT  # the DVC project whose dvc.lock says what made the submission
    stage: str = "house_prices_submission"

    @classmethod
    def of(cls, p: CompetitionParams, root: Path = REPO_ROOT) -> Layout:
        from .paths import CompetitionPaths

        where = CompetitionPaths(p.key, root)
        return cls(submission=where.submission, sample=where.raw / p.files["sample_submission"].basename,
                   blend=where.blend_weights, models=where.models, cv=where.cv_scores,
                   meta=where.processed / "meta.json", metric=p.metric, experiment=p.key, root=root,
                   stage=f"{p.stem}_submission")


@dataclass
class Plan:
    """What would be sent: shown by `--dry-run`, logged (without credentials) after an upload."""

    competition: str
    file: str
    bytes: int
    sha256: str
    rows: int
    message: str
    made_by: list[str] = field(default_factory=list)
    credentials: str = ""  # where the client will find them, never their value
    experiment: str = "house-prices"  # the MLflow experiment the upload is logged in (the competition's key)


def model_files(layout: Layout) -> list[Path]:
    """The blend weights and every model they blend: the files the submission was predicted with."""
    if not layout.blend.is_file():
        raise DataError(f"{layout.blend}: not found, so nothing says which models made the submission "
                        f"(run `dvc repro {layout.stage}`)")
    try:
        blended = json.loads(layout.blend.read_text())["models"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{layout.blend}: not a blend file with a 'models' list ({exc})") from exc
    files = [layout.blend, *(layout.models / f"{name}.pkl" for name in blended)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DataError(f"model file(s) {missing} not found (run `dvc repro {layout.stage}`)")
    return files


def check_fresh(submission: Path, layout: Layout) -> list[Path]:
    """Refuse a submission that `dvc repro <layout.stage>` would rebuild, or a `--file` that is not
    the pipeline's submission; return the model files that made it."""
    files = model_files(layout)
    rebuild = f"rebuild it with `dvc repro {layout.stage}`"
    changed = dvc_changes(layout)
    if changed:
        raise DataError(f"{submission} was not made by the current models, params and data (dvc status: "
                        f"{changed}): {rebuild}")
    if Path(submission).resolve() != layout.submission.resolve() and \
            not filecmp.cmp(submission, layout.submission, shallow=False):
        raise DataError(f"{submission} differs from {layout.submission}, the submission the pipeline made and "
                        f"dvc.lock records: upload that one (drop --file) or copy it")
    return files


def dvc_changes(layout: Layout, shown: int = 4) -> str:
    """What `dvc status <stage> --with-deps` finds changed, a stage at a time, in one line ('' when
    all is current)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(layout.root)) as repo:
            # dvc.yaml's path in the target: DVC reads a bare stage name relative to the working directory
            status = repo.status(targets=[f"{layout.root / 'dvc.yaml'}:{layout.stage}"], with_deps=True)
    except DvcException as exc:  # not a DVC project, a broken dvc.yaml, another dvc holding the lock
        raise DataError(f"cannot tell whether the submission is current: DVC says: {exc}") from exc
    said = [f"{stage}: {reasons[0]}" + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else "")
            for stage, entries in status.items() for reasons in [_reasons(entries) or ["changed"]]]
    return "; ".join(said[:shown]) + (f"; and {len(said) - shown} more stages" if len(said) > shown else "")


def _reasons(entries: list) -> list[str]:
    """`dvc status` entries of one stage as short phrases: 'param competitions.titanic.models.svm.C modified'."""
    out = []
    for entry in entries:
        if isinstance(entry, str):  # "changed command", "always changed"
            out.append(entry)
            continue
        for kind, changes in entry.items():
            noun = kind.removeprefix("changed ").rstrip("s")  # dep, out
            for path, state in (changes.items() if isinstance(changes, dict) else [(changes, "changed")]):
                if isinstance(state, dict):  # a params file: each param's state
                    out += [f"param {key} {what}" for key, what in state.items()]
                else:
                    out.append(f"{noun} {path} {state}")
    return out


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def default_message(layout: Layout) -> str:
    """`git <commit>[+dirty]: CV <metric> <all rows> (<without outliers> without outliers)`."""
    commit = tracking.git_commit()
    commit = commit[:10] if commit != "unknown" else "unknown"
    if commit != "unknown" and _git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    try:
        cv = json.loads(layout.cv.read_text())
        name = "log-RMSE" if layout.metric == "log_rmse" else layout.metric
        score = f"CV {name} {float(cv[f'oof_{layout.metric}']):.5f}"
        if f"oof_{layout.metric}_without_outliers" in cv:
            score += f" ({float(cv[f'oof_{layout.metric}_without_outliers']):.5f} without outliers)"
    except (OSError, ValueError, KeyError, TypeError):
        score = f"CV score unknown ({layout.cv} missing or unreadable)"
    return f"git {commit}: {score}"


def validate(path: Path, p: CompetitionParams, layout: Layout):
    """Re-read a submission and check it against the sample submission as Kaggle would; return it."""
    from .submission import check_frame, read_sample, read_submission

    if not layout.sample.is_file():
        raise DataError(f"{layout.sample}: sample submission not found (run `dvc repro {p.stem}_download`)")
    try:
        classes = json.loads(layout.meta.read_text())["classes"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{layout.meta}: not readable ({exc}); run `dvc repro {p.stem}_preprocess`") from exc
    sample, fmt = read_sample(layout.sample, p.task, p.metric_spec, classes)
    frame = read_submission(path)
    check_frame(frame, sample, fmt, classes, where=str(path))
    return frame


def plan(key: str = "house-prices", file: Path | None = None, message: str | None = None,
         layout: Layout | None = None, params: CompetitionParams | None = None) -> Plan:
    """Validate `file` (default: the competition's submission) and say what would be sent."""
    p = params or load_competition(key)
    layout = layout or Layout.of(p)
    path = Path(file) if file is not None else layout.submission
    frame = validate(path, p, layout)
    competition = p.kaggle
    made_by = check_fresh(path, layout)
    if message is not None and not message.strip():
        raise DataError("--message is empty")
    return Plan(competition=competition, file=str(path), bytes=path.stat().st_size, sha256=sha256(path),
                rows=len(frame), message=message if message is not None else default_message(layout),
                made_by=[str(f) for f in made_by], credentials=kaggle_client.credential_source() or "",
                experiment=p.key)


def plan_lines(the_plan: Plan, width: int = 100) -> list[str]:
    """What `submit` shows of a plan, `key: value` a line folded to `width` columns: the file
    relative to the working folder when under it, where credentials are (never their value),
    or how to add some."""
    from pipeline.tables import wrap_note

    shown = {k: v for k, v in asdict(the_plan).items() if k not in ("made_by", "experiment")}
    try:
        shown["file"] = str(Path(the_plan.file).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        pass  # outside the working folder: the path as given
    if not the_plan.credentials:
        shown["credentials"] = f"none found, an upload would fail: {kaggle_client.CREDENTIAL_HELP}"
    return [wrap_note(f"{key}: {value}", width) for key, value in shown.items()]


def submit(the_plan: Plan) -> dict:
    """Upload with the official client; log an MLflow run of what was sent (never the credentials)."""
    answer = kaggle_client.submit(the_plan.competition, Path(the_plan.file), the_plan.message)
    record = {k: v for k, v in asdict(the_plan).items() if k != "credentials"}
    tags = {"stage": "submit", "dataset": the_plan.experiment, "kaggle_competition": the_plan.competition,
            "kaggle_ref": answer.get("ref", 0)}
    with tracking.start_run(the_plan.experiment, "kaggle-submit", params={k: v for k, v in record.items()
                                                                      if k != "made_by"}, tags=tags):
        tracking.log_metrics({"rows": the_plan.rows, "bytes": the_plan.bytes})
    return {"competition": the_plan.competition, "file": the_plan.file, "message": the_plan.message,
            "kaggle_ref": answer.get("ref", 0), "kaggle_message": answer.get("message", "")}
