"""Which `dvc.yaml` stages fill an MLflow experiment: what a view names when one is empty.

After the quick start the stages' outputs are current, so a plain `dvc repro` skips them and
logs no run: the command forces the stages that log into the experiment (`-f -s`).
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline import REPO_ROOT

# The commands whose stages log runs into an experiment ({key}: a competition's key).
_LOGGING_COMMANDS = {
    "regularization": r"cli\.py regularization\b",
    "rnn": r"cli\.py rnn train\b",
}
_COMPETITION = r"cli\.py competition (?:train|blend|submission) {key}(?:\s|$)"


def _stage_commands(root: Path) -> dict[str, str]:
    """{stage name: its cmd} of dvc.yaml (a foreach stage's `do.cmd`)."""
    import yaml

    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError):
        return {}
    out = {}
    for name, stage in stages.items():
        body = stage.get("do", stage) if isinstance(stage, dict) else {}
        cmd = body.get("cmd", "") if isinstance(body, dict) else ""
        out[name] = " ".join(cmd) if isinstance(cmd, list) else str(cmd)
    return out


def filling_stages(experiment: str, root: Path = REPO_ROOT) -> list[str]:
    """The dvc.yaml stages that log runs into `experiment`, in dvc.yaml's order."""
    pattern = _LOGGING_COMMANDS.get(experiment) or _COMPETITION.format(key=re.escape(experiment))
    return [name for name, cmd in _stage_commands(root).items() if re.search(pattern, cmd)]


def fill_command(experiment: str, root: Path = REPO_ROOT) -> str:
    """`dvc repro -f -s STAGE...` that logs runs into `experiment`; '' when no stage does."""
    stages = filling_stages(experiment, root)
    return f"dvc repro -f -s {' '.join(stages)}" if stages else ""
