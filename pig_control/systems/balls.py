"""Balls in the image plane: free flight, a spring between two, or mutual gravity; optional
elastic walls at learned positions; actions push objects through learned gains.

The coordinates are the objects' image positions themselves (pixels, ``q`` of shape
``(B, n, 2)``), so the camera is the identity, and the walls (where an object's centre turns
back) are the only geometry to learn: ``wall_low`` and ``wall_high`` in pixels, the same on
both axes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pig_control.systems.base import System
from pig_control.systems.cost import check_weights, time_weights
from pig_control.systems.registry import register_system


class Balls(System):
    """Base of the ball systems. Subclasses write :meth:`interaction`.

    Args:
        n_objects: objects (tracked points).
        dt: time units per frame.
        substeps: Euler substeps per frame (the paper: 5).
        action_dim: size of the action (0: unactuated); pairs of components push objects.
        actuated_objects: indices of the pushed objects, one action pair each; empty with
            actions: which object each pair pushes is learned too (a gain per object and pair).
        walls: elastic walls, learned: an object's centre turns back at ``wall_low`` and
            ``wall_high`` pixels (both axes).
        image_size: frame side, pixels.
        wall_margin: initial guess of the walls' distance from the border, pixels.
    """

    defaults = {"horizon": 15, "cost": {"velocity_weight": 1.0, "terminal_weight": 10.0}}

    def __init__(self, n_objects: int, dt: float, substeps: int = 5, action_dim: int = 0,
                 actuated_objects: list[int] | tuple[int, ...] = (), walls: bool = False,
                 image_size: int = 32, wall_margin: float = 2.0):
        self.walls, self.wall_margin = bool(walls), float(wall_margin)
        self.actuated_objects = list(actuated_objects)
        if action_dim % 2:
            raise ValueError("a ball system's action pushes objects: two components each")
        super().__init__(dt, substeps, action_dim, image_size, n_points=n_objects)
        self.coords = tuple(f"{axis}{i}" for i in range(n_objects) for axis in "xy")

    @classmethod
    def from_model_config(cls, config, **options):
        return cls(config.n_objects, config.dt, config.substeps, config.action_dim,
                   config.actuated_objects, config.walls, config.image_size,
                   config.wall_margin, **options)

    def camera_initial_guess(self):
        if not self.walls:
            return {}
        return {"wall_low": self.wall_margin, "wall_high": self.image_size - self.wall_margin}

    def gain_shape(self):
        # named objects: one shared gain; none named: a gain per (object, action pair)
        return () if self.actuated_objects else (self.n_objects, self.action_dim // 2)

    def push_matrix(self) -> Tensor:
        """Gains (n, d / 2): how strongly action pair j accelerates object i, px / time^2."""
        gain = self.gain()
        if not self.actuated_objects:
            return gain
        pattern = torch.zeros(self.n_objects, self.action_dim // 2, device=gain.device)
        for j, obj in enumerate(self.actuated_objects):
            pattern[obj, j] = 1.0
        return gain * pattern

    def force(self, action, p):
        pushed = action.view(action.shape[0], self.action_dim // 2, 2)
        return torch.einsum("nk,bkc->bnc", self.push_matrix().to(action.dtype), pushed)

    def interaction(self, pos: Tensor, p: dict[str, Tensor]) -> Tensor:
        """Accelerations (B, n, 2) from the objects' interaction, px / time^2."""
        raise NotImplementedError

    def acceleration(self, pos: Tensor, vel: Tensor) -> Tensor:
        """Accelerations (B, n, 2) without the action, px / time^2."""
        return self.interaction(pos, self.physical())

    def accel(self, q, qd, force, p):
        acc = self.interaction(q, p)
        return acc if force is None else acc + force

    def constrain(self, q, qd, cam):
        if not self.walls:
            return q, qd
        low, high = cam["wall_low"], cam["wall_high"]
        below, above = q < low, q > high
        q = torch.where(below, 2 * low - q, torch.where(above, 2 * high - q, q))
        return q, torch.where(below | above, -qd, qd)

    def to_pixels(self, q, cam):
        return q

    def from_pixels(self, points, cam):
        return points

    def velocity_to_pixels(self, q, qd, cam):
        return qd

    def velocity_from_pixels(self, q, vel, cam):
        return vel

    def make_cost(self, goal_positions, **weights):
        return BallGoalCost(goal_positions, **weights)


