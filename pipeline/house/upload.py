"""Ship `data/submission.csv` to the Kaggle competition with the official `kaggle` client.

Before anything is sent the file is checked as Kaggle would (header, every test Id once,
finite positive prices) and must be newer than the model files that made it (the blend
weights and each blended model). The default message names the git commit and the CV score,
so the leaderboard entry can be traced back to a run. `kaggle` is imported only to upload:
a dry run, and every other command, work without credentials.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline import REPO_ROOT, kaggle_client, tracking
from pipeline.datasets import HOUSE_COMPETITION
from pipeline.datasets import payload_sha256 as sha256  # a CSV's payload is the file itself
from pipeline.errors import DataError

from . import paths
from .data import SAMPLE_FILE


@dataclass(frozen=True)
class Layout:
    """The files `submit` reads (the pipeline's paths by default; tests point it elsewhere)."""

    submission: Path = paths.SUBMISSION
    sample: Path = paths.RAW / SAMPLE_FILE
    blend: Path = paths.BLEND_WEIGHTS
    models: Path = paths.MODELS
    cv: Path = paths.CV_SCORES


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


def model_files(layout: Layout) -> list[Path]:
    """The blend weights and every model they blend: the files the submission was predicted with."""
    if not layout.blend.is_file():
        raise DataError(f"{layout.blend}: not found, so nothing says which models made the submission "
                        "(run `dvc repro house_submission`)")
    try:
        blended = json.loads(layout.blend.read_text())["models"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{layout.blend}: not a blend file with a 'models' list ({exc})") from exc
    files = [layout.blend, *(layout.models / f"{name}.pkl" for name in blended)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DataError(f"model file(s) {missing} not found (run `dvc repro house_submission`)")
    return files


def check_fresh(submission: Path, layout: Layout) -> list[Path]:
    """Refuse a submission older than any model file that made it; return those files."""
    files = model_files(layout)
    written = submission.stat().st_mtime
    newer = [f for f in files if f.stat().st_mtime > written]
    if newer:
        raise DataError(f"{submission} is older than {', '.join(str(f) for f in newer)}: it was not predicted "
                        "by the current models; rebuild it with `dvc repro house_submission`")
    return files


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def default_message(layout: Layout) -> str:
    """`git <commit>[+dirty]: CV log-RMSE <all rows> (<without outliers> without outliers)`."""
    commit = tracking.git_commit()
    commit = commit[:10] if commit != "unknown" else "unknown"
    if commit != "unknown" and _git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    try:
        cv = json.loads(layout.cv.read_text())
        score = (f"CV log-RMSE {float(cv['oof_log_rmse']):.5f} "
                 f"({float(cv['oof_log_rmse_without_outliers']):.5f} without outliers)")
    except (OSError, ValueError, KeyError, TypeError):
        score = f"CV score unknown ({layout.cv} missing or unreadable)"
    return f"git {commit}: {score}"


def plan(file: Path | None = None, message: str | None = None, competition: str = HOUSE_COMPETITION,
         layout: Layout = Layout()) -> Plan:
    """Validate `file` (default: the pipeline's submission) and say what would be sent."""
    from .submission import validate_submission

    path = Path(file) if file is not None else layout.submission
    if not layout.sample.is_file():
        raise DataError(f"{layout.sample}: sample submission not found (run `dvc repro download@house-prices`)")
    frame = validate_submission(path, layout.sample)
    made_by = check_fresh(path, layout)
    if message is not None and not message.strip():
        raise DataError("--message is empty")
    return Plan(competition=competition, file=str(path), bytes=path.stat().st_size, sha256=sha256(path),
                rows=len(frame), message=message if message is not None else default_message(layout),
                made_by=[str(f) for f in made_by], credentials=kaggle_client.credential_source() or "")


def submit(the_plan: Plan) -> dict:
    """Upload with the official client; log an MLflow run of what was sent (never the credentials)."""
    answer = kaggle_client.submit(the_plan.competition, Path(the_plan.file), the_plan.message)
    record = {k: v for k, v in asdict(the_plan).items() if k != "credentials"}
    tags = {"stage": "submit", "dataset": paths.PIPELINE, "kaggle_competition": the_plan.competition,
            "kaggle_ref": answer.get("ref", 0)}
    with tracking.start_run(paths.PIPELINE, "kaggle-submit", params={k: v for k, v in record.items()
                                                                      if k != "made_by"}, tags=tags):
        tracking.log_metrics({"rows": the_plan.rows, "bytes": the_plan.bytes})
    return {"competition": the_plan.competition, "file": the_plan.file, "message": the_plan.message,
            "kaggle_ref": answer.get("ref", 0), "kaggle_message": answer.get("message", "")}
