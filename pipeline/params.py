"""Read `params.yaml` and turn its sections into typed, validated settings.

Every error names the param by its dotted path (e.g. `house.train.lr`) so the user knows
exactly which line of params.yaml (or which `dvc exp run -S`) to fix.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipeline import REPO_ROOT
from pipeline.errors import ParamError
from pipeline.files import first_non_utf8

PARAMS_FILE = REPO_ROOT / "params.yaml"

T = TypeVar("T")


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ParamError(f"{path}: params file not found")
    try:
        with path.open(encoding="utf-8") as fh:
            params = yaml.safe_load(fh) or {}
    except UnicodeDecodeError:
        raise ParamError(f"{path}: not UTF-8 text ({first_non_utf8(path)})") from None
    except yaml.YAMLError as exc:
        raise ParamError(f"{path}{_where(exc)}: not valid YAML: {_problem(exc)}") from None
    if not isinstance(params, dict):
        raise ParamError(f"{path}: expected a mapping at the top level")
    return params



def _where(exc: yaml.YAMLError) -> str:
    """`, line 12, column 5` of a YAML error (1-based, as editors count), or nothing if unknown."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _problem(exc: yaml.YAMLError) -> str:
    """What the YAML parser found wrong, in one line (its context first when it gives one)."""
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    return ": ".join(p for p in parts if p) or str(exc).splitlines()[0]


def section(params: Mapping[str, Any], dotted: str) -> dict[str, Any]:
    """Return the nested mapping at `dotted` (e.g. 'house.train'), or fail naming it."""
    node: Any = params
    walked = []
    for key in dotted.split("."):
        walked.append(key)
        if not isinstance(node, Mapping) or key not in node:
            raise ParamError(f"params.yaml: missing section '{'.'.join(walked)}'")
        node = node[key]
    if not isinstance(node, Mapping):
        raise ParamError(f"params.yaml: '{dotted}' must be a mapping, got {node!r}")
    return dict(node)


def build(cls: type[T], values: Mapping[str, Any], where: str) -> T:
    """Instantiate dataclass `cls` from `values`, checking unknown keys and field types.

    Dataclasses may define `validate(self, where)` for range checks; it is called here.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ParamError(f"params.yaml: unknown param(s) {', '.join(f'{where}.{k}' for k in unknown)}; "
                         f"known: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name not in values:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ParamError(f"params.yaml: missing param '{where}.{name}'")
            continue
        kwargs[name] = _coerce(values[name], hints[name], f"{where}.{name}")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate(where)
    return obj


def _coerce(value: Any, hint: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, name)
            except ParamError as exc:
                errors.append(str(exc))
        raise ParamError(errors[0] if errors else f"params.yaml: '{name}' has an invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ParamError(f"params.yaml: '{name}' must be one of {', '.join(map(repr, args))}; got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ParamError(f"params.yaml: '{name}' must be a list, got {value!r}")
        item = args[0] if args else Any
        return [_coerce(v, item, f"{name}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ParamError(f"params.yaml: '{name}' must be a mapping, got {value!r}")
        item = args[1] if len(args) == 2 else Any  # dict[str, Case]: each value typed and named
        return {k: _coerce(v, item, f"{name}.{k}") for k, v in value.items()}
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamError(f"params.yaml: '{name}' must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(f"params.yaml: '{name}' must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"params.yaml: '{name}' must be a number, got {value!r}")
        try:
            number = float(value)
        except OverflowError:  # an integer past 1.8e308
            number = math.inf
        if not math.isfinite(number):  # `.inf` / `.nan` in YAML: no model or optimiser means them
            raise ParamError(f"params.yaml: '{name}' must be a finite number, got {value!r}")
        return number
    if hint is str:
        if not isinstance(value, str):
            raise ParamError(f"params.yaml: '{name}' must be a string, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ParamError(f"params.yaml: '{name}' must be a mapping, got {value!r}")
        return build(hint, value, name)
    return value


def require(condition: bool, name: str, message: str) -> None:
    """Range check helper for `validate` methods: `require(lr > 0, f"{where}.lr", "must be > 0")`."""
    if not condition:
        raise ParamError(f"params.yaml: '{name}' {message}")


SEED_MAX = 2**32 - 1  # NumPy's `np.random.seed`, scikit-learn's random_state and Optuna's samplers take 0..2**32-1


def seed_in_range(seed: int, highest: int = SEED_MAX) -> bool:
    return 0 <= seed <= highest


def require_seed(seed: int, name: str, highest: int = SEED_MAX, why: str = "") -> None:
    """Range check of a seed param (a negative or larger one is a NumPy traceback deep in a stage);
    `highest` below SEED_MAX when the code adds to the seed (fold k's model gets seed + k)."""
    require(seed_in_range(seed, highest), name, f"must be in 0..{highest}{why}, got {seed}")


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested params to dotted keys, as MLflow and `dvc params diff` show them."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        if isinstance(value, Mapping):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat
