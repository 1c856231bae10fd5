"""Learnable physics cells: the scene's equations of motion with physical parameters to learn.

Each cell advances (positions, velocities) by one frame with ``substeps`` explicit Euler steps
(velocity first, then position, as the scene generators do). Physical parameters are stored as
log-values initialised at log 1, so they stay positive. An optional action enters at every
substep as an acceleration ``gain * action`` on the actuated objects (zero-order hold), with a
learnable log-gain.

Units: positions in pixels, velocities in pixels per time unit, ``dt`` in the scene's time units.
These cells are written separately from the true physics in ``envs`` on purpose; tests check that
they agree when the parameters match.
"""

from __future__ import annotations

import torch
from torch import nn


class PhysicsCell(nn.Module):
    """Base cell. Subclasses set ``param_names`` and implement :meth:`acceleration`.

    Args:
        n_objects: objects in the state.
        dt: time units per frame.
        substeps: Euler substeps per frame.
        action_dim: size of the action (0: unactuated).
        actuated_objects: indices of the pushed objects, two action components each (x, y).
        walls: reflect objects elastically at ``wall_margin`` pixels from the image border.
        image_size: frame side in pixels (for the walls).
        wall_margin: centre-to-border distance at contact, pixels.
    """

    param_names: tuple[str, ...] = ()
    fixed_params: dict[str, float] = {}

    def __init__(self, n_objects: int, dt: float, substeps: int = 5, action_dim: int = 0,
                 actuated_objects: list[int] | tuple[int, ...] = (), walls: bool = False,
                 image_size: int = 32, wall_margin: float = 2.0):
        super().__init__()
        self.n_objects, self.dt, self.substeps = n_objects, dt, substeps
        self.action_dim = action_dim
        self.actuated_objects = list(actuated_objects)
        self.walls, self.image_size, self.wall_margin = walls, image_size, wall_margin
        self.log_params = nn.Parameter(torch.zeros(len(self.param_names)))
        self.log_gain = None
        if action_dim:
            # named objects: one shared gain; none named: which object each action pair pushes is
            # learned too, as a gain per (object, action pair)
            # (a torque, an odd action size, keeps one gain)
            learned = not self.actuated_objects and action_dim % 2 == 0
            shape = (n_objects, action_dim // 2) if learned else ()
            self.log_gain = nn.Parameter(torch.zeros(shape))

    @property
    def params(self) -> dict[str, float]:
        """The current physical parameters as plain floats."""
        values = torch.exp(self.log_params.detach()).tolist()
        return dict(zip(self.param_names, values, strict=True))

    def set_param(self, name: str, value: float) -> None:
        """Overwrite one physical parameter (zero-data adaptation)."""
        if name not in self.param_names:
            raise ValueError(f"unknown parameter '{name}' (this cell has: "
                             f"{', '.join(self.param_names) or 'none'})")
        if not value > 0:
            raise ValueError(f"parameter '{name}' must be positive, got {value}")
        with torch.no_grad():
            self.log_params[self.param_names.index(name)] = torch.log(torch.tensor(float(value)))

    def _param(self, name: str) -> torch.Tensor:
        return torch.exp(self.log_params[self.param_names.index(name)])

    def acceleration(self, pos: torch.Tensor, vel: torch.Tensor) -> torch.Tensor:
        """Acceleration (B, n, 2) in px per time unit squared, without the action."""
        raise NotImplementedError

    def push_matrix(self) -> torch.Tensor:
        """Gains (n, d / 2): how strongly action pair j accelerates object i, px / time^2."""
        gain = torch.exp(self.log_gain)
        if not self.actuated_objects:
            return gain
        pattern = torch.zeros(self.n_objects, self.action_dim // 2, device=gain.device)
        for j, obj in enumerate(self.actuated_objects):
            pattern[obj, j] = 1.0
        return gain * pattern

    def action_acceleration(self, action: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The action (B, d) as an acceleration (B, n, 2) of every object."""
        pushed = action.view(action.shape[0], self.action_dim // 2, 2)
        return torch.einsum("nk,bkc->bnc", self.push_matrix().to(like.dtype), pushed)

    def _reflect(self, pos: torch.Tensor, vel: torch.Tensor):
        low, high = self.wall_margin, self.image_size - self.wall_margin
        below, above = pos < low, pos > high
        pos = torch.where(below, 2 * low - pos, torch.where(above, 2 * high - pos, pos))
        vel = torch.where(below | above, -vel, vel)
        return pos, vel

    def forward(self, pos: torch.Tensor, vel: torch.Tensor, action: torch.Tensor | None = None):
        """One frame: (B, n, 2) positions and velocities -> the same one frame later."""
        h = self.dt / self.substeps
        push = None
        if self.action_dim and action is not None:
            push = self.action_acceleration(action, pos)
        for _ in range(self.substeps):
            acc = self.acceleration(pos, vel)
            if push is not None:
                acc = acc + push
            vel = vel + h * acc
            pos = pos + h * vel
            if self.walls:
                pos, vel = self._reflect(pos, vel)
        return pos, vel


class FreeCell(PhysicsCell):
    """Free flight (bouncing balls): no forces, no parameters; walls as configured."""

    def acceleration(self, pos, vel):
        return torch.zeros_like(pos)


class SpringCell(PhysicsCell):
    """Two objects on a spring: F = -k (|p0 - p1| - 2 l) (p0 - p1) / |p0 - p1| on object 0,
    equal and opposite on object 1 (unit masses). ``k`` in 1 / time unit^2, ``l`` in pixels."""

    param_names = ("k", "l")

    def acceleration(self, pos, vel):
        d = pos[:, 0] - pos[:, 1]
        dist = d.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        force = -self._param("k") * (dist - 2 * self._param("l")) * d / dist
        return torch.stack([force, -force], 1)


class GravityCell(PhysicsCell):
    """Pairwise Newtonian attraction, a_i = -g m^2 sum_j (p_i - p_j) / |p_i - p_j|^3.

    Only the product g m^2 is identifiable from video; as the original code does, m is fixed at 1
    and g is learned (px^3 per time unit^2).
    """

    param_names = ("g",)
    fixed_params = {"m": 1.0}

    def __init__(self, *args, softening: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.softening = softening

    def acceleration(self, pos, vel):
        d = pos.unsqueeze(2) - pos.unsqueeze(1)  # (B, n, n, 2): p_i - p_j
        r2 = (d * d).sum(-1, keepdim=True) + self.softening**2
        eye = torch.eye(pos.shape[1], dtype=torch.bool, device=pos.device)[None, :, :, None]
        inv_r3 = torch.where(eye, torch.zeros_like(r2), r2.clamp_min(1e-6) ** -1.5)
        return -self._param("g") * self.fixed_params["m"] ** 2 * (d * inv_r3).sum(2)


CELLS = {"free": FreeCell, "spring": SpringCell, "gravity": GravityCell}


class PendulumCell(PhysicsCell):
    """Gymnasium's pendulum seen as one object (the bob) in pixels.

    The state is the bob's position and velocity in pixels (the layout of every cell); the
    cell recovers the angle ``theta`` (rad, 0 upright, positive counter-clockwise on screen:
    ``x = cx - r sin(theta)``, ``y = cy - r cos(theta)``), the rod length ``r`` (px) and
    ``theta_dot`` (rad per time unit) around the pivot at the image centre, advances
    ``theta_ddot = 3 g / (2 l) sin(theta) + 3 / (m l^2) u`` with ``substeps`` semi-implicit
    Euler steps (angular velocity first, clipped to ``max_speed``, then the angle; one substep
    is Gymnasium's update) and maps back to pixels. The torque is ``u = gain * action[:, 0]``
    with the learnable log-gain. Only ``3 g / (2 l)`` and ``3 gain / (m l^2)`` are identifiable
    from video; g, m and l are kept separately so that each can be edited (zero-data adaptation).
    """

    param_names = ("g", "m", "l")
    max_speed = 8.0  # rad per time unit, Gymnasium's clip

    @property
    def pivot(self) -> float:
        """Pivot coordinate (both x and y), pixels."""
        return self.image_size / 2.0

    def to_angle(self, pos: torch.Tensor, vel: torch.Tensor):
        """Bob (B, 1, 2) position / velocity in px -> theta, theta_dot, rod length r (B,)."""
        rel = pos[:, 0] - self.pivot
        theta = torch.atan2(-rel[:, 0], -rel[:, 1])
        r = rel.norm(dim=-1).clamp_min(1e-6)
        theta_dot = (torch.sin(theta) * vel[:, 0, 1] - torch.cos(theta) * vel[:, 0, 0]) / r
        return theta, theta_dot, r

    def from_angle(self, theta: torch.Tensor, theta_dot: torch.Tensor, r: torch.Tensor):
        """Inverse of :meth:`to_angle`: -> bob position and velocity (B, 1, 2) in px."""
        s, c = torch.sin(theta), torch.cos(theta)
        pos = torch.stack([self.pivot - r * s, self.pivot - r * c], -1).unsqueeze(1)
        vel = torch.stack([-r * c * theta_dot, r * s * theta_dot], -1).unsqueeze(1)
        return pos, vel

    def forward(self, pos: torch.Tensor, vel: torch.Tensor, action: torch.Tensor | None = None):
        theta, theta_dot, r = self.to_angle(pos, vel)
        g, m, l = self._param("g"), self._param("m"), self._param("l")
        torque = 0.0
        if self.action_dim and action is not None:
            torque = torch.exp(self.log_gain) * action[:, 0]
        h = self.dt / self.substeps
        for _ in range(self.substeps):
            acc = 3.0 * g / (2.0 * l) * torch.sin(theta) + 3.0 / (m * l * l) * torque
            theta_dot = (theta_dot + h * acc).clamp(-self.max_speed, self.max_speed)
            theta = theta + h * theta_dot
        return self.from_angle(theta, theta_dot, r)


CELLS["pendulum"] = PendulumCell
