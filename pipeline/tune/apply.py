"""A study's best params into params.yaml, with DVC's own writer, so only those lines change.

`dvc.utils.hydra.apply_overrides` is what `dvc exp run -S` uses: ruamel round-trip in the
layout params.yaml keeps, so the diff is one line per key and the next `dvc repro` reruns
exactly the stages that read them. The same `key=value` strings serve `dvc exp run -S`.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path

import numpy as np

from pipeline.errors import DataError
from pipeline.params import PARAMS_FILE


def format_value(value) -> str:
    """A value as an override: floats positional with 6 significant digits, never `1e-05`
    (PyYAML, which reads params.yaml, takes `1e-05` for a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DataError(f"cannot write the non-finite value {value!r} to params.yaml")
        text = np.format_float_positional(value, precision=6, unique=False, fractional=False, trim="-")
        return text + "0" if text.endswith(".") else (text if "." in text else text + ".0")
    return str(value)


def best_trial(study):
    """The best complete trial (pruned and failed trials have no final score)."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        raise DataError(f"study '{study.study_name}' has no complete trial yet "
                        f"(trials: {len(study.get_trials(deepcopy=False))})")
    return study.best_trial


def overrides(study, path: str | Path = PARAMS_FILE) -> list[str]:
    """`competitions.house-prices.models.mlp.lr=0.00213` ... for the best trial's params (named by
    their params.yaml path); `++key=value` for a key params.yaml lacks yet (an `options` entry left
    at its default)."""
    from pipeline.params import load_params

    from .space import get_path

    current = load_params(path)
    out = []
    for key, value in sorted(best_trial(study).params.items()):
        present = get_path(current, tuple(key.split("."))) is not None
        out.append(f"{'' if present else '++'}{key}={format_value(value)}")
    return out


# ruamel writes floats below 1e-4 as `1e-05`, which PyYAML (YAML 1.1) reads as a string;
# `1.0e-05` is a float to both.
_DOTLESS_EXPONENT = re.compile(r"^(\s*[^#\s][^#]*?:\s+-?\d+)([eE][-+]?\d+\s*(#.*)?)$")


def apply(study, path: str | Path = PARAMS_FILE) -> list[str]:
    """Write the best trial's params into `path`; returns the overrides written."""
    from dvc.utils.hydra import apply_overrides

    path = Path(path)
    changes = overrides(study, path)
    before = path.read_text(encoding="utf-8").splitlines(keepends=True)
    apply_overrides(path, changes)
    after = path.read_text(encoding="utf-8").splitlines(keepends=True)
    changed = {j for tag, _, _, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
               if tag != "equal" for j in range(j1, j2)}
    fixed = [_DOTLESS_EXPONENT.sub(r"\1.0\2", line) if i in changed else line for i, line in enumerate(after)]
    if fixed != after:
        path.write_text("".join(fixed), encoding="utf-8")
    return changes