@register_system
class FreeBalls(Balls):
    """Free flight (the bouncing balls): no forces, no parameters."""

    name = "free"

    def interaction(self, pos, p):
        return torch.zeros_like(pos)


@register_system
class SpringBalls(Balls):
    """Two objects on a spring: ``F = -k (|p0 - p1| - 2 l) (p0 - p1) / |p0 - p1|`` on object 0,
    equal and opposite on object 1 (unit masses). ``k`` in 1 / time unit^2, ``l`` in pixels."""

    name = "spring"
    initial_params = {"k": 1.0, "l": 1.0}

    def interaction(self, pos, p):
        d = pos[:, 0] - pos[:, 1]
        dist = d.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        force = -p["k"] * (dist - 2 * p["l"]) * d / dist
        return torch.stack([force, -force], 1)

    def rest_goal(self, positions):
        """The spring rests with the balls ``2 l`` apart (the model's ``l``): the positions
        move along the line through them, about their midpoint, to that distance. A goal
        encoded from an image is rarely exactly there, and a planner asked to stop both balls
        where the model's spring still pulls them never settles."""
        if positions.shape[0] != 2:
            return positions
        middle = positions.mean(0)
        apart = positions[0] - positions[1]
        direction = apart / apart.norm().clamp_min(1e-6)
        half = float(self.params["l"])
        return torch.stack([middle + half * direction, middle - half * direction])


@register_system
class GravityBalls(Balls):
    """Pairwise Newtonian attraction, ``a_i = -g m^2 sum_j (p_i - p_j) / |p_i - p_j|^3``.

    Only the product ``g m^2`` is identifiable from video: ``m`` is fixed at 1 and ``g`` is
    learned (px^3 per time unit^2). ``softening``: Plummer softening length, pixels.
    """

    name = "gravity"
    initial_params = {"g": 1.0}
    fixed_params = {"m": 1.0}

    def __init__(self, *args, softening: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.softening = softening

    def interaction(self, pos, p):
        d = pos.unsqueeze(2) - pos.unsqueeze(1)  # (B, n, n, 2): p_i - p_j
        r2 = (d * d).sum(-1, keepdim=True) + self.softening**2
        eye = torch.eye(pos.shape[1], dtype=torch.bool, device=pos.device)[None, :, :, None]
        inv_r3 = torch.where(eye, torch.zeros_like(r2), r2.clamp_min(1e-6) ** -1.5)
        return -p["g"] * p["m"] ** 2 * (d * inv_r3).sum(2)


class BallGoalCost:
    """Reach goal positions and stop there (the ball scenes' goal is at rest).

    ``cost = sum_t w_t [ sum_i |p_i,t - g_i|^2 + velocity_weight sum_i |v_i,t|^2 ]
    + action_weight sum_t |a_t|^2``, with ``w_t = 1`` and ``w_{H-1} = terminal_weight``: the
    residual cost of a ball system, written out over the packed states (B, H, n, 4) in one
    elementwise pass (the coordinates are the pixels: nothing to convert).

    Args:
        goal: goal positions (n, 2) in pixels.
        velocity_weight: weight of the squared speeds (px^2 / time^2 against px^2).
        terminal_weight: weight of the last predicted step (the state the plan ends in).
        action_weight: weight of the squared actions (action units).
    """

    def __init__(self, goal: Tensor, velocity_weight: float = 1.0, terminal_weight: float = 10.0,
                 action_weight: float = 1e-3):
        check_weights(velocity_weight=velocity_weight, terminal_weight=terminal_weight,
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
            self._weights = time_weights(horizon, self.terminal_weight, states)[:, None,
                                                                                None] * per
        return self._weights

    def __call__(self, states: Tensor, actions: Tensor) -> Tensor:
        weighted = (states - self._target).square_().mul_(self._state_weights(states))
        return weighted.sum((1, 2, 3)) + self.action_weight * actions.square().sum((1, 2))

    def residuals(self, states: Tensor, actions: Tensor) -> Tensor:
        """Per-step residuals (B, H, 4 n + d) whose squares sum to the cost (Gauss-Newton):
        ``sqrt(w_t) (p - g)`` and ``sqrt(w_t velocity_weight) v`` per object, then
        ``sqrt(action_weight) a``."""
        batch, horizon = states.shape[:2]
        state_part = (states - self._target) * self._state_weights(states).sqrt()
        return torch.cat([state_part.reshape(batch, horizon, -1),
                          actions * math.sqrt(self.action_weight)], -1)
