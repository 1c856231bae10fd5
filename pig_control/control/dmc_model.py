"""Control of a DMC task from pixels with a learned world model: encode each frame, filter the
state, plan in the learned system's coordinates, scored by the env's own reward.

Per control step (``action_repeat`` env steps with the action held, one frame seen):

1. the model's encoder turns the frame into the tracked point's position (pixels);
2. a Kalman filter (:class:`pig_control.control.estimator.StateFilter`) that predicts with the
   learned physics cell and the applied action gives position and velocity in pixels; a
   frame in which the image border cuts the system (:meth:`System.in_view`) updates nothing,
   the prediction carries on;
3. the learned camera maps them to the system's coordinates (``theta``, ``theta'``);
4. the planner of the oracle (:class:`pig_control.control.system_oracle.SystemOracle`) plans
   from there through the learned system (its parameters, not the env's), with the domain's
   control defaults (:data:`pig_control.control.dmc_oracle.CONTROL_DEFAULTS`) and goal.

Nothing here reads the simulator's state: only frames reach the agent (the true state in
``info`` is never passed to it).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from pig_control import dmc
from pig_control.control.dmc_oracle import CONTROL_DEFAULTS, GOALS, play_episodes
from pig_control.control.dynamics import CellDynamics
from pig_control.control.estimator import StateFilter
from pig_control.control.system_oracle import SystemOracle
from pig_control.errors import UserInputError
from pig_control.pixel_env import make_pixel_env

#: The state filter's noise levels for the learned DMC models: the encoder's position noise
#: (pixels), the unmodelled acceleration (pixels per second squared) and the velocity's
#: spread at a reset (pixels per second).
FILTER_DEFAULTS = {"pendulum": {"position_noise": 0.5, "accel_noise": 30.0,
                                "initial_speed": 50.0},
                   "cartpole": {"position_noise": 0.5, "accel_noise": 30.0,
                                "initial_speed": 50.0}}
#: System names (and their subclasses) that can model each domain.
DOMAIN_SYSTEMS = {"pendulum": "pendulum", "cartpole": "cartpole"}


class PixelModelAgent:
    """Frames in, actions out, through a learned PIG model (see the module docstring).

    Args:
        model: a :class:`pig_control.model.pig.PIGModel` with a physics cell (the system).
        domain: the DMC domain (goal and control defaults).
        planner, horizon, planner_options, cost_options: as for :class:`SystemOracle`
            (None: the domain's defaults).
        filter_options: noise levels of the state filter (on top of :data:`FILTER_DEFAULTS`).
    """

    def __init__(self, model, domain: str, planner: str = "gn", horizon: int | None = None,
                 planner_options: dict | None = None, cost_options: dict | None = None,
                 filter_options: dict | None = None) -> None:
        self.model = model.eval()
        self.cell = model.cell
        defaults = CONTROL_DEFAULTS[domain]
        self.filter_options = {**FILTER_DEFAULTS.get(domain, {}), **(filter_options or {})}
        self.filter = StateFilter(CellDynamics(self.cell), float(self.cell.dt),
                                  **self.filter_options)
        self.planner = SystemOracle(self.cell, GOALS[domain], planner=planner,
                                    horizon=horizon or defaults["horizon"],
                                    planner_options=planner_options,
                                    cost_options={**defaults["cost"], **(cost_options or {})})
        self.last_action: torch.Tensor | None = None
        self.last_cpu_ms = float("nan")

    # What :class:`pig_control.api.Controller` reads of an agent: the task fixes the goal (the
    # domain's upright), frames are the observations, no render-and-compare refinement.
    reads_state = False
    fixed_goal = True
    refine_iterations = 0

    @property
    def horizon(self) -> int:
        return self.planner.horizon

    @property
    def planner_name(self) -> str:
        return self.planner.planner_name

    @property
    def planner_options(self) -> dict:
        return self.planner.planner_options

    @property
    def cost_options(self) -> dict:
        return self.planner.cost_options

    @property
    def dynamics(self) -> CellDynamics:
        return self.filter.dynamics

    def _encode(self, frame: np.ndarray) -> torch.Tensor:
        image = torch.as_tensor(np.ascontiguousarray(frame)).permute(2, 0, 1)
        image = image.float().div(255.0).unsqueeze(0)
        return self.model.encoder(image)[0]  # (n, 2) pixels

    def measure(self, frame: np.ndarray) -> torch.Tensor | None:
        """The tracked points (n, 2), pixels, the encoder finds in a frame; None where the frame
        cuts the system (:meth:`System.in_view`): such a frame is not a measurement."""
        with torch.no_grad():
            points = self._encode(frame)
            return points if bool(self.cell.in_view(points[None])[0]) else None

    def reset(self, frame: np.ndarray, seed: int = 0, goal_image=None, goal_state=None) -> None:
        """Start an episode from its first frame: the filter at rest there, a fresh plan. The
        task fixes the goal: ``goal_image`` and ``goal_state`` must be None."""
        if goal_image is not None or goal_state is not None:
            raise UserInputError("a DMC task fixes its goal (upright): give no goal")
        with torch.no_grad():
            points = self._encode(frame)
        self.reset_points(points, seed)

    def reset_points(self, points: torch.Tensor, seed: int = 0) -> None:
        """Start an episode from the tracked points (n, 2), pixels, of its first frame."""
        self.filter.reset(points)
        self.planner.reset(seed)
        self.last_action = None

    def act(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """(action (d,), wall-clock milliseconds of encoding, filtering and planning);
        :attr:`last_cpu_ms` holds the process's CPU milliseconds of the same."""
        start, cpu = time.perf_counter(), time.process_time()
        # the first frame was read by reset
        points = None if self.last_action is None else self.measure(frame)
        action = self.act_points(points)
        self.last_cpu_ms = (time.process_time() - cpu) * 1000.0
        return action, (time.perf_counter() - start) * 1000.0

    def act_points(self, points: torch.Tensor | None) -> np.ndarray:
        """The action (d,) from the tracked points (n, 2), pixels, seen after the last action
        (None: nothing measured, the filter predicts); an episode's first call plans from the
        state :meth:`reset_points` set."""
        with torch.no_grad():
            if self.last_action is None:
                state = self.filter.state
            else:
                state = self.filter.step(points, self.last_action)
            q, qd = self.cell.pixels_to_state(state[None, :, :2], state[None, :, 2:])
        action, _ = self.planner.act(q[0].double().numpy(), qd[0].double().numpy())
        self.last_action = torch.as_tensor(action, dtype=torch.float32)
        return action


    def planned_states(self):
        raise UserInputError("the DMC agent plans in the system's coordinates; it keeps no "
                             "planned pixel states")

    def render_plan(self, states):
        raise UserInputError("the DMC agent's model has no decoder to draw its plan")


def check_model(model, domain: str, image_size: int | None = None) -> None:
    """UserInputError unless the model's system can model the domain and sees 1 action."""
    from pig_control.systems import resolve_system

    if model.cell is None:
        raise UserInputError("this checkpoint is a black-box model; control needs a physics "
                             "model (a described system)")
    expected = resolve_system(DOMAIN_SYSTEMS[domain])
    if not isinstance(model.cell, expected):
        raise UserInputError(f"the model's system '{model.cell.name}' does not describe the DMC "
                             f"domain '{domain}' (expected '{expected.name}' or a subclass)")
    if model.config.action_dim != 1:
        raise UserInputError(f"the model takes {model.config.action_dim} action components; "
                             f"the DMC {domain} takes 1")


def build(env_id: str, model, *, action_repeat: int = 2, planner: str = "gn",
          horizon: int | None = None, planner_options: dict | None = None,
          cost_options: dict | None = None, max_episode_steps: int | None = None,
          camera: int = 0):
    """(env rendering the model's frame size, :class:`PixelModelAgent`, the truth)."""
    domain = dmc.domain_of(env_id)
    check_model(model, domain)
    agent = PixelModelAgent(model, domain, planner=planner, horizon=horizon,
                            planner_options=planner_options, cost_options=cost_options)
    env = make_pixel_env(env_id, size=model.config.image_size, action_repeat=action_repeat,
                         camera=camera, max_episode_steps=max_episode_steps)
    try:
        truth = dmc.true_parameters(env.unwrapped.physics, domain)
    except BaseException:
        env.close()
        raise
    return env, agent, truth


def run_episodes(env, agent: PixelModelAgent, episodes: int, seed: int,
                 progress: bool = False) -> list[dict]:
    """:func:`pig_control.control.dmc_oracle.play_episodes` of the agent: only frames reach
    it; times are of encoding, filtering and planning."""
    def act(frame):
        action, ms = agent.act(frame)
        return action, ms, agent.last_cpu_ms

    return play_episodes(env, agent.reset, act, episodes, seed, "model", progress)
