"""The glue between a scene, a world model and a planner: observe, estimate the state, plan, act.

:class:`OracleAgent` plans on the true simulator from the true state (the upper bound);
:class:`ModelAgent` plans on a learned PIG model from pixels: it encodes each frame, estimates
positions and velocities (a Kalman filter that predicts with the model, or the model's velocity
estimator over the last L frames) and plans with its physics cell.
Both plan on the same packed state (B, n, 4) = x, y, vx, vy in pixels with the cost of the
same system (:meth:`pig_control.systems.System.make_cost`), so the planners and costs are shared.
Control defaults come from the system (``System.defaults``), with the settings tuned for our
scenes in :data:`SCENE_DEFAULTS` on top.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np
import torch
from torch import Tensor

from agents import MPCController, make_planner
from pig_control.control.dynamics import CellDynamics, latent_state
from pig_control.control.estimator import StateFilter
from pig_control.errors import UserInputError
from pig_control.model.decoder import fit_positions
from pig_control.systems import System
from pig_control.systems.scenes import oracle_system

#: The planner ``python -m pig_control.mpc`` uses unless told otherwise: Gauss-Newton with 256
#: coloured-noise samples (as wide as the action bounds) in the same rollout (agents.gn), one
#: iteration per control step (the digits: two) and twenty for the first plan of an episode (it
#: has no warm start).
DEFAULT_PLANNER = "gn"

#: Horizon (control steps), cost weights, state estimation and, where they differ from
#: :data:`PLANNER_DEFAULTS`, planner options for each of our scenes, on top of the defaults of
#: the scene's system (``System.defaults``; an env without an entry here gets its system's
#: defaults alone). They were chosen on tuning seeds (``benchmarks/tuning/``,
#: docs/guide/control.md).
#: A strong terminal weight makes the plan settle the objects at the end of the horizon instead
#: of trading the end state against the way there. The digits need it strongest (3000: the
#: stage costs are only a tie-break): only digit 0 is pushed, and near rest the spring pulls
#: digit 1 sideways only through a stretch and a tilt together, so a plan that weighs every
#: step's distance will not pay for that manoeuvre and leaves digit 1 drifting. Their action
#: weight (10) keeps such a plan from acting on every error of the estimate. The spring weighs
#: speeds at 0.3 of positions (px^2 / time^2 against px^2): a heavier speed term slows the
#: settling of its swing. A horizon of 20 steps (6 time units) covers about 2.7 periods of the
#: spring (pendulum: 20 steps).
#: ``filter``: noise levels of the learned models' state filter (:class:`StateFilter`).
#: ``refine_iterations``: render-and-compare steps after the encoder
#: (:func:`pig_control.model.decoder.fit_positions`), which remove most of the encoder's error
#: that changes from frame to frame (``benchmarks/refine_accuracy.py``). The pendulum keeps its
#: encoder's coordinates, which its physics was fitted to.
SCENE_DEFAULTS: dict[str, dict[str, Any]] = {
    "spring": {"horizon": 20, "cost": {"velocity_weight": 0.3, "terminal_weight": 30.0},
               "filter": {"position_noise": 0.1, "accel_noise": 0.3}, "refine_iterations": 1},
    "mnist_spring": {"horizon": 15,
                     "cost": {"velocity_weight": 1.0, "terminal_weight": 3000.0,
                              "action_weight": 10.0},
                     "filter": {"position_noise": 0.3, "accel_noise": 0.3},
                     "refine_iterations": 2,
                     "planner_options": {"gn": {"iterations": 2}}},
    "bouncing": {"horizon": 15, "cost": {"velocity_weight": 1.0, "terminal_weight": 10.0}},
    "gravity": {"horizon": 15, "cost": {"velocity_weight": 1.0, "terminal_weight": 10.0}},
    "pendulum": {"horizon": 20, "cost": {"terminal_weight": 1.0}},
}

#: Options of each planner used unless the user overrides them (small budgets: real time).
#: GN: 256 random sequences as wide as the action bounds beside the Gauss-Newton steps, so that
#: a plan can leave a poor local minimum; with them one iteration per control step suffices
#: (twenty for an episode's first plan, which has no warm start).
PLANNER_DEFAULTS: dict[str, dict[str, Any]] = {
    "gn": {"iterations": 1, "first_iterations": 20, "samples": 256, "sample_std": 1.0,
           "beta": 2.0},
    "icem": {"population": 64, "elites": 8, "iterations": 3, "beta": 0.0, "decay": 1.25,
             "keep_elites": 0.3, "alpha": 0.1, "init_std": 0.3},
    "cem": {"population": 100, "elites": 10, "iterations": 3},
    "mppi": {},
    "grad": {},
    "cmaes": {},
}


def control_defaults(scene_name: str, system: System) -> dict[str, Any]:
    """The control defaults for an env: its system's (``System.defaults``) with the scene's
    tuned settings (:data:`SCENE_DEFAULTS`) on top; cost weights merge key by key."""
    base = system.defaults
    tuned = SCENE_DEFAULTS.get(scene_name, {})
    merged = {**base, **tuned}
    merged["cost"] = {**base.get("cost", {}), **tuned.get("cost", {})}
    merged["horizon"] = merged.get("horizon", 20)
    return merged


class Agent:
    """Base: holds the planner and MPC controller; subclasses estimate the state.

    Args:
        scene: the unwrapped scene (geometry, goal, rendering).
        dynamics: planner dynamics over packed states.
        planner: planner name (``agents.PLANNERS``).
        horizon: control steps planned ahead (None: the scene's default).
        planner_options: options for the planner (on top of :data:`PLANNER_DEFAULTS`).
        cost_options: cost weights (on top of :func:`control_defaults`).
        seed: planner seed.
        device: torch device of the planner.
    """

    #: True where the observations are true scene states (the oracle), False for frames.
    reads_state = False

    def __init__(self, scene, dynamics, planner: str = DEFAULT_PLANNER, horizon: int | None = None,
                 planner_options: dict | None = None, cost_options: dict | None = None,
                 seed: int = 0, device: str = "cpu"):
        defaults = control_defaults(scene.name, dynamics.cell)
        self.defaults = defaults
        self.scene = scene
        self.dynamics = dynamics
        self.device = torch.device(device)
        self.horizon = int(horizon or defaults["horizon"])
        self.cost_options = {**defaults["cost"], **(cost_options or {})}
        self.planner_name = planner
        self.planner_options = {**PLANNER_DEFAULTS.get(planner, {}),
                                **defaults.get("planner_options", {}).get(planner, {}),
                                **(planner_options or {})}
        self.seed = seed
        self.controller: MPCController | None = None
        self.goal_positions: Tensor | None = None
        self.last_state: Tensor | None = None

    # ------------------------------------------------------------------ subclass interface
    def estimate(self, observation: np.ndarray) -> Tensor:
        """The current packed state (n, 4) from an observation (a frame; the oracle: the true
        scene state)."""
        raise NotImplementedError

    def goal_from_image(self, image: np.ndarray) -> Tensor:
        raise NotImplementedError

    def render_plan(self, states: Tensor) -> np.ndarray:
        """Predicted packed states (T, n, 4) -> uint8 frames (T, H, W, 3)."""
        raise NotImplementedError

    def observe_reset(self, observation: np.ndarray) -> None:
        """Start of an episode (frame history etc.)."""

    def record_action(self, action: Tensor) -> None:
        """The action about to be applied (a model agent keeps the last few)."""

    # ------------------------------------------------------------------ episode loop
    def reset(self, observation: np.ndarray, *, goal_image: np.ndarray | None = None,
              goal_state: np.ndarray | None = None, seed: int = 0) -> None:
        """Start an episode from its first observation, towards a goal given as an image
        (encoded like an observation) or as a scene state (true coordinates); ``seed`` seeds the
        planner's sampling."""
        if (goal_image is None) == (goal_state is None):
            raise UserInputError("give the goal either as an image or as a state, not both")
        self.observe_reset(observation)
        if goal_image is not None:
            self.goal_positions = self.goal_from_image(np.asarray(goal_image))
        else:
            packed = latent_state(self.scene, np.asarray(goal_state, dtype=np.float64))
            self.goal_positions = torch.as_tensor(packed[..., :2], dtype=torch.float32,
                                                  device=self.device)
        # every goal is at rest: move it to the model's nearest rest state (the spring; the
        # other systems rest anywhere, or never, and keep it)
        system = self.dynamics.cell
        self.goal_positions = system.rest_goal(self.goal_positions)
        try:
            cost = system.make_cost(self.goal_positions, **self.cost_options)
        except TypeError as error:
            raise UserInputError(f"bad cost option for system '{system.name}': "
                                 f"{error}") from None
        try:
            planner = make_planner(self.planner_name, self.dynamics, cost,
                                   self.scene.action_dim, self.horizon, -1.0, 1.0,
                                   seed=seed, device=self.device,
                                   **self.planner_options)
        except TypeError as error:
            raise UserInputError(str(error)) from None
        self.controller = MPCController(planner)

    def act(self, observation: np.ndarray) -> tuple[np.ndarray, float]:
        """Estimate the state from ``observation`` (a frame; the oracle: the true state) and
        plan; returns (action (d,), milliseconds spent)."""
        if self.controller is None:
            raise UserInputError("the agent has no goal yet: reset it with a goal first")
        start = time.perf_counter()
        with torch.no_grad():
            state = self.estimate(observation)
        self.last_state = state
        action = self.controller.act(state)
        self.record_action(action)
        ms = (time.perf_counter() - start) * 1000.0
        return action.detach().cpu().numpy().astype(np.float32), ms

    def planned_states(self) -> Tensor:
        """States (H, n, 4) predicted for the plan of the last step (before its shift)."""
        plan = self.controller.last_plan
        with torch.no_grad():
            state = self.last_state.unsqueeze(0)
            out = []
            for t in range(plan.shape[0]):
                state = self.dynamics(state, plan[t:t + 1])
                out.append(state[0])
        return torch.stack(out)


class OracleAgent(Agent):
    """Plans on the true simulator (the scene's system with the true parameters, camera,
    substeps and walls) from the true state: its observations are scene states
    (``info["state"]``), not frames."""

    reads_state = True

    def __init__(self, scene, set_params: dict[str, float] | None = None, **kwargs):
        cell = oracle_system(scene)
        for name, value in (set_params or {}).items():
            cell.set_param(name, value)
        self.cell = cell.to(kwargs.get("device", "cpu"))
        super().__init__(scene, CellDynamics(self.cell, device=kwargs.get("device", "cpu")),
                         **kwargs)

    def estimate(self, observation):
        return torch.as_tensor(latent_state(self.scene, np.asarray(observation)),
                               dtype=torch.float32, device=self.device)

    def goal_from_image(self, image):
        raise UserInputError("the oracle takes its goal as a state, not an image")

    def render_plan(self, states):
        if self.scene.name == "pendulum":  # the scene's state: (theta, theta_dot)
            with torch.no_grad():
                q, qd = self.cell.unpack(states.to(self.cell.camera_params.dtype))
            states = torch.cat([q, qd], -1)
        return self.scene.render_states(states.detach().cpu().double().numpy())


class ModelAgent(Agent):
    """Plans on a learned PIG model from pixels.

    Each step encodes the newest frame to positions and estimates the state (positions and
    velocities) with one of two estimators, then plans with the model's physics cell:

    - ``"filter"`` (default for models without a learned velocity correction): a Kalman
      filter (:class:`pig_control.control.estimator.StateFilter`) that predicts with the
      model's physics cell and the applied action and corrects with the encoded positions. It
      carries the state across steps, so it averages the encoder's noise over all frames seen,
      and its predictions bounce off walls as the model does.
    - ``"window"``: the model's velocity estimator (``model.dynamics.initial``), a fit of the
      physics to the positions of the last ``estimate_frames`` frames and the actions between
      them. A model with the learned MLP correction needs exactly its ``input_steps`` frames
      (after a reset the first frame is repeated) and always uses this estimator; otherwise
      the window after a reset holds the frames seen so far (one frame: at rest).

    Args:
        model: a :class:`pig_control.model.pig.PIGModel` with a physics cell.
        estimator: ``"filter"`` or ``"window"`` (None: ``"window"`` for a model with a learned
            velocity correction, else ``"filter"``).
        estimate_frames: frames in the estimation window (``"window"`` only; None: the
            model's ``input_steps``).
        filter_options: noise levels of the filter (:class:`StateFilter`; on top of the
            scene's defaults in :func:`control_defaults`).
        refine_iterations: render-and-compare steps after the encoder
            (:func:`pig_control.model.decoder.fit_positions`) for every observation and the
            goal image (None: the scene's default in :func:`control_defaults`, else 0).
    """

    def __init__(self, scene, model, estimator: str | None = None,
                 estimate_frames: int | None = None, filter_options: dict | None = None,
                 refine_iterations: int | None = None, **kwargs):
        if model.cell is None:
            raise UserInputError("this checkpoint is a black-box model; control needs a "
                                 "physics model (model.physics = spring, pendulum, ...)")
        config = model.config
        if config.image_size != scene.image_size:
            raise UserInputError(f"the model sees {config.image_size} px frames but "
                                 f"{scene.name} renders {scene.image_size} px")
        if config.action_dim != scene.action_dim:
            raise UserInputError(f"the model takes {config.action_dim} action components but "
                                 f"{scene.name} has {scene.action_dim} (was it trained on "
                                 "actuated rollouts of this scene?)")
        if config.n_objects != scene.n_objects:
            raise UserInputError(f"the model finds {config.n_objects} objects but "
                                 f"{scene.name} has {scene.n_objects}")
        device = kwargs.get("device", "cpu")
        self.model = model.to(device).eval()
        self.fixed_window = model.dynamics.velocity.net is not None
        if estimator is None:
            estimator = "window" if self.fixed_window else "filter"
        if estimator not in ("filter", "window"):
            raise UserInputError(f"unknown estimator '{estimator}'; known: filter, window")
        if estimator == "filter" and self.fixed_window:
            raise UserInputError("this model's velocity estimator has a learned correction; "
                                 "use its window estimator")
        self.estimator = estimator
        if refine_iterations is None:
            refine_iterations = control_defaults(scene.name, model.cell).get(
                "refine_iterations", 0)
        if int(refine_iterations) < 0:
            raise UserInputError(f"refine_iterations must be at least 0, got {refine_iterations}")
        self.refine_iterations = int(refine_iterations)
        if self.fixed_window:
            if estimate_frames not in (None, model.input_steps):
                raise UserInputError(f"this model's velocity estimator has a learned correction "
                                     f"for exactly {model.input_steps} frames; got "
                                     f"estimate_frames={estimate_frames}")
            window = model.input_steps
        else:
            window = int(estimate_frames or model.input_steps)
            if window < 2:
                raise UserInputError(f"estimate_frames must be at least 2, got {window}")
        self.estimate_frames = window
        self.history: deque[Tensor] = deque(maxlen=window)
        self.past_actions: deque[Tensor] = deque(maxlen=window - 1)  # between the frames
        super().__init__(scene, CellDynamics(model.cell, device=device), **kwargs)
        self.filter_options = {**self.defaults.get("filter", {}),
                               **(filter_options or {})}
        self.filter = None
        if estimator == "filter":
            try:
                self.filter = StateFilter(self.dynamics, float(model.cell.dt),
                                          **self.filter_options)
            except (TypeError, ValueError) as error:
                raise UserInputError(f"bad filter options {self.filter_options}: "
                                     f"{error}") from None

    def _encode(self, observation: np.ndarray) -> Tensor:
        frame = torch.as_tensor(observation, device=self.device).permute(2, 0, 1)
        frame = frame.to(torch.float32).div(255.0).unsqueeze(0)
        positions = self.model.encoder(frame)
        return fit_positions(self.model.decoder, frame, positions, self.refine_iterations)[0]

    def observe_reset(self, observation):
        self.history.clear()
        self.past_actions.clear()
        with torch.no_grad():
            first = self._encode(observation)
        self.history.append(first)
        if self.fixed_window:  # the learned correction needs a full window
            zero = torch.zeros(self.scene.action_dim, device=self.device)
            while len(self.history) < self.history.maxlen:
                self.history.append(first)
                self.past_actions.append(zero)
        self._fresh = True

    def record_action(self, action):
        self.past_actions.append(action.detach().to(self.device).float())

    def estimate(self, observation):
        if self._fresh:  # the reset frame was encoded by observe_reset
            self._fresh = False
            if self.filter is not None:
                return self.filter.reset(self.history[-1])
        else:
            self.history.append(self._encode(observation))
            if self.filter is not None:
                return self.filter.step(self.history[-1], self.past_actions[-1])
        positions = torch.stack(list(self.history)).unsqueeze(0)  # (1, L, n, 2)
        if positions.shape[1] == 1:
            return torch.cat([positions[0, 0], torch.zeros_like(positions[0, 0])], -1)
        actions = None
        if getattr(self.model.config, "action_dim", 0):
            recent = list(self.past_actions)[-(positions.shape[1] - 1):]
            actions = torch.stack(recent).unsqueeze(0)  # (1, L - 1, d)
        # the model's velocity estimator, stepping with the planner's (lean) copy of the cell
        pos, vel = self.model.dynamics.velocity(positions, self._step, actions)
        return torch.cat([pos[0], vel[0]], -1)

    def _step(self, pos: Tensor, vel: Tensor, action: Tensor | None) -> tuple[Tensor, Tensor]:
        state = self.dynamics(torch.cat([pos, vel], -1), action)
        return state[..., :2], state[..., 2:]

    def goal_from_image(self, image):
        with torch.no_grad():
            return self._encode(image)

    def render_plan(self, states):
        with torch.no_grad():
            frames = self.model.decode(states[None, :, :, :2].to(self.device))[0]
        return (frames.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
