"""Trajectory costs in the learned physical coordinates (pixels), for the planners of ``agents``.

Both costs take packed states ``(B, H, n, 4)`` = x, y, vx, vy per object (pixels, pixels per
time unit; see :mod:`pig_control.control.dynamics`) and actions ``(B, H, d)`` in [-1, 1], and
return ``(B,)``. They serve the learned model and the oracle alike.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _check_weights(**weights: float) -> None:
    """Raise ValueError unless every cost weight is a finite number >= 0."""
    bad = {name: w for name, w in weights.items() if not (math.isfinite(w) and w >= 0.0)}
    if bad:
        raise ValueError("cost weights must be finite and at least 0, got "
                         + ", ".join(f"{name}={w}" for name, w in bad.items()))


def _time_weights(horizon: int, terminal_weight: float, like: Tensor) -> Tensor:
    """(H,) ones with ``terminal_weight`` on the last step."""
    w = torch.ones(horizon, dtype=like.dtype, device=like.device)
    w[-1] = terminal_weight
    return w


class BallGoalCost:
    """Reach goal positions and stop there (the ball scenes' goal is at rest).

    ``cost = sum_t w_t [ sum_i |p_i,t - g_i|^2 + velocity_weight sum_i |v_i,t|^2 ]
    + action_weight sum_t |a_t|^2``, with ``w_t = 1`` and ``w_{H-1} = terminal_weight``.

    Args:
        goal: goal positions (n, 2) in pixels.
        velocity_weight: weight of the squared speeds (px^2 / time^2 against px^2).
        terminal_weight: weight of the last predicted step (the state the plan ends in).
        action_weight: weight of the squared actions (action units).
    """

    def __init__(self, goal: Tensor, velocity_weight: float = 1.0, terminal_weight: float = 10.0,
                 action_weight: float = 1e-3):
        _check_weights(velocity_weight=velocity_weight, terminal_weight=terminal_weight,
                       action_weight=action_weight)
        self.goal = goal
        self.velocity_weight = velocity_weight
        self.terminal_weight = terminal_weight
        self.action_weight = action_weight
        # the goal as a packed state at rest, (n, 4)
        self._target = torch.cat([goal, torch.zeros_like(goal)], -1)
        self._weights: Tensor | None = None

    def _state_weights(self, states: Tensor) -> Tensor:
        """(H, 1, 4): ``w_t`` on the positions, ``w_t velocity_weight`` on the velocities."""
        horizon = states.shape[1]
        if self._weights is None or self._weights.shape[0] != horizon:
            per = torch.tensor([1.0, 1.0, self.velocity_weight, self.velocity_weight],
                               dtype=states.dtype, device=states.device)
            self._weights = _time_weights(horizon, self.terminal_weight, states)[:, None,
                                                                                 None] * per
        return self._weights

    def __call__(self, states: Tensor, actions: Tensor) -> Tensor:
        # one elementwise pass over (B, H, n, 4): about 4x faster than summing positions and
        # speeds apart, on the planners' batches of a few hundred sequences
        weighted = (states - self._target).square_().mul_(self._state_weights(states))
        return weighted.sum((1, 2, 3)) + self.action_weight * actions.square().sum((1, 2))

    def residuals(self, states: Tensor, actions: Tensor) -> Tensor:
        """Per-step residuals (B, H, 4 n + d) whose squares sum to the cost (Gauss-Newton):
        ``sqrt(w_t) (p - g)`` and ``sqrt(w_t velocity_weight) v`` per object, then
        ``sqrt(action_weight) a``."""
        batch, horizon = states.shape[:2]
        state_part = (states - self._target) * self._state_weights(states).sqrt()
        return torch.cat([state_part.reshape(batch, horizon, -1),
                          actions * self.action_weight ** 0.5], -1)


def angle_normalize(x: Tensor) -> Tensor:
    """Wrap angles (radians) into [-pi, pi)."""
    return torch.remainder(x + math.pi, 2.0 * math.pi) - math.pi


def bob_angle(states: Tensor, pivot: float) -> tuple[Tensor, Tensor]:
    """Packed bob states (..., 1, 4) in pixels -> theta (rad, 0 upright) and theta_dot
    (rad per time unit), the convention of the pendulum scene and :class:`PendulumCell`."""
    x, y = states[..., 0, 0] - pivot, states[..., 0, 1] - pivot
    theta = torch.atan2(-x, -y)
    r = torch.hypot(x, y).clamp_min(1e-6)
    theta_dot = (torch.sin(theta) * states[..., 0, 3] - torch.cos(theta) * states[..., 0, 2]) / r
    return theta, theta_dot


class PendulumCost:
    """Gymnasium Pendulum-v1's cost on the angle recovered from the bob position.

    ``cost = sum_t w_t [angle_normalize(theta_t - theta_goal)^2 + 0.1 theta_dot_t^2]
    + 0.001 sum_t (max_torque a_t)^2``, with ``w_{H-1} = terminal_weight``; theta and theta_dot
    come from the bob's pixel position and velocity relative to the pivot (:func:`bob_angle`).

    Args:
        goal: the goal bob position (1, 2) in pixels (upright: straight above the pivot).
        pivot: pivot coordinate (x = y), pixels.
        terminal_weight: weight of the last predicted step.
        velocity_weight: weight of theta_dot^2 (Gymnasium: 0.1).
        action_weight: weight of the squared torque (Gymnasium: 0.001).
        max_torque: torque at action 1 (Gymnasium: 2).
    """

    def __init__(self, goal: Tensor, pivot: float, terminal_weight: float = 1.0,
                 velocity_weight: float = 0.1, action_weight: float = 1e-3,
                 max_torque: float = 2.0):
        _check_weights(terminal_weight=terminal_weight, velocity_weight=velocity_weight,
                       action_weight=action_weight)
        self.pivot = pivot
        packed = torch.cat([goal.reshape(1, 2), torch.zeros_like(goal.reshape(1, 2))], -1)
        self.goal_theta = float(bob_angle(packed, pivot)[0])
        self.terminal_weight = terminal_weight
        self.velocity_weight = velocity_weight
        self.action_weight = action_weight * max_torque**2
        self._w: Tensor | None = None

    def __call__(self, states: Tensor, actions: Tensor) -> Tensor:
        if self._w is None or self._w.shape[0] != states.shape[1]:
            self._w = _time_weights(states.shape[1], self.terminal_weight, states)
        theta, theta_dot = bob_angle(states, self.pivot)
        per_step = angle_normalize(theta - self.goal_theta).square()
        per_step = torch.add(per_step, theta_dot.square(), alpha=self.velocity_weight)
        return per_step @ self._w + self.action_weight * actions.square().sum((1, 2))

    def residuals(self, states: Tensor, actions: Tensor) -> Tensor:
        """Per-step residuals (B, H, 2 + d) whose squares sum to the cost (Gauss-Newton)."""
        if self._w is None or self._w.shape[0] != states.shape[1]:
            self._w = _time_weights(states.shape[1], self.terminal_weight, states)
        root = self._w.sqrt()
        theta, theta_dot = bob_angle(states, self.pivot)
        return torch.cat([(angle_normalize(theta - self.goal_theta) * root)[..., None],
                          (theta_dot * root * self.velocity_weight ** 0.5)[..., None],
                          actions * self.action_weight ** 0.5], -1)
