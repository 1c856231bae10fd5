"""Gymnasium's Pendulum-v1, observed only as 32 x 32 RGB images."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import physics
from .render import disc_coverage, segment_coverage
from .scene import Array, Scene, as_finite_array, as_generator


class Pendulum(Scene):
    """Swing-up and balance of Gymnasium's Pendulum-v1, seen only through images.

    ## Description

    The dynamics, limits and reward of Gymnasium's ``Pendulum-v1``: ``theta = 0`` is upright,
    ``theta_ddot = 3 g / (2 l) sin(theta) + 3 / (m l^2) u``, ``g = 10``, ``m = 1``, ``l = 1``,
    ``dt = 0.05`` s, one semi-implicit Euler step per frame (``substeps = 1``): the angular
    velocity is updated first and clipped to ``[-8, 8]`` rad/s, then the angle (identical to
    Gymnasium's update; theta is not wrapped, as in Gymnasium).

    ## Observation Space

    ``Box(0, 255, (32, 32, 3), uint8)``: the pivot at ``(pivot_x, pivot_y)`` pixels (default:
    the image centre, (16, 16)), an anti-aliased grey rod of width 1.5 px and length
    ``rod_length = 12`` px, and a red bob of radius 3 px at its end, on black (parts beyond the
    border are cut off). The bob is at ``x = pivot_x - 12 sin(theta)``,
    ``y = pivot_y - 12 cos(theta)`` (pixels; positive theta turns counter-clockwise on screen,
    as Gymnasium draws it).

    ## Action Space

    ``Box(-1, 1, (1,), float32)``: the torque ``u = 2 * action`` (max torque 2).
    ``actuated=False`` ignores it (free swing).

    ## State (``info["state"]``)

    ``(2,)`` float: ``theta`` (rad), ``theta_dot`` (rad per time unit = per second).

    ## Reward

    Gymnasium's: ``-(angle_normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2)``, computed
    from the state *before* the step (as Gymnasium does) and measured from the goal state
    (default ``(0, 0)``, which gives Gymnasium's reward exactly). :meth:`goal_distance` is the
    state part, ``angle_normalize(theta - theta_goal)^2 + 0.1 (theta_dot - theta_dot_goal)^2``.

    ## Starting State

    ``theta ~ U[-pi, pi]``, ``theta_dot ~ U[-1, 1]``.

    ## Goal and Success

    The goal is upright at rest, ``(0, 0)`` (``options["goal"]`` accepts any ``(2,)`` state).
    ``info["is_success"]`` when ``|angle_normalize(theta - theta_goal)| < 0.3`` rad and
    ``|theta_dot - theta_dot_goal| < 1.5`` rad/s (class attributes ``success_angle_tol``,
    ``success_speed_tol``).

    ## Episode End

    Never terminates; truncated after 200 steps (``PIG/Pendulum-v0``).

    ## True Parameters

    ``g = 10.0``, ``m = 1.0``, ``l = 1.0`` (constructor arguments). The camera's view:
    ``pivot_x``, ``pivot_y`` (pixels, constructor arguments; an off-centre pivot tests that a
    world model learns it).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    name = "pendulum"
    image_size = 32
    n_objects = 1
    state_shape = (2,)
    action_dim = 1
    dt = 0.05
    substeps = 1
    max_episode_steps = 200
    max_speed = 8.0
    max_torque = 2.0
    rod_length = 12.0
    rod_width = 1.5
    bob_radius = 3.0
    rod_colour = np.array([0.6, 0.6, 0.6], dtype=np.float32)
    bob_colour = np.array([1.0, 0.15, 0.15], dtype=np.float32)
    success_angle_tol = 0.3
    success_speed_tol = 1.5

    def __init__(
        self,
        actuated: bool = True,
        render_mode: str | None = None,
        g: float = 10.0,
        m: float = 1.0,
        l: float = 1.0,
        pivot_x: float | None = None,
        pivot_y: float | None = None,
    ):
        for key, value in (("g", g), ("m", m), ("l", l)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a positive number; got {value!r}")
        self.g, self.m, self.l = float(g), float(m), float(l)
        centre = self.image_size / 2.0
        pivot = (centre if pivot_x is None else pivot_x, centre if pivot_y is None else pivot_y)
        for key, value in zip(("pivot_x", "pivot_y"), pivot, strict=True):
            if not (np.isfinite(value) and 0 <= value <= self.image_size):
                raise ValueError(f"{key} must be a pixel inside the image (0 to "
                                 f"{self.image_size}); got {value!r}")
        self._pivot = (float(pivot[0]), float(pivot[1]))
        super().__init__(actuated=actuated, render_mode=render_mode)

    @property
    def params(self) -> dict[str, float]:
        return {"g": self.g, "m": self.m, "l": self.l}

    @property
    def pivot(self) -> tuple[float, float]:
        """Pivot position ``(x, y)`` in pixels."""
        return self._pivot

    # physics ---------------------------------------------------------------
    def torque(self, actions: Array | None) -> Array | float:
        """Torque applied for actions in ``[-1, 1]`` (0 when unactuated)."""
        if not self.actuated or actions is None:
            return 0.0
        return self.max_torque * np.clip(np.asarray(actions, dtype=np.float64)[..., 0], -1, 1)

    def step_states(self, states: Array, actions: Array | None = None) -> Array:
        states = np.asarray(states, dtype=np.float64)
        theta, theta_dot = physics.pendulum_frame(
            states[..., 0],
            states[..., 1],
            self.torque(actions),
            self.g,
            self.m,
            self.l,
            self.dt,
            self.max_speed,
            self.substeps,
        )
        return np.stack([theta, theta_dot], axis=-1)

    # rendering ---------------------------------------------------------------
    def positions(self, states: Array) -> Array:
        theta = np.asarray(states, dtype=np.float64)[..., 0]
        cx, cy = self.pivot
        bob = np.stack(
            [cx - self.rod_length * np.sin(theta), cy - self.rod_length * np.cos(theta)], axis=-1
        )
        return bob[..., None, :]

    def _render_float(self, states: Array) -> Array:
        bob = self.positions(states)  # (..., 1, 2)
        pivot = np.broadcast_to(np.asarray(self.pivot), bob.shape[:-2] + (2,))
        rod = segment_coverage(pivot, bob[..., 0, :], self.rod_width, self.image_size)
        disc = disc_coverage(bob, self.bob_radius, self.image_size)[..., 0, :, :]
        img = rod[..., None] * self.rod_colour
        alpha = disc[..., None]
        return img * (1.0 - alpha) + alpha * self.bob_colour

    # distributions -------------------------------------------------------------
    def sample_states(self, rng: np.random.Generator | int | None, n: int) -> Array:
        rng = as_generator(rng)
        theta = rng.uniform(-np.pi, np.pi, n)
        theta_dot = rng.uniform(-1.0, 1.0, n)
        return np.stack([theta, theta_dot], axis=-1)

    def sample_sequences(self, rng: np.random.Generator | int | None, n: int, T: int) -> Array:
        """Unactuated (free-swing) sequences ``(n, T, 2)`` from :meth:`sample_states`."""
        states = self.sample_states(rng, n)
        seq = np.empty((n, T, 2))
        seq[:, 0] = states
        for t in range(1, T):
            theta, theta_dot = physics.pendulum_frame(
                seq[:, t - 1, 0],
                seq[:, t - 1, 1],
                0.0,
                self.g,
                self.m,
                self.l,
                self.dt,
                self.max_speed,
                self.substeps,
            )
            seq[:, t, 0], seq[:, t, 1] = theta, theta_dot
        return seq

    def sample_goals(self, rng: np.random.Generator | int | None, n: int) -> Array:
        """Always upright at rest: ``(n, 2)`` zeros."""
        return np.zeros((n, 2))

    def _parse_goal(self, goal: Any) -> Array:
        return as_finite_array(goal, 'options["goal"]', ((2,),))

    # task ---------------------------------------------------------------------
    def goal_distance(self, states: Array, goals: Array) -> Array:
        """Gymnasium's state cost from the goal.

        ``angle_normalize(theta - theta_goal)^2 + 0.1 (theta_dot - theta_dot_goal)^2``.
        """
        diff = np.asarray(states, dtype=np.float64) - np.asarray(goals, dtype=np.float64)
        return physics.angle_normalize(diff[..., 0]) ** 2 + 0.1 * diff[..., 1] ** 2

    def is_success(self, states: Array, goals: Array) -> Array:
        diff = np.asarray(states, dtype=np.float64) - np.asarray(goals, dtype=np.float64)
        return (np.abs(physics.angle_normalize(diff[..., 0])) < self.success_angle_tol) & (
            np.abs(diff[..., 1]) < self.success_speed_tol
        )

    def _reward(self, prev_state: Array, action: Array, state: Array) -> float:
        u = self.torque(action)
        return -float(self.goal_distance(prev_state, self.goal) + 0.001 * u * u)
