"""Build a planner by name: ``make_planner("icem", dynamics, cost, d, H, low, high, ...)``."""

from __future__ import annotations

import inspect
import math
from typing import Any

from agents.base import Bound, Cost, Dynamics, Planner
from agents.cem import CEMPlanner
from agents.cmaes import CMAESPlanner
from agents.gn import GaussNewtonPlanner
from agents.grad import GradPlanner
from agents.icem import ICEMPlanner
from agents.mppi import MPPIPlanner

PLANNERS: dict[str, type[Planner]] = {
    "cem": CEMPlanner,
    "icem": ICEMPlanner,
    "grad": GradPlanner,
    "cmaes": CMAESPlanner,
    "mppi": MPPIPlanner,
    "gn": GaussNewtonPlanner,
}
"""Planner classes by short name."""

_POSITIONAL = ("dynamics", "cost", "action_dim", "horizon", "low", "high")


def planner_options(name: str) -> dict[str, Any]:
    """Keyword options of planner ``name`` with their defaults (seed, callback, device, ...)."""
    cls = _lookup(name)
    params = inspect.signature(cls.__init__).parameters
    return {k: p.default for k, p in params.items() if k != "self" and k not in _POSITIONAL}


def _lookup(name: str) -> type[Planner]:
    try:
        return PLANNERS[name]
    except KeyError:
        raise ValueError(f"unknown planner {name!r}; known planners: "
                         f"{', '.join(PLANNERS)}") from None


def make_planner(name: str, dynamics: Dynamics, cost: Cost, action_dim: int, horizon: int,
                 low: Bound = -1.0, high: Bound = 1.0, **options: Any) -> Planner:
    """Create a planner by name.

    Args:
        name: one of ``cem``, ``icem``, ``grad``, ``cmaes``, ``mppi``, ``gn``.
        dynamics: one-step model ``(state (B, *S), action (B, d)) -> (B, *S)``.
        cost: trajectory cost ``(states (B, H, *S), actions (B, H, d)) -> (B,)``.
        action_dim: d, number of action components.
        horizon: H, control steps planned ahead.
        low: lower action bound (float or Tensor (d,)), in action units.
        high: upper action bound (float or Tensor (d,)), in action units.
        **options: keyword options of that planner (see :func:`planner_options`), e.g.
            ``population=300, seed=1``.

    Raises:
        ValueError: unknown planner name (the message lists the known ones).
        TypeError: an option the planner does not take (the message names it and lists the
            valid ones), or a value not of its default's type (an integer option given 1.5, a
            number given a string or NaN, a boolean given anything but true or false);
            integral floats and lists are converted.
    """
    cls = _lookup(name)
    valid = planner_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)} for planner {name!r}; "
                        f"valid options: {', '.join(valid)}")
    params = inspect.signature(cls.__init__).parameters
    options = {key: _checked(name, key, value, params[key]) for key, value in options.items()}
    return cls(dynamics, cost, action_dim, horizon, low, high, **options)


def _checked(planner: str, key: str, value: Any, param: inspect.Parameter) -> Any:
    """``value`` of option ``key`` in the type of its default (or of its ``int | None`` /
    ``float | None`` annotation): integers stay integers (an integral float becomes one),
    numbers must be finite, a tuple of numbers may come as a list. Raises TypeError."""
    default, hint = param.default, str(param.annotation)
    if value is None and (default is None or "None" in hint):
        return None
    if default is None:
        kind = int if hint.startswith("int") else float if hint.startswith("float") else None
    else:
        kind = type(default)
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError(f"option {key!r} of planner {planner!r} must be true or false, "
                            f"got {value!r}")
        return value
    if kind is None or kind not in (int, float, tuple):
        return value

    def number(item: Any, integral: bool) -> Any:
        ok = isinstance(item, (int, float)) and not isinstance(item, bool) \
            and math.isfinite(item) and (not integral or float(item).is_integer())
        if not ok:
            what = "an integer" if integral else "a finite number"
            raise TypeError(f"option {key!r} of planner {planner!r} must be {what}, "
                            f"got {item!r}")
        return int(item) if integral else float(item)

    if kind is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"option {key!r} of planner {planner!r} must be a list of numbers, "
                            f"got {value!r}")
        return tuple(number(item, False) for item in value)
    return number(value, kind is int)
