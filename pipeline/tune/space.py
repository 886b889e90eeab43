"""The search space declared in params.yaml, validated into Optuna distributions.

The space mirrors the layout of the params it searches: under `tune.spaces.<key>.<model>`, a key
that holds `low`/`high` (a range) or `choices` is a searched param; any other mapping is walked
into, so `options: {max_depth: {low: 2, high: 6}}` searches
`competitions.<key>.models.<model>.options.max_depth`. Trial params are named by their full
params.yaml path (`competitions.house-prices.models.mlp.lr`): `tune apply`
and `dvc exp run -S` then need no translation, whichever model type the name holds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ParamError

SPEC_KEYS = {"low", "high", "log", "step", "type", "choices"}
TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class Param:
    """One searched param: `path` inside the searched mapping, `name` its full params.yaml path."""

    name: str
    path: tuple[str, ...]
    distribution: Any  # optuna.distributions.BaseDistribution


def _is_spec(node: Any) -> bool:
    return isinstance(node, Mapping) and bool({"low", "high", "choices"} & set(node))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _distribution(spec: Mapping[str, Any], current: Any, where: str):
    """One spec -> an Optuna distribution; every error names `where` (the tune param)."""
    from optuna import distributions as d

    def fail(message: str):
        raise ParamError(f"params.yaml: '{where}' {message}")

    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        fail(f"has unknown key(s) {', '.join(unknown)}; a range is low/high (log, step, type), "
             f"a choice is choices")
    kind = spec.get("type")
    if kind is not None and kind not in TYPES:
        fail(f"type must be one of {', '.join(TYPES)}, got {kind!r}")
    if "choices" in spec or kind == "categorical":
        if {"low", "high", "log", "step"} & set(spec):
            fail("takes either choices or a low/high range, not both")
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            fail(f"choices must be a non-empty list, got {choices!r}")
        if not all(c is None or isinstance(c, (bool, int, float, str)) for c in choices):
            fail(f"choices must be numbers, strings, booleans or null, got {choices!r}")
        if len(set(map(repr, choices))) != len(choices):
            fail(f"choices repeat a value: {choices!r}")
        return d.CategoricalDistribution(choices)
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    if not _number(low) or not _number(high):
        fail(f"needs numeric low and high, got low={low!r} high={high!r}")
    if not isinstance(log, bool):
        fail(f"log must be true or false, got {log!r}")
    if not low < high:
        fail(f"low must be below high, got low={low!r} high={high!r}")
    if log and low <= 0:
        fail(f"low must be > 0 on a log scale, got {low!r}")
    if step is not None and (not _number(step) or step <= 0):
        fail(f"step must be a number > 0, got {step!r}")
    if log and step is not None:
        fail("cannot have both log and step (Optuna samples a log range continuously)")
    if kind is None:  # an integer range searches an integer param; 0 / 1 bounds of a float param stay floats
        ints = all(isinstance(v, int) for v in (low, high)) and (step is None or isinstance(step, int))
        kind = "int" if ints and (current is None or (isinstance(current, int) and not isinstance(current, bool))) \
            else "float"
    if kind == "int":
        if not all(float(v).is_integer() for v in (low, high) + ((step,) if step is not None else ())):
            fail(f"is an int range: low, high and step must be whole numbers, got {low!r}, {high!r}, {step!r}")
        return d.IntDistribution(int(low), int(high), log=log, step=int(step or 1))
    return d.FloatDistribution(float(low), float(high), log=log, step=None if step is None else float(step))


def get_path(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = values
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def set_path(values: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `values` with `path` set to `value` (missing mappings on the way are made)."""
    out = copy.deepcopy(values)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return out


def parse(raw: Any, where: str, target: str, base: Mapping[str, Any],
          check: Callable[[dict[str, Any]], Any] | None = None) -> list[Param]:
    """Validate the space at `where` (e.g. `tune.spaces.house-prices.mlp`) that searches `target`
    (e.g. `competitions.house-prices.models.mlp`), whose current values are `base`.

    `check(values)` validates a full set of target values (e.g. the model's own param checks):
    it is called with each bound / choice set in turn, so a range the model would reject
    (a negative learning rate, an unknown key) fails here, naming the tune param, before any
    trial runs.
    """
    if not isinstance(raw, Mapping) or not raw:
        raise ParamError(f"params.yaml: '{where}' must map params of '{target}' to a range or choices")
    found: list[Param] = []

    def walk(node: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for key, value in node.items():
            sub = (*path, str(key))
            name = ".".join((where, *sub))
            if _is_spec(value):
                dist = _distribution(value, get_path(base, sub), name)
                found.append(Param(".".join((target, *sub)), sub, dist))
            elif isinstance(value, Mapping) and value:
                if not isinstance(get_path(base, sub), Mapping):
                    raise ParamError(f"params.yaml: '{name}' is not a mapping in '{target}' "
                                     f"(a searched param needs low/high or choices)")
                walk(value, sub)
            else:
                raise ParamError(f"params.yaml: '{name}' must be a range (low, high; optional log, step, "
                                 f"type) or choices, got {value!r}")

    walk(raw, ())
    if check is not None:
        for param in found:
            for value in _edges(param.distribution):
                try:
                    check(set_path(dict(base), param.path, value))
                except ParamError as exc:
                    reason = str(exc).removeprefix("params.yaml: ")
                    raise ParamError(f"params.yaml: '{where}.{'.'.join(param.path)}' allows {value!r}, "
                                     f"which '{param.name}' rejects: {reason}") from None
    return found


def contains(dist, value: Any) -> bool:
    """Whether `value` is one the distribution can propose (a baseline trial must be)."""
    if hasattr(dist, "choices"):
        return any(value == c and type(value) is type(c) for c in dist.choices)
    if not _number(value) or not dist.low <= value <= dist.high:
        return False
    step = getattr(dist, "step", None)
    return step is None or abs((value - dist.low) / step - round((value - dist.low) / step)) < 1e-9


def _edges(dist) -> list[Any]:
    """The values that bound a distribution: its ends, or every choice."""
    if hasattr(dist, "choices"):
        return list(dist.choices)
    return [dist.low, dist.high]


def suggest(trial, params: list[Param], base: Mapping[str, Any]) -> dict[str, Any]:
    """Ask the trial for a value of each param; return `base` with them set."""
    values = dict(base)
    for param in params:
        values = set_path(values, param.path, _ask(trial, param.name, param.distribution))
    return values


def _ask(trial, name: str, dist):
    """Optuna's public suggest_* call for a distribution."""
    from optuna import distributions as d

    if isinstance(dist, d.CategoricalDistribution):
        return trial.suggest_categorical(name, list(dist.choices))
    if isinstance(dist, d.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
