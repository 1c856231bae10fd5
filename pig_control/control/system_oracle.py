"""Planning in a described system's own coordinates from a true state: the oracle of envs that
are not ours (e.g. the DMC oracle row: the true MuJoCo state through the described system with
the env's true parameters).

The planners' state is ``(B, 2 nq)`` = the coordinates ``q`` then their rates ``qd`` (the
system's units, e.g. radians and metres, per second); one planner step is one control step
(the action held over ``system.dt``, integrated with the system's substeps). The cost is the
system's task cost written once in :meth:`System.residuals` and
:meth:`System.action_residuals`, so cost and residuals cannot disagree, and it exposes
``residuals`` for the Gauss-Newton planner.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import Tensor

from agents import make_planner
from pig_control.systems.cost import ResidualCost, check_weights


class CoordinateDynamics:
    """``dynamics(state (B, 2 nq), action (B, d)) -> (B, 2 nq)``: one control step of
    ``system`` in its coordinates, with its parameters and camera frozen (the oracle's values
    do not change while planning: plain floats make the planner's many small steps several
    times faster than tensors recomputed every step)."""

    def __init__(self, system) -> None:
        self.system = system
        self.nq = len(system.coords)
        with torch.no_grad():
            self.params = {k: float(v) for k, v in system.physical().items()}
            self.camera = {k: v.detach() for k, v in system.camera_values().items()}

    def __call__(self, state: Tensor, action: Tensor) -> Tensor:
        q, qd = self.system.step(state[:, :self.nq], state[:, self.nq:], action,
                                 cam=self.camera, p=self.params)
        return torch.cat([q, qd], 1)


class CoordinateCost(ResidualCost):
    """The system's task cost (:class:`pig_control.systems.cost.ResidualCost`) on states in
    coordinates, ``(B, H, 2 nq)`` = ``q`` then ``qd``, towards goal coordinates.

    Args:
        system: the described system.
        goal: goal coordinates ``(nq,)``.
        terminal_weight, action_weight: see :class:`~pig_control.systems.cost.ResidualCost`.
        weights: the system's own residual weights (e.g. ``velocity_weight``).
    """

    def __init__(self, system, goal, terminal_weight: float = 1.0,
                 action_weight: float = 1e-3, **weights: float) -> None:
        check_weights(terminal_weight=terminal_weight, action_weight=action_weight, **weights)
        self.system = system
        self.nq = len(system.coords)
        self.goal = torch.as_tensor(np.asarray(goal, dtype=np.float32)).reshape(1, self.nq)
        self.terminal_weight, self.action_weight = terminal_weight, action_weight
        self.weights = weights

    def coordinates(self, states: Tensor) -> tuple[Tensor, Tensor]:
        flat = states.reshape(-1, states.shape[-1])
        return flat[:, :self.nq], flat[:, self.nq:]


class SystemOracle:
    """Receding-horizon control of a described system from its true coordinates.

    Args:
        system: the system with the true values (``System.oracle``), ``dt`` = one control step.
        goal: goal coordinates ``(nq,)``.
        planner: planner name (:data:`agents.PLANNERS`).
        horizon: control steps planned ahead (default: ``system.defaults["horizon"]``).
        planner_options: the planner's keyword options.
        cost_options: cost weights (default: ``system.defaults["cost"]``, overridden here).
        seed: the planner's seed (reset per episode by :meth:`reset`).
    """

    def __init__(self, system, goal, planner: str = "gn", horizon: int | None = None,
                 planner_options: dict | None = None, cost_options: dict | None = None,
                 seed: int = 0) -> None:
        self.system = system
        self.planner_name = planner
        self.horizon = int(horizon or system.defaults.get("horizon", 20))
        self.cost_options = {**system.defaults.get("cost", {}), **(cost_options or {})}
        self.planner_options = dict(planner_options or {})
        self.cost = CoordinateCost(system, goal, **self.cost_options)
        self.last_cpu_ms = float("nan")
        self.planner = make_planner(planner, CoordinateDynamics(system), self.cost,
                                    system.action_dim, self.horizon, -1.0, 1.0, seed=seed,
                                    **self.planner_options)

    def reset(self, seed: int) -> None:
        """Start an episode: forget the warm start, reseed the planner."""
        self.planner.reset(seed)

    def act(self, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, float]:
        """(action (d,) in [-1, 1], wall-clock milliseconds of planning) from the true
        coordinates; :attr:`last_cpu_ms` holds the process's CPU milliseconds of the same
        plan (less affected than wall time by other work on a shared machine)."""
        start, cpu = time.perf_counter(), time.process_time()
        state = torch.as_tensor(np.concatenate([q, qd]), dtype=torch.float32)
        plan = self.planner.plan(state)
        self.planner.shift(1)
        self.last_cpu_ms = (time.process_time() - cpu) * 1000.0
        return plan[0].numpy().astype(np.float32), (time.perf_counter() - start) * 1000.0
