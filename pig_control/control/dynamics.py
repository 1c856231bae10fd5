"""Planner dynamics from a system (the physics cell), over one packed state tensor.

Planners (``agents``) want ``dynamics(state (B, *S), action (B, d)) -> (B, *S)`` on a single
tensor, while the model's latent state is the pair (positions (B, n, 2), velocities (B, n, 2)),
pixels and pixels per time unit. :class:`CellDynamics` packs the pair as ``(B, n, 4)`` =
x, y, vx, vy per object (the ball scenes' own state layout), so one cost and one planner serve
the learned model and the oracle alike.

A planner calls the dynamics thousands of times per control step on tiny tensors, where the
Python and dispatch overhead of every torch operation dominates. For the spring and free systems
:class:`CellDynamics` therefore runs a lean copy of :meth:`System.forward` (the same explicit
Euler substeps and elastic walls, parameters read once as plain floats, the action scattered
with one matrix product, TorchScript): about ten times faster than calling the cell. Its
:meth:`CellDynamics.rollout` runs a whole horizon in one such call (the planners' rollouts use
it). The pendulum's cell runs as compiled loops too (:mod:`pig_control.control.kernels`) when
no gradient is wanted; gravity's cell is called as it is. tests/test_mpc.py checks that both
paths agree with the cell and with the true simulator.

The parameters are read when the object is built: build a new one after editing the cell
(``set_param``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor

from pig_control.control import kernels
from pig_control.systems import System
from pig_control.systems.balls import Balls, FreeBalls, SpringBalls
from pig_control.systems.pendulum import Pendulum


class CellDynamics:
    """``dynamics(state (B, n, 4), action (B, d)) -> (B, n, 4)`` for a :class:`System`.

    The lean path (spring and free cells) keeps positions and velocities coordinate-major,
    ``P, V`` of shape (2n, B) (rows x0, y0, x1, y1, ...), so every operation of a substep runs on
    contiguous memory: for the spring, ``D = P - roll(P)`` holds ``d = p0 - p1`` and ``-d``,
    ``a = D (2 k l / |d| - k) + push``, ``V += h a``, ``P += h V``: about ten operations per
    substep instead of about thirty. Walls: every substep mirrors a coordinate that left
    ``[margin, size - margin]`` at the wall it crossed (``2 clamp(p) - p``) and flips its
    velocity, three operations; the system's reflection, written for one crossing per substep
    (checking first and redoing a frame only on contact was slower: the planners' batches of
    random sequences touch a wall in most frames). The cell's arithmetic in another order
    (agreement to float rounding is tested). On the CPU, when no gradient is wanted (every
    planner but ``grad``), the same integrator runs as compiled loops instead
    (:mod:`pig_control.control.kernels`, numba, float64).

    Args:
        cell: the system (learned, or built with the true values by
            :func:`pig_control.systems.scenes.oracle_system`).
        lean: use the lean integrator where one exists (spring, free, pendulum); False always
            calls the system itself (reference path, used by the tests).
        device, dtype: where and in which precision the planner's tensors live.
    """

    def __init__(self, cell: System, lean: bool = True, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32):
        self.cell = cell
        n = self.n_objects = cell.n_objects
        self.action_dim = cell.action_dim
        self.lean = lean and (type(cell) is FreeBalls or (type(cell) is SpringBalls and n == 2))
        self.spring = type(cell) is SpringBalls
        self.substeps = cell.substeps
        self.h = cell.dt / cell.substeps
        self.walls = bool(getattr(cell, "walls", False))
        camera = cell.camera
        self.low, self.high = camera.get("wall_low", 0.0), camera.get("wall_high", 0.0)
        params = cell.params
        self.k = params.get("k", 0.0)
        self.two_kl = 2.0 * params.get("k", 0.0) * params.get("l", 0.0)
        # action (B, d) @ push (d, 2n) -> acceleration of every coordinate, px / time^2
        push = torch.zeros(max(self.action_dim, 1), 2 * n, dtype=torch.float64)
        if self.action_dim and isinstance(cell, Balls):
            gains = cell.push_matrix().detach().double()  # (n, d / 2)
            for obj in range(n):
                for j in range(self.action_dim // 2):
                    push[2 * j, 2 * obj] = push[2 * j + 1, 2 * obj + 1] = gains[obj, j]
        self.push = push.to(device=device, dtype=dtype)
        self.pendulum = None  # the pendulum's constants for its compiled loops
        if lean and type(cell) is Pendulum:
            gain = math.exp(float(cell.log_gain.detach())) if cell.log_gain is not None else 0.0
            g, m, l = params["g"], params["m"], params["l"]
            self.pendulum = (cell.substeps, self.h, 3.0 * g / (2.0 * l), params["damping"],
                             3.0 * gain / (m * l * l),
                             np.array([camera[k] for k in cell.camera_names]))

    def __call__(self, state: Tensor, action: Tensor | None) -> Tensor:
        if self._compiled_pendulum(state, action):
            return self._pendulum(state, None if action is None else action.unsqueeze(1))[:, 0]
        if not self.lean:
            pos, vel = self.cell(state[..., :2], state[..., 2:], action)
            return torch.cat([pos, vel], -1)
        return self._lean(state, None if action is None else action.unsqueeze(1))[:, 0]

    def rollout(self, state: Tensor, actions: Tensor) -> Tensor:
        """States (B, H, n, 4) after each of the action sequences (B, H, d) from ``state``
        ((B, n, 4) or (1, n, 4), broadcast): the contract of :func:`agents.base.rollout`,
        which calls this method when it exists. The lean path runs the whole horizon in one
        call, no Python between the frames (see :meth:`_lean`)."""
        if self.lean:
            return self._lean(state, actions)
        if self._compiled_pendulum(state, actions):
            return self._pendulum(state, actions)
        state = state.expand(actions.shape[0], *state.shape[1:])  # the cell does not broadcast
        states = []
        for t in range(actions.shape[1]):
            state = self(state, actions[:, t])
            states.append(state)
        return torch.stack(states, dim=1)

    def _compiled_pendulum(self, state: Tensor, actions: Tensor | None) -> bool:
        """Whether the pendulum's compiled loops apply: a pendulum, on the CPU, no gradient."""
        return (self.pendulum is not None and kernels.pendulum_rollout is not None
                and state.device.type == "cpu" and not _wants_grad(state, actions))

    def _pendulum(self, state: Tensor, actions: Tensor | None) -> Tensor:
        if actions is None:
            actions = state.new_zeros(state.shape[0], 1, 0)
        return _call_kernel(kernels.pendulum_rollout, *_same_batch(state, actions),
                            *self.pendulum)

    def _lean(self, state: Tensor, actions: Tensor | None) -> Tensor:
        """The lean integrator over action sequences (B, H, d) (None: one frame, no action):
        compiled loops (:mod:`pig_control.control.kernels`) on the CPU when no gradient is
        wanted, else TorchScript."""
        if self.action_dim and actions is not None:
            accel = actions @ self.push
        else:
            accel = state.new_zeros(state.shape[0], 1, 2 * self.n_objects)
        state, accel = _same_batch(state, accel)
        args = (self.substeps, self.h, self.two_kl, self.k, self.spring, self.walls, self.low,
                self.high)
        if kernels.rollout is not None and state.device.type == "cpu" \
                and not _wants_grad(state, accel):
            return _call_kernel(kernels.rollout, state, accel, *args)
        return _lean_rollout(state, accel, *args)


