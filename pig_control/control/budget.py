"""Memory guard for planning: estimate what one plan allocates and refuse what cannot fit.

A planner's memory grows with its horizon H and its batch (a sampling planner's population, a
gradient planner's restarts); Gauss-Newton also builds a dense map from every action component
to every residual, which grows with H squared. The estimate is rough on purpose (a factor of a
few): it exists to turn ``--horizon 100000`` or ``--planner-option population=10**9`` into one
line before any work instead of an allocation of terabytes.
"""

from __future__ import annotations

from pig_control.config import machine_memory_bytes
from pig_control.errors import UserInputError

#: Copies of a rolled-out batch alive at once (states, actions, noise, costs, autograd), float32.
BATCH_COPIES = 16
#: Dense float64 matrices of Gauss-Newton's size alive at once (J, J'J, the solver's work).
DENSE_COPIES = 3


def planning_memory_bytes(planner: str, horizon: int, action_dim: int, state_numbers: int,
                          options: dict) -> int:
    """Estimated peak bytes of one plan.

    Args:
        planner: planner name (``agents.PLANNERS``).
        horizon: control steps planned ahead.
        action_dim: action components per step.
        state_numbers: numbers in one state (objects x 4 for the packed ball state).
        options: the planner's options, its defaults included (population, restarts, ...).
    """
    per_step = state_numbers + action_dim
    if planner == "gn":
        batch = 1 + int(options.get("samples", 0)) + len(options.get("step_sizes", ())) + 1
        linearised = horizon * (1 + state_numbers + action_dim)  # finite-difference rows
        dense = 8 * (horizon * per_step) * (horizon * action_dim) * DENSE_COPIES
        return 4 * per_step * (horizon * batch + linearised) * BATCH_COPIES + dense
    batch = int(options.get("population") or options.get("restarts") or 1)
    return 4 * per_step * horizon * batch * BATCH_COPIES


def check_planning_memory(planner: str, horizon: int, action_dim: int, state_numbers: int,
                          options: dict, device: str = "cpu",
                          limit_bytes: int | None = None) -> int:
    """Refuse a plan whose estimate (:func:`planning_memory_bytes`) exceeds ``limit_bytes``
    (default: the device's total memory). Returns the estimate in bytes."""
    need = planning_memory_bytes(planner, horizon, action_dim, state_numbers, options)
    limit = machine_memory_bytes(device) if limit_bytes is None else limit_bytes
    if limit is not None and need > limit:
        raise UserInputError(f"planning with {planner} over a horizon of {horizon} steps needs "
                             f"about {need / 2**30:,.1f} GiB but the {device} has "
                             f"{limit / 2**30:.1f} GiB: lower --horizon or the planner's "
                             f"population / samples")
    return need
