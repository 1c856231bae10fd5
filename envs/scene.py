"""The shared Gymnasium base of every scene: reset/step, options, info, validation, goals.

A scene is a :class:`gymnasium.Env` whose observation is an RGB image and whose true state,
physics and renderer are also offered as vectorised NumPy methods (docs/api-envs.md). Concrete
scenes implement the few abstract methods listed on :class:`Scene`; ball scenes share
:class:`BallScene`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import physics
from .render import BALL_COLOURS, to_uint8

Array = np.ndarray

#: Slack allowed on the action bounds before an action counts as out of range.
ACTION_SLACK = 1e-6


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Accept a NumPy Generator, an integer seed or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def as_finite_array(value: Any, what: str, shapes: tuple[tuple[int, ...], ...]) -> Array:
    """Convert to a finite float64 array of one of the allowed shapes, or raise ValueError."""
    expected = " or ".join(str(s) for s in shapes)
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} must be a numeric array of shape {expected}; got {value!r}"
        ) from exc
    if arr.shape not in shapes:
        raise ValueError(f"{what} must have shape {expected}; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} must be finite (no NaN or inf); got {arr.tolist()}")
    return arr


class Scene(gym.Env):
    """Base of the PIG scenes (see docs/api-envs.md for the NumPy interface).

    Subclasses set the class attributes below and implement :meth:`render_states`,
    :meth:`positions`, :meth:`step_states`, :meth:`sample_states`, :meth:`sample_sequences`,
    :meth:`sample_goals`, :meth:`goal_distance`, :meth:`is_success`, :meth:`_parse_goal`
    and :attr:`params`.

    Episodes never terminate (``terminated`` is always False): the registered ids end them by
    truncation after :attr:`max_episode_steps`, so holding the goal is part of the task.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    name: str = ""
    image_size: int = 32
    n_objects: int = 1
    state_shape: tuple[int, ...] = ()
    action_dim: int = 1
    dt: float = 1.0
    substeps: int = 10
    max_episode_steps: int = 50

    def __init__(self, actuated: bool = True, render_mode: str | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}; "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.actuated = bool(actuated)
        size = self.image_size
        self.observation_space = spaces.Box(0, 255, (size, size, 3), dtype=np.uint8)
        self.action_space = spaces.Box(-1.0, 1.0, (self.action_dim,), dtype=np.float32)
        self.state: Array | None = None
        self.goal: Array | None = None

    # ------------------------------------------------------------------ abstract interface
    @property
    def params(self) -> dict[str, float]:
        """True physical parameters (a fresh dict)."""
        raise NotImplementedError

    def render_states(self, states: Array, dtype: Any = np.uint8) -> Array:
        """Render states ``(..., *state_shape)`` to images ``(..., H, W, 3)``.

        ``dtype=np.uint8`` (default) gives observations in ``[0, 255]``; a float dtype gives
        the anti-aliased image in ``[0, 1]`` before quantisation.
        """
        img = self._render_float(np.asarray(states, dtype=np.float64))
        if np.dtype(dtype) == np.uint8:
            return to_uint8(img)
        return img.astype(dtype, copy=False)

    def _render_float(self, states: Array) -> Array:
        raise NotImplementedError

    def positions(self, states: Array) -> Array:
        """Object positions ``(..., n_objects, 2)`` in pixels (x = column, y = row)."""
        raise NotImplementedError

    def step_states(self, states: Array, actions: Array | None = None) -> Array:
        """One frame of true physics, vectorised: ``(..., *S), (..., d) -> (..., *S)``.

        Actions are clipped to ``[-1, 1]``; they are ignored when the scene is unactuated
        (None means zero action).
        """
        raise NotImplementedError

    def sample_states(self, rng: np.random.Generator | int | None, n: int) -> Array:
        raise NotImplementedError

    def sample_sequences(self, rng: np.random.Generator | int | None, n: int, T: int) -> Array:
        raise NotImplementedError

    def sample_goals(self, rng: np.random.Generator | int | None, n: int) -> Array:
        raise NotImplementedError

    def goal_distance(self, states: Array, goals: Array) -> Array:
        raise NotImplementedError

    def is_success(self, states: Array, goals: Array) -> Array:
        raise NotImplementedError

    def _parse_goal(self, goal: Any) -> Array:
        raise NotImplementedError

    def _reward(self, prev_state: Array, action: Array, state: Array) -> float:
        """Reward of one step (default: minus the goal distance after the step)."""
        return -float(self.goal_distance(state, self.goal))

    # ------------------------------------------------------------------ vectorised rollouts
    def simulate(self, states: Array, actions: Array) -> Array:
        """Roll the true physics out: ``(B, *S), (B, T, d) -> (B, T + 1, *S)``.

        Index 0 of the time axis is the start state. Actions are clipped to ``[-1, 1]`` and are
        ignored when the scene is unactuated.
        """
        states = np.asarray(states, dtype=np.float64)
        actions = np.asarray(actions, dtype=np.float64)
        if states.shape[1:] != self.state_shape or states.ndim != 1 + len(self.state_shape):
            raise ValueError(
                f"states must have shape (B, {', '.join(map(str, self.state_shape))}); "
                f"got shape {states.shape}"
            )
        if (
            actions.ndim != 3
            or actions.shape[0] != states.shape[0]
            or (actions.shape[2] != self.action_dim)
        ):
            raise ValueError(
                f"actions must have shape (B={states.shape[0]}, T, {self.action_dim}); "
                f"got shape {actions.shape}"
            )
        out = np.empty((states.shape[0], actions.shape[1] + 1) + self.state_shape)
        out[:, 0] = states
        for t in range(actions.shape[1]):
            states = self.step_states(states, actions[:, t])
            out[:, t + 1] = states
        return out

    # ------------------------------------------------------------------ Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Array, dict[str, Any]]:
        """Start an episode.

        Args:
            seed: seeds the scene's generator (Gymnasium convention).
            options: optional ``{"state": s, "goal": g}``: ``s`` of shape ``state_shape``
                replaces the random start state; ``g`` replaces the random goal (accepted
                shapes: see the class docstring).
        """
        super().reset(seed=seed)
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise ValueError(f"options must be a dict or None; got {type(options).__name__}")
        unknown = sorted(set(options) - {"state", "goal"})
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; expected 'state' and/or 'goal'")
        if options.get("state") is not None:
            state = as_finite_array(options["state"], 'options["state"]', (self.state_shape,))
        else:
            state = self.sample_states(self.np_random, 1)[0]
        if options.get("goal") is not None:
            goal = self._parse_goal(options["goal"])
        else:
            goal = self.sample_goals(self.np_random, 1)[0]
        self.state = state
        self.goal = goal
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[Array, float, bool, bool, dict[str, Any]]:
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        action = self.validate_action(action)
        prev = self.state
        self.state = self.step_states(prev, action)
        reward = self._reward(prev, action, self.state)
        return self._observation(), reward, False, False, self._info()

    def render(self) -> Array | None:
        """The current frame as uint8 ``(H, W, 3)`` (``render_mode="rgb_array"``)."""
        if self.state is None:
            raise RuntimeError("call reset() before render()")
        return self.render_states(self.state)

    # ------------------------------------------------------------------ helpers
    def validate_action(self, action: Any) -> Array:
        """Check one action: shape ``(d,)``, finite, within ``[-1, 1]`` (slack 1e-6)."""
        d = self.action_dim
        try:
            arr = np.array(action, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"action must be a numeric array of shape ({d},) in [-1, 1]; got {action!r}"
            ) from exc
        if arr.shape != (d,):
            raise ValueError(
                f"action must have shape ({d},) with values in [-1, 1]; got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"action must be finite (no NaN or inf); got {arr.tolist()}")
        if np.any(np.abs(arr) > 1.0 + ACTION_SLACK):
            raise ValueError(f"action values must lie in [-1, 1]; got {arr.tolist()}")
        return np.clip(arr, -1.0, 1.0)

    def _observation(self) -> Array:
        return self.render_states(self.state)

    def _info(self) -> dict[str, Any]:
        return {
            "state": self.state.copy(),
            "goal": self.goal.copy(),
            "is_success": bool(self.is_success(self.state, self.goal)),
        }


class BallScene(Scene):
    """Base of the scenes whose state is ``(n_objects, 4)`` = x, y, vx, vy per object.

    Subclasses set the geometry and physics class attributes and implement
    :meth:`accel` (the paper's law) and :meth:`_render_float`.

    Attributes:
        radius: ball radius in pixels (the visual size).
        margin: wall distance in pixels: a coordinate must stay in ``[margin, size - margin]``;
            beyond it the walls reflect the object elastically.
        goal_margin: goals keep this distance (pixels) from the image border.
        max_accel: acceleration (pixels per time unit^2) of a pushed object at action 1.
        pushed: indices of the objects the action pushes, two action entries (ax, ay) each.
        success_pos_tol: success needs every object within this many pixels of its goal.
        success_speed_tol: ... and every speed (relative to the goal velocity, which is 0 for
            drawn goals) below this many pixels per time unit.
        colours: ``(n_objects, 3)`` RGB colour of each object in ``[0, 1]``.
    """

    radius: float = 2.0
    margin: float = 2.0
    goal_margin: float = 4.0
    max_accel: float = 5.0
    pushed: tuple[int, ...] = ()
    success_pos_tol: float = 1.0
    success_speed_tol: float = 1.0
    #: Sequences for datasets are rejected if a ball touches a wall (spring, gravity).
    reject_wall_contact: bool = False

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        cls.state_shape = (cls.n_objects, 4)
        cls.action_dim = 2 * len(cls.pushed)
        if "colours" not in cls.__dict__:
            cls.colours = BALL_COLOURS[: cls.n_objects]

    def __init__(
        self, actuated: bool = True, render_mode: str | None = None, max_accel: float | None = None
    ):
        if max_accel is not None:
            if not (np.isfinite(max_accel) and max_accel > 0):
                raise ValueError(f"max_accel must be a positive number; got {max_accel!r}")
            self.max_accel = float(max_accel)
        super().__init__(actuated=actuated, render_mode=render_mode)

    # physics ---------------------------------------------------------------
    @property
    def walls(self) -> tuple[float, float]:
        """``(lo, hi)``: the box every coordinate stays in (pixels)."""
        return (float(self.margin), float(self.image_size - self.margin))

    def accel(self, pos: Array, paper: bool = False) -> Array:
        """Acceleration field ``(..., n, 2) -> (..., n, 2)`` of the scene's law.

        ``paper=True`` forces the paper's exact law (no actuated-form modifications).
        """
        raise NotImplementedError

    def _push(self, actions: Array, batch_shape: tuple[int, ...]) -> Array | None:
        if not self.actuated or actions is None or not self.pushed:
            return None
        a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
        a = np.broadcast_to(a, batch_shape + (self.action_dim,))
        push = np.zeros(batch_shape + (self.n_objects, 2))
        push[..., list(self.pushed), :] = self.max_accel * a.reshape(
            batch_shape + (len(self.pushed), 2)
        )
        return push

    def _frame(self, states: Array, actions: Array | None, paper: bool) -> tuple[Array, Array]:
        states = np.asarray(states, dtype=np.float64)
        batch = states.shape[:-2]
        push = None if paper else self._push(actions, batch)
        pos, vel, hit = physics.euler_frame(
            states[..., :2],
            states[..., 2:],
            lambda p: self.accel(p, paper=paper),
            self.dt,
            self.substeps,
            push=push,
            walls=self.walls,
        )
        return np.concatenate([pos, vel], axis=-1), hit

    def step_states(self, states: Array, actions: Array | None = None) -> Array:
        return self._frame(states, actions, paper=False)[0]

    # datasets --------------------------------------------------------------
    def _reject(self, seq: Array, hit: Array) -> Array:
        """Per-sequence rejection mask for datasets: ``seq (B, T, n, 4), hit (B,) -> (B,)``."""
        if self.reject_wall_contact:
            return hit
        return np.zeros(seq.shape[0], dtype=bool)

    def sample_sequences(self, rng: np.random.Generator | int | None, n: int, T: int) -> Array:
        """Unactuated sequences ``(n, T, n_objects, 4)`` as the paper's generators drew them.

        Start states come from :meth:`sample_states`; the paper's exact dynamics run for
        ``T - 1`` frames; rejected sequences (see the class docstring) are redrawn. Works in
        batches: simulate many, keep the good ones, repeat.
        """
        rng = as_generator(rng)
        n, T = int(n), int(T)
        if n < 0 or T < 1:
            raise ValueError(f"need n >= 0 and T >= 1; got n={n}, T={T}")
        kept: list[Array] = []
        have, rate = 0, 0.5
        for _ in range(200):
            if have >= n:
                break
            batch = int(min(max(64, 1.3 * (n - have) / max(rate, 0.02)), 50_000))
            states = self.sample_states(rng, batch)
            seq = np.empty((batch, T) + self.state_shape)
            seq[:, 0] = states
            hit = np.zeros(batch, dtype=bool)
            for t in range(1, T):
                states, h = self._frame(states, None, paper=True)
                seq[:, t] = states
                hit |= h
            good = ~self._reject(seq, hit)
            rate = max(good.mean(), 1e-3)
            kept.append(seq[good][: n - have])
            have += kept[-1].shape[0]
        if have < n:
            raise RuntimeError(f"{self.name}: rejection sampling kept only {have} of {n} sequences")
        return np.concatenate(kept, axis=0) if kept else np.empty((0, T) + self.state_shape)

    # goals -----------------------------------------------------------------
    def sample_goals(self, rng: np.random.Generator | int | None, n: int) -> Array:
        """Goals: positions uniform in ``[goal_margin, size - goal_margin]``, velocities 0."""
        rng = as_generator(rng)
        lo, hi = self.goal_margin, self.image_size - self.goal_margin
        goals = np.zeros((n,) + self.state_shape)
        goals[..., :2] = rng.uniform(lo, hi, (n, self.n_objects, 2))
        return goals

    def _parse_goal(self, goal: Any) -> Array:
        n = self.n_objects
        arr = as_finite_array(goal, 'options["goal"]', ((n, 4), (n, 2)))
        if arr.shape == (n, 2):
            arr = np.concatenate([arr, np.zeros((n, 2))], axis=-1)
        return arr

    def positions(self, states: Array) -> Array:
        return np.asarray(states)[..., :2]

    def goal_distance(self, states: Array, goals: Array) -> Array:
        """Mean over objects of the Euclidean position error (pixels): ``(...)``."""
        err = np.asarray(states)[..., :2] - np.asarray(goals)[..., :2]
        return np.sqrt(np.sum(err * err, axis=-1)).mean(axis=-1)

    def is_success(self, states: Array, goals: Array) -> Array:
        """Every object within ``success_pos_tol`` px of its goal and slower than
        ``success_speed_tol`` px per time unit (relative to the goal velocity)."""
        diff = np.asarray(states) - np.asarray(goals)
        dist = np.sqrt(np.sum(diff[..., :2] ** 2, axis=-1))
        speed = np.sqrt(np.sum(diff[..., 2:] ** 2, axis=-1))
        ok = (dist <= self.success_pos_tol) & (speed < self.success_speed_tol)
        return ok.all(axis=-1)
