"""The planner's trajectory cost of any :class:`~pig_control.systems.base.System`, written
once from the system's residuals (so cost and residuals cannot disagree).

States are the planners' packed pixel states ``(B, H, n_points, 4)`` (x, y, vx, vy; pixels
and pixels per time unit), actions ``(B, H, d)`` in [-1, 1]; the cost is ``(B,)``:

``cost = sum_t w_t |r(q_t, qd_t, goal)|^2 + sum_t |r_a(a_t)|^2`` with ``w_t = 1`` and
``w_{H-1} = terminal_weight``, ``r`` the system's :meth:`residuals` and ``r_a`` its
:meth:`action_residuals` (``action_weight``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def check_weights(**weights: float) -> None:
    """Raise ValueError unless every cost weight is a finite number >= 0."""
    bad = {name: w for name, w in weights.items()
           if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0.0)}
    if bad:
        raise ValueError("cost weights must be finite and at least 0, got "
                         + ", ".join(f"{name}={w}" for name, w in bad.items()))


def time_weights(horizon: int, terminal_weight: float, like: Tensor) -> Tensor:
    """(H,) ones with ``terminal_weight`` on the last step."""
    w = torch.ones(horizon, dtype=like.dtype, device=like.device)
    w[-1] = terminal_weight
    return w


class ResidualCost:
    """Sum of squared task residuals over a planned trajectory (see the module docstring).

    Args:
        system: the system planned with (its current camera places the goal).
        goal_positions: goal points ``(n_points, 2)`` in pixels.
        terminal_weight: weight of the last predicted step (the state the plan ends in).
        action_weight: weight of the action's residuals.
        weights: the system's own residual weights (e.g. ``velocity_weight``).
    """

    def __init__(self, system, goal_positions: Tensor, terminal_weight: float = 1.0,
                 action_weight: float = 1e-3, **weights: float):
        check_weights(terminal_weight=terminal_weight, action_weight=action_weight, **weights)
        self.system = system
        self.goal = system.goal_coords(goal_positions)
        self.terminal_weight, self.action_weight = terminal_weight, action_weight
        self.weights = weights

    def residuals(self, states: Tensor, actions: Tensor) -> Tensor:
        """Per-step residuals ``(B, H, r + r_a)`` whose squares sum to the cost (the
        Gauss-Newton planner's interface)."""
        batch, horizon = states.shape[:2]
        q, qd = self.coordinates(states)
        state_part = self.system.residuals(q, qd, self.goal.to(q.dtype), self.weights)
        root = time_weights(horizon, self.terminal_weight, states).sqrt()
        state_part = state_part.reshape(batch, horizon, -1) * root[:, None]
        action_part = self.system.action_residuals(actions, self.action_weight)
        return torch.cat([state_part, action_part.to(state_part.dtype)], -1)

    def coordinates(self, states: Tensor) -> tuple[Tensor, Tensor]:
        """``(q, qd)`` of planned states ``(B, H, ...)``, flattened over B and H: the packed
        pixel states through the system's camera (a cost on other states overrides this)."""
        return self.system.unpack(states)

    def __call__(self, states: Tensor, actions: Tensor) -> Tensor:
        return self.residuals(states, actions).square().sum((1, 2))