def _wants_grad(state: Tensor, actions: Tensor | None) -> bool:
    return torch.is_grad_enabled() and (state.requires_grad or
                                        (actions is not None and actions.requires_grad))


def _same_batch(state: Tensor, per_frame: Tensor) -> tuple[Tensor, Tensor]:
    """One state for many sequences (B, H, k) or one sequence for many states, broadcast as
    torch does: the integrators index both by row and must see equal batches."""
    batch = torch.broadcast_shapes(state.shape[:1], per_frame.shape[:1])[0]
    return state.expand(batch, *state.shape[1:]), per_frame.expand(batch, *per_frame.shape[1:])


def _call_kernel(kernel, state: Tensor, per_frame: Tensor, *args) -> Tensor:
    """Run a compiled kernel of :mod:`pig_control.control.kernels` on NumPy views of CPU
    tensors."""
    return torch.from_numpy(kernel(state.detach().contiguous().numpy(),
                                   per_frame.detach().contiguous().numpy(), *args))


def _lean_rollout(state: Tensor, accel: Tensor, substeps: int, h: float, two_kl: float,
                  k: float, spring: bool, walls: bool, low: float, high: float) -> Tensor:
    """Frames of the lean integrator (see :class:`CellDynamics`), TorchScript: the interpreter
    halves the per-operation overhead that dominates on these tiny tensors.

    state (B, n, 4) packed pixels; accel (B, H, 2n) the action's acceleration of every frame,
    px / time^2. Returns the state after every frame, (B, H, n, 4).
    """
    batch, n, horizon = state.shape[0], state.shape[1], accel.shape[1]
    p = state[:, :, :2].reshape(batch, 2 * n).t().contiguous()  # (2n, B): x0, y0, x1, ...
    v = state[:, :, 2:].reshape(batch, 2 * n).t().contiguous()
    hpushes = (accel * h).permute(1, 2, 0).contiguous()  # (H, 2n, B)
    positions: list[Tensor] = []
    velocities: list[Tensor] = []
    for frame in range(horizon):
        hpush = hpushes[frame]
        for _ in range(substeps):
            if spring:
                d = p - p.roll(2, 0)  # rows: d = p0 - p1, then -d
                inv = torch.hypot(d[0], d[1]).clamp_min(1e-6).reciprocal()
                # a = d (2 k l / |d| - k): the cell's force on ball 0, its opposite on ball 1
                v = torch.addcmul(v, d, inv, value=h * two_kl)
                v = torch.add(v, d, alpha=-h * k)
            v = v + hpush
            p = torch.add(p, v, alpha=h)
            if walls:  # the cell's elastic reflection: mirror at the wall crossed, flip v
                inside = p.clamp(low, high)
                v = torch.where(inside == p, v, -v)
                p = torch.add(inside, inside - p)
        positions.append(p)
        velocities.append(v)
    pos = torch.stack(positions).permute(2, 0, 1).reshape(batch, horizon, n, 2)
    vel = torch.stack(velocities).permute(2, 0, 1).reshape(batch, horizon, n, 2)
    return torch.cat([pos, vel], -1)


try:  # TorchScript halves the per-operation overhead; deprecated in recent torch, so optional
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _lean_rollout = torch.jit.script(_lean_rollout)
except Exception:  # noqa: BLE001 - any scripting failure: the eager function is equivalent
    pass


def latent_state(scene, states: np.ndarray) -> np.ndarray:
    """True scene states -> the packed pixel state (..., n, 4) the planner works on.

    Ball scenes: the state itself (x, y, vx, vy). Pendulum ``(..., 2)`` = theta, theta_dot:
    the bob's position and velocity in pixels, ``(..., 1, 4)``.
    """
    states = np.asarray(states, dtype=np.float64)
    if scene.name != "pendulum":
        return states
    theta, theta_dot = states[..., 0], states[..., 1]
    r = scene.rod_length
    cx, cy = scene.pivot
    s, c = np.sin(theta), np.cos(theta)
    packed = np.stack([cx - r * s, cy - r * c, -r * c * theta_dot, r * s * theta_dot], -1)
    return packed[..., None, :]
