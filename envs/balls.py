"""Ball scenes of the paper: two bouncing balls, two balls on a spring, three-body gravity."""

from __future__ import annotations

import numpy as np

from . import physics
from .render import render_balls
from .scene import Array, BallScene, as_generator


def _uniform_disc_directions(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    angle = rng.uniform(0.0, 2.0 * np.pi, shape)
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


class BouncingBalls(BallScene):
    """Two balls in free flight between elastic walls (PAPER.md, "2 balls bouncing").

    ## Description

    Two balls of radius 2 px move freely in a 32 x 32 px box and bounce elastically off its
    walls (a coordinate must stay in ``[2, 30]``: the ball's edge reaches the image border).
    The balls do not collide with each other (they pass through one another, as in the paper).
    Integration: explicit Euler, 10 substeps per frame of ``dt = 0.3`` time units.

    ## Observation Space

    ``Box(0, 255, (32, 32, 3), uint8)``: ball 0 red, ball 1 green, anti-aliased, black
    background.

    ## Action Space

    ``Box(-1, 1, (4,), float32)``: ``(ax0, ay0, ax1, ay1)``, an acceleration of both balls
    of ``max_accel = 5`` px / time^2 at action 1, held over the frame and applied at every
    Euler substep. The unactuated form (``actuated=False``) accepts and ignores the action.

    ## State (``info["state"]``)

    ``(2, 4)`` float: ``x, y, vx, vy`` per ball, pixels and pixels per time unit
    (x = column, y = row).

    ## Reward

    ``-goal_distance``: the mean over balls of the Euclidean distance (px) to its goal position.

    ## Starting State

    Positions uniform in ``[3, 29]^2`` (1 px inside the walls); velocities in a uniform random
    direction with speed uniform in ``[1, 4]`` px / time unit. ``reset(options={"state": s})``
    sets it.

    ## Goal and Success

    Goal positions uniform in ``[4, 28]^2``, velocities 0 (or ``options["goal"]``: a full
    ``(2, 4)`` state or ``(2, 2)`` positions, velocities then 0). ``info["is_success"]`` when
    every ball is within ``success_pos_tol = 1.0`` px of its goal and slower than
    ``success_speed_tol = 1.0`` px / time unit.

    ## Episode End

    Never terminates; truncated after 50 steps by the registered ``PIG/BouncingBalls-v0``.

    ## Datasets

    :meth:`sample_sequences` draws start states as above and keeps every sequence (bounces
    included), as the paper's bouncing-balls set.

    ## True Parameters

    None (free flight).
    """

    name = "bouncing"
    image_size = 32
    n_objects = 2
    dt = 0.3
    substeps = 10
    max_episode_steps = 50
    radius = 2.0
    margin = 2.0
    goal_margin = 4.0
    max_accel = 5.0
    pushed = (0, 1)
    start_speed = (1.0, 4.0)

    @property
    def params(self) -> dict[str, float]:
        return {}

    def accel(self, pos: Array, paper: bool = False) -> Array:
        return physics.free_accel(pos)

    def _render_float(self, states: Array) -> Array:
        return render_balls(states[..., :2], self.radius, self.image_size, self.colours)

    def sample_states(self, rng: np.random.Generator | int | None, n: int) -> Array:
        rng = as_generator(rng)
        lo, hi = self.margin + 1.0, self.image_size - self.margin - 1.0
        pos = rng.uniform(lo, hi, (n, self.n_objects, 2))
        speed = rng.uniform(*self.start_speed, (n, self.n_objects, 1))
        vel = speed * _uniform_disc_directions(rng, (n, self.n_objects))
        return np.concatenate([pos, vel], axis=-1)


class Spring(BallScene):
    """Two balls joined by a spring (PAPER.md, "2 balls spring"); only ball 0 is pushed.

    ## Description

    Two unit-mass balls of radius 2 px in a 32 x 32 px box. The force on ball 0 is
    ``F = -k (|p0 - p1| - 2 l) (p0 - p1) / |p0 - p1|``, ball 1 feels ``-F``; ``k = 4``,
    ``l = 6`` (rest distance 12 px). Explicit Euler, 10 substeps per frame of ``dt = 0.3``.
    Elastic walls keep the balls in view (coordinates in ``[2, 30]``) in every form; the
    dataset generator rejects sequences that touch a wall, so datasets follow the paper's
    law exactly.

    ## Observation Space

    ``Box(0, 255, (32, 32, 3), uint8)``: ball 0 red, ball 1 green, black background.

    ## Action Space

    ``Box(-1, 1, (2,), float32)``: the acceleration ``(ax, ay)`` of ball 0 only, times
    ``max_accel = 5`` px / time^2, held over the frame, applied at every Euler substep.
    Ball 1 can only be moved through the spring. ``actuated=False`` ignores the action.

    ## State (``info["state"]``)

    ``(2, 4)`` float: ``x, y, vx, vy`` per ball (pixels, pixels per time unit).

    ## Reward

    ``-goal_distance``: mean over the two balls of the Euclidean distance (px) to the goal.

    ## Starting State

    Positions of both balls uniform in ``[3, 29]^2``; velocity components uniform in
    ``[-2, 2]`` px / time unit.

    ## Goal and Success

    A resting configuration: separation exactly ``2 l`` = 12 px, zero velocities, orientation
    uniform in ``[0, 2 pi)``, centre uniform among the centres that keep both balls in
    ``[4, 28]^2``. ``options["goal"]`` accepts a ``(2, 4)`` state or ``(2, 2)`` positions.
    Success: both balls within 1.0 px of their goal and slower than 1.0 px / time unit.

    ## Episode End

    Never terminates; truncated after 50 steps (``PIG/Spring-v0``).

    ## Datasets

    :meth:`sample_sequences`: start states as above, paper's dynamics, sequences in which a ball
    touches a wall are rejected and redrawn (about 63 % of 12-frame and 31 % of 30-frame
    sequences are kept; 6,000 sequences take well under a second).

    ## True Parameters

    ``k = 4.0``, ``l = 6.0`` (constructor arguments, e.g. ``gymnasium.make(id, k=5.0)``).
    """

    name = "spring"
    image_size = 32
    n_objects = 2
    dt = 0.3
    substeps = 10
    max_episode_steps = 50
    radius = 2.0
    margin = 2.0
    goal_margin = 4.0
    max_accel = 5.0
    pushed = (0,)
    reject_wall_contact = True
    start_speed = 2.0

    def __init__(
        self,
        actuated: bool = True,
        render_mode: str | None = None,
        k: float = 4.0,
        l: float = 6.0,
        max_accel: float | None = None,
    ):
        for key, value in (("k", k), ("l", l)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a positive number; got {value!r}")
        self.k, self.l = float(k), float(l)
        super().__init__(actuated=actuated, render_mode=render_mode, max_accel=max_accel)

    @property
    def params(self) -> dict[str, float]:
        return {"k": self.k, "l": self.l}

    def accel(self, pos: Array, paper: bool = False) -> Array:
        return physics.spring_accel(pos, self.k, self.l)

    def _render_float(self, states: Array) -> Array:
        return render_balls(states[..., :2], self.radius, self.image_size, self.colours)

    def sample_states(self, rng: np.random.Generator | int | None, n: int) -> Array:
        rng = as_generator(rng)
        lo, hi = self.margin + 1.0, self.image_size - self.margin - 1.0
        pos = rng.uniform(lo, hi, (n, self.n_objects, 2))
        vel = rng.uniform(-self.start_speed, self.start_speed, (n, self.n_objects, 2))
        return np.concatenate([pos, vel], axis=-1)

    def sample_goals(self, rng: np.random.Generator | int | None, n: int) -> Array:
        rng = as_generator(rng)
        half = _uniform_disc_directions(rng, (n,)) * self.l  # (n, 2): p0 - centre
        lo = self.goal_margin + np.abs(half)
        hi = self.image_size - self.goal_margin - np.abs(half)
        centre = lo + (hi - lo) * rng.uniform(0.0, 1.0, (n, 2))
        goals = np.zeros((n,) + self.state_shape)
        goals[:, 0, :2] = centre + half
        goals[:, 1, :2] = centre - half
        return goals


class ThreeBody(BallScene):
    """Three balls under pairwise Newtonian gravity (PAPER.md, "3 balls gravity").

    ## Description

    Three balls of radius 2 px in a 36 x 36 px box. Acceleration of ball ``i``:
    ``a_i = -g m^2 sum_j (p_i - p_j) / |p_i - p_j|^3`` with ``g = 60``, ``m = 1``.
    Explicit Euler, 10 substeps per frame of ``dt = 0.5``. Elastic walls in every form.
    The actuated form (default) adds a gravitational softening of ``softening = 1.0`` px
    (denominator ``(|p_i - p_j|^2 + 1)^(3/2)``; under 3 % change beyond 8 px) so close
    encounters stay finite; ``actuated=False`` uses the paper's exact law (softening 0).

    ## Observation Space

    ``Box(0, 255, (36, 36, 3), uint8)``: balls red, green, blue on black.

    ## Action Space

    ``Box(-1, 1, (6,), float32)``: ``(ax0, ay0, ax1, ay1, ax2, ay2)`` times
    ``max_accel = 5.625`` px / time^2 (5 scaled by 36 / 32), held over the frame, applied at
    every substep. ``actuated=False`` ignores the action.

    ## State (``info["state"]``)

    ``(3, 4)`` float: ``x, y, vx, vy`` per ball.

    ## Reward

    ``-goal_distance``: mean over the balls of the Euclidean distance (px) to the goal.

    ## Starting State

    Near a circle around the image centre: radius ``R ~ U[8, 10]`` px, angles
    ``phi0 + 2 pi i / 3`` (``phi0 ~ U[0, 2 pi)``) plus ``N(0, 0.05)`` rad jitter, radii plus
    ``N(0, 0.2)`` px; tangential velocity of the circular equilateral orbit,
    ``v = sqrt(g m^2 / (sqrt(3) R))`` (about 2 px / time unit), with a random common sense of
    rotation, times ``U[0.95, 1.05]``, plus ``N(0, 0.05)`` px / time unit per component; the
    mean velocity is then removed (zero total momentum, so the system does not drift away).
    The equal-mass triangle orbit is unstable, so the noise is kept small: about 90 % of
    40-frame sequences stay bounded (no wall contact, no close encounter) and are kept.

    ## Goal and Success

    Goal positions uniform in ``[4, 32]^2`` with every pair at least ``goal_min_separation =
    8`` px apart (holding them against gravity needs under 2 px / time^2), velocities 0.
    ``options["goal"]`` accepts a ``(3, 4)`` state or ``(3, 2)`` positions. Success: every
    ball within 1.0 px of its goal and slower than 1.0 px / time unit.

    ## Episode End

    Never terminates; truncated after 50 steps (``PIG/ThreeBody-v0``).

    ## Datasets

    :meth:`sample_sequences`: start states as above, paper's law (no softening); a sequence is
    rejected if a ball touches a wall or two balls come closer than ``radius + 1 = 3`` px at
    any frame.

    ## True Parameters

    ``g = 60.0``, ``m = 1.0`` (only ``g m^2`` is identifiable); constructor arguments.
    """

    name = "gravity"
    image_size = 36
    n_objects = 3
    dt = 0.5
    substeps = 10
    max_episode_steps = 50
    radius = 2.0
    margin = 2.0
    goal_margin = 4.0
    max_accel = 5.0 * 36 / 32
    pushed = (0, 1, 2)
    reject_wall_contact = True
    goal_min_separation = 8.0
    start_radius = (8.0, 10.0)

    def __init__(
        self,
        actuated: bool = True,
        render_mode: str | None = None,
        g: float = 60.0,
        m: float = 1.0,
        softening: float | None = None,
        max_accel: float | None = None,
    ):
        for key, value in (("g", g), ("m", m)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a positive number; got {value!r}")
        self.g, self.m = float(g), float(m)
        if softening is None:
            softening = 1.0 if actuated else 0.0
        if not (np.isfinite(softening) and softening >= 0):
            raise ValueError(f"softening must be a number >= 0; got {softening!r}")
        self.softening = float(softening)
        super().__init__(actuated=actuated, render_mode=render_mode, max_accel=max_accel)

    @property
    def params(self) -> dict[str, float]:
        return {"g": self.g, "m": self.m}

    def accel(self, pos: Array, paper: bool = False) -> Array:
        eps = 0.0 if paper else self.softening
        return physics.gravity_accel(pos, self.g, self.m, eps)

    def _render_float(self, states: Array) -> Array:
        return render_balls(states[..., :2], self.radius, self.image_size, self.colours)

    def sample_states(self, rng: np.random.Generator | int | None, n: int) -> Array:
        rng = as_generator(rng)
        k = self.n_objects
        radius = rng.uniform(*self.start_radius, (n, 1))
        phi0 = rng.uniform(0.0, 2.0 * np.pi, (n, 1))
        phi = phi0 + 2.0 * np.pi * np.arange(k) / k + rng.normal(0.0, 0.05, (n, k))
        r = radius + rng.normal(0.0, 0.2, (n, k))
        centre = self.image_size / 2.0
        radial = np.stack([np.cos(phi), np.sin(phi)], axis=-1)  # (n, k, 2)
        tangent = np.stack([-np.sin(phi), np.cos(phi)], axis=-1)
        pos = centre + r[..., None] * radial
        speed = np.sqrt(self.g * self.m**2 / (np.sqrt(3.0) * radius))  # (n, 1)
        speed = speed * rng.uniform(0.95, 1.05, (n, 1))
        sense = rng.choice([-1.0, 1.0], size=(n, 1, 1))
        vel = sense * speed[..., None] * tangent + rng.normal(0.0, 0.05, (n, k, 2))
        vel -= vel.mean(axis=1, keepdims=True)
        return np.concatenate([pos, vel], axis=-1)

    def _reject(self, seq: Array, hit: Array) -> Array:
        pos = seq[..., :2]
        diff = pos[..., :, None, :] - pos[..., None, :, :]
        dist = np.sqrt(np.sum(diff * diff, axis=-1))
        iu = np.triu_indices(self.n_objects, 1)
        close = (dist[..., iu[0], iu[1]] < self.radius + 1.0).any(axis=(-2, -1))
        return hit | close

    def sample_goals(self, rng: np.random.Generator | int | None, n: int) -> Array:
        rng = as_generator(rng)
        lo, hi = self.goal_margin, self.image_size - self.goal_margin
        out = np.empty((0, self.n_objects, 2))
        iu = np.triu_indices(self.n_objects, 1)
        while out.shape[0] < n:
            pos = rng.uniform(lo, hi, (max(2 * (n - out.shape[0]), 16), self.n_objects, 2))
            diff = pos[:, :, None, :] - pos[:, None, :, :]
            dist = np.sqrt(np.sum(diff * diff, axis=-1))[:, iu[0], iu[1]]
            out = np.concatenate([out, pos[(dist >= self.goal_min_separation).all(axis=-1)]])
        goals = np.zeros((n,) + self.state_shape)
        goals[..., :2] = out[:n]
        return goals
