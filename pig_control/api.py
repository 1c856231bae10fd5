"""The Python API: load a world model, build an agent, act on observations.

    import gymnasium, envs, pig_control
    env = gymnasium.make("PIG/Spring-v0")
    observation, info = env.reset(seed=0)
    goal = env.unwrapped.render_states(info["goal"])       # the goal as an image
    model = pig_control.load_world_model("spring")          # shipped name or checkpoint path
    agent = pig_control.make_agent(model, planner="gn", goal=goal)
    for _ in range(100):
        observation, reward, terminated, truncated, info = env.step(agent.predict(observation))

A :class:`WorldModel` is a trained PIG model (encoder, physics with named parameters,
decoder) with the scene it was trained on and its checkpoint's provenance. :func:`make_agent`
wraps it in a :class:`Controller`: each :meth:`Controller.predict` call estimates the state from
the frame, plans an action sequence over the horizon and returns its first action (receding
horizon, the plan warm-starts the next call). :func:`make_oracle` builds the same controller on
the true simulator, acting on true scene states (``info["state"]``) instead of frames: the
upper bound a learned model is measured against. A model agent never sees ``info``: the state
and goal it uses come only from frames and the goal image.

The command ``python -m pig_control.mpc`` is a loop over these calls.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from pig_control.errors import UserInputError
from pig_control.pixel_env import DMC_PREFIX

#: Where the shipped world models live; ``NAME_control.pt`` is the control model of scene NAME.
PRETRAINED_DIR = Path(__file__).parent / "pretrained"
_SUFFIX = "_control.pt"


def shipped_file(env: str) -> Path:
    """Where the shipped control model of ``env`` lies, whether or not one ships: a scene name
    (``"spring"``) or a Gymnasium id (``"dm_control/pendulum-swingup-v0"``, whose ``/`` the file
    name writes as ``__``) followed by ``_control.pt``."""
    return PRETRAINED_DIR / f"{env.replace('/', '__')}{_SUFFIX}"


def shipped_world_models() -> dict[str, Path]:
    """Scene name or env id -> path of its shipped control world model."""
    return {path.name[: -len(_SUFFIX)].replace("__", "/"): path
            for path in sorted(PRETRAINED_DIR.glob(f"*{_SUFFIX}"))}


class WorldModel:
    """A trained world model: what it learned and where it came from.

    Attributes:
        module: the :class:`pig_control.model.pig.PIGModel` (a ``torch.nn.Module``, eval mode).
        scene: the scene it was trained on (short name such as ``"spring"``).
        source: the checkpoint it was loaded from.
        metadata: the checkpoint's provenance (command, data, ``env_frames``, commit, ...).
    """

    def __init__(self, module, scene: str, source: str, metadata: dict | None = None):
        self.module = module
        self.scene = scene
        self.source = source
        self.metadata = dict(metadata or {})

    @property
    def params(self) -> dict[str, float]:
        """The learned physical parameters by name (e.g. ``{"k": 3.98, "l": 6.0}``; empty for a
        black-box model)."""
        return dict(self.module.params)

    @property
    def env_frames(self) -> int:
        """Frames of environment interaction the model was trained on (0 where unrecorded)."""
        return int(self.metadata.get("env_frames", 0) or 0)

    def set_params(self, **values: float) -> WorldModel:
        """Overwrite physical parameters in place (zero-data adaptation to a changed world,
        e.g. ``set_params(k=8)``); returns the model. Unknown names, non-positive values or a
        black-box model are a :class:`UserInputError`."""
        if values and self.module.cell is None:
            raise UserInputError("a black-box model has no physical parameters to set")
        for name, value in values.items():
            try:
                self.module.cell.set_param(name, float(value))
            except (TypeError, ValueError) as error:
                raise UserInputError(str(error)) from None
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"WorldModel(scene={self.scene!r}, params=({params}), source={self.source!r})"


def load_world_model(name_or_path: str | os.PathLike, device: str = "cpu") -> WorldModel:
    """Load a shipped world model by scene name (a string: ``"spring"``, ``"pendulum"``,
    ``"mnist_spring"``; :func:`shipped_world_models`) or a checkpoint written by
    ``python -m pig_control.train`` (a path; safe: tensors and plain data only)."""
    from pig_control.checkpoint import load_model

    shipped = shipped_world_models()
    if isinstance(name_or_path, str) and name_or_path in shipped:
        path = shipped[name_or_path]
    else:  # a path (a Path object always is one)
        path = Path(name_or_path)
        text = str(name_or_path)
        if not path.is_file() and path.suffix == "" and os.sep not in text:
            raise UserInputError(f"no shipped world model '{text}' (shipped: "
                                 f"{', '.join(shipped)}) and no such checkpoint file")
    module, payload = load_model(path, device)
    scene = str(payload["config"].get("scene", ""))
    return WorldModel(module, scene, str(path), payload.get("metadata"))


class Controller:
    """Model-predictive control on observations, one action per :meth:`predict` call.

    Built by :func:`make_agent` (observations are frames, ``uint8 (H, W, 3)``) or
    :func:`make_oracle` (observations are true scene states, as in ``info["state"]``).
    A goal given at construction is kept for every episode until :meth:`reset` gives another.

    Attributes:
        horizon: control steps planned ahead.
        planner: the planner's name; ``planner_options`` and ``cost_options`` the values in use.
        last_ms: milliseconds the last :meth:`predict` spent estimating the state and planning.
    """

    def __init__(self, agent, goal: np.ndarray | None = None,
                 goal_state: np.ndarray | None = None, seed: int = 0):
        self._agent = agent
        self._goal, self._goal_state = goal, goal_state
        self._seed = int(seed)
        self._started = False
        self.last_ms = float("nan")

    # ---- what the agent is ------------------------------------------------------------------
    @property
    def reads_state(self) -> bool:
        """True for the oracle (observations are true states), False for a model's agent."""
        return bool(self._agent.reads_state)

    @property
    def horizon(self) -> int:
        return self._agent.horizon

    @property
    def planner(self) -> str:
        return self._agent.planner_name

    @property
    def planner_options(self) -> dict[str, Any]:
        return dict(self._agent.planner_options)

    @property
    def cost_options(self) -> dict[str, float]:
        return dict(self._agent.cost_options)

    @property
    def model_params(self) -> dict[str, float]:
        """The physical parameters the planner predicts with (the oracle: the true ones)."""
        return dict(self._agent.dynamics.cell.params)

    @property
    def refine_iterations(self) -> int:
        """Render-and-compare steps after the encoder (0 for the oracle)."""
        return int(getattr(self._agent, "refine_iterations", 0))

    # ---- acting ------------------------------------------------------------------------------
    def reset(self, observation: np.ndarray, goal: np.ndarray | None = None, *,
              goal_state: np.ndarray | None = None, seed: int | None = None) -> None:
        """Start an episode at ``observation``.

        Args:
            observation: the episode's first observation.
            goal: the goal in the form of the observations (a model's agent: an image of the
                scene at its goal; the oracle: a scene state). None: the goal given before.
            goal_state: for a model's agent, the goal as a true scene state instead of an image
                (the planner then skips encoding a goal image).
            seed: seeds the planner's sampling for this episode (None: the agent's seed).
        """
        if not getattr(self._agent, "fixed_goal", False):  # a DMC task fixes its own goal
            goal, goal_state = self._episode_goal(goal, goal_state)
        self._agent.reset(np.asarray(observation), goal_image=goal, goal_state=goal_state,
                          seed=self._seed if seed is None else int(seed))
        self._started = True

    def _episode_goal(self, goal, goal_state):
        """(goal image, goal state) for the agent's reset: the ones given (kept for later
        episodes) or the earlier ones, checked; the oracle's goal is always a state."""
        if goal is not None or goal_state is not None:
            self._goal, self._goal_state = goal, goal_state
        goal, goal_state = self._goal, self._goal_state
        if goal is None and goal_state is None:
            raise UserInputError("the agent has no goal: pass goal=... to make_agent or reset")
        if self.reads_state:
            if goal is not None and goal_state is not None:
                raise UserInputError("give the oracle one goal state, not two")
            return None, (goal if goal is not None else goal_state)
        if goal is not None and goal_state is not None:
            raise UserInputError("give the goal either as an image or as a state, not both")
        return goal, goal_state

    def predict(self, observation: np.ndarray) -> np.ndarray:
        """The action (float32, in [-1, 1]) to apply at ``observation``. The first call after
        construction starts an episode at ``observation`` (as :meth:`reset` would); start each
        later episode with :meth:`reset`."""
        if not self._started:
            self.reset(observation)
        action, self.last_ms = self._agent.act(np.asarray(observation))
        return action

    def planned_states(self) -> np.ndarray:
        """The states the last plan predicts, ``(horizon, n_objects, 4)``: x, y, vx, vy in
        pixels and pixels per time unit."""
        return self._agent.planned_states().detach().cpu().numpy()

    def planned_frames(self) -> np.ndarray:
        """The last plan drawn as frames ``uint8 (horizon, H, W, 3)`` (the model's decoder; the
        oracle: the scene's renderer)."""
        return self._agent.render_plan(self._agent.planned_states())


def _scene_of(env, default_name: str):
    """A scene for the agent: the geometry of ``env`` (a Gymnasium env, a scene, or a name;
    None: the default scene name with its default parameters). A scene instance is copied with
    its state and goal cleared, so the agent can never read the true state through it."""
    import copy

    import envs

    name = default_name if env is None else env
    if isinstance(name, str):
        if not name:
            raise UserInputError("this world model does not record its scene: pass env=...")
        try:
            return envs.make_scene(name)
        except ValueError as error:
            raise UserInputError(str(error)) from None
    scene = copy.deepcopy(getattr(env, "unwrapped", env))
    scene.state = scene.goal = None
    return scene


def planner_settings(planner: str | None, horizon, planner_options, cost_options,
                      device: str) -> dict:
    """The keyword arguments of an agent's planner, checked: a known planner, a positive
    horizon, known cost weights."""
    from agents import PLANNERS
    from pig_control.control.agent import DEFAULT_PLANNER

    planner = planner or DEFAULT_PLANNER
    if planner not in PLANNERS:
        raise UserInputError(f"unknown planner '{planner}'; known planners: "
                             f"{', '.join(PLANNERS)}")
    if horizon is not None and int(horizon) < 1:
        raise UserInputError(f"horizon must be at least 1, got {horizon}")
    known_costs = {"velocity_weight", "terminal_weight", "action_weight", "energy_weight",
                   "energy_margin"}
    unknown = set(cost_options or {}) - known_costs
    if unknown:
        raise UserInputError(f"unknown cost option {sorted(unknown)}; known: "
                             f"{', '.join(sorted(known_costs))}")
    return dict(planner=planner, horizon=horizon, planner_options=dict(planner_options or {}),
                cost_options=dict(cost_options or {}), device=device)


def make_agent(world_model: WorldModel | str | os.PathLike, planner: str | None = None,
               goal: np.ndarray | None = None, *, goal_state: np.ndarray | None = None,
               env=None, horizon: int | None = None, planner_options: dict | None = None,
               cost_options: dict | None = None, refine: int | None = None,
               seed: int = 0, device: str = "cpu") -> Controller:
    """A controller that acts from frames with a learned world model.

    A model of a DMC task (``load_world_model("dm_control/pendulum-swingup-v0")``) plans on the
    task's own goal (upright; give no ``goal``) and acts on the frames of
    ``pig_control.pixel_env.make_pixel_env(ID, size=64, action_repeat=2)``: the frame size and
    interval it was trained on.

    Args:
        world_model: a :class:`WorldModel`, or what :func:`load_world_model` takes.
        planner: ``gn`` (default: Gauss-Newton with sampled starts), ``icem``, ``cem``,
            ``mppi``, ``grad``, ``cmaes``.
        goal: an image ``uint8 (H, W, 3)`` of the scene at its goal (or give it to
            :meth:`Controller.reset`).
        goal_state: the goal as a true scene state instead of an image.
        env: the environment acted on (a Gymnasium env, its unwrapped scene or a scene name;
            None: the model's own scene with default parameters). Only its geometry is used
            (image size, action size, the pendulum's pivot); never its state.
        horizon: control steps planned ahead (None: the scene's default).
        planner_options: planner settings over the defaults
            (:data:`pig_control.control.agent.PLANNER_DEFAULTS`).
        cost_options: ``velocity_weight``, ``terminal_weight``, ``action_weight`` and, for a
            pendulum, ``energy_weight`` (the swing-up's energy-shaped term) and
            ``energy_margin`` (its target's excess hanging, in units of the upright energy).
        refine: render-and-compare steps after the encoder (None: the scene's default).
        seed: seeds the planner (each :meth:`Controller.reset` may give its own).
        device: ``cpu`` or ``cuda``.
    """
    from pig_control.control.agent import ModelAgent

    if not isinstance(world_model, WorldModel):
        world_model = load_world_model(world_model, device)
    settings = planner_settings(planner, horizon, planner_options, cost_options, device)
    if world_model.scene.startswith(DMC_PREFIX):
        return _dmc_controller(world_model, goal, goal_state, settings, seed)
    scene = _scene_of(env, world_model.scene)
    agent = ModelAgent(scene, world_model.module, refine_iterations=refine, **settings)
    return Controller(agent, goal=goal, goal_state=goal_state, seed=seed)


def _dmc_controller(world_model: WorldModel, goal, goal_state, settings: dict,
                    seed: int) -> Controller:
    """:func:`make_agent` for a model of a DMC task: the task fixes the goal, frames come from
    ``make_pixel_env(ID, size=model's image size, action_repeat=2)`` (the model's frame
    interval), and :class:`pig_control.control.dmc_model.PixelModelAgent` acts."""
    from pig_control import dmc
    from pig_control.control.dmc_model import PixelModelAgent, check_model

    if goal is not None or goal_state is not None:
        raise UserInputError(f"{world_model.scene} fixes its goal (upright): give no goal")
    if settings["device"] != "cpu":
        raise UserInputError("the DMC agent runs on the CPU")
    domain = dmc.domain_of(world_model.scene)
    check_model(world_model.module, domain)
    agent = PixelModelAgent(world_model.module, domain, planner=settings["planner"],
                            horizon=settings["horizon"],
                            planner_options=settings["planner_options"],
                            cost_options=settings["cost_options"])
    return Controller(agent, seed=seed)


def make_oracle(env="spring", planner: str | None = None, goal: np.ndarray | None = None, *,
                set_params: dict[str, float] | None = None, horizon: int | None = None,
                planner_options: dict | None = None, cost_options: dict | None = None,
                seed: int = 0, device: str = "cpu") -> Controller:
    """A controller that plans on the true simulator of ``env`` (a Gymnasium env, its scene or
    a scene name: the true parameters of that instance) from true states: pass it
    ``info["state"]`` as the observation and a goal state (``info["goal"]``) as the goal.
    ``set_params`` overrides the simulator's parameters (a mis-specified oracle); the other
    arguments are those of :func:`make_agent`."""
    from pig_control.control.agent import OracleAgent

    settings = planner_settings(planner, horizon, planner_options, cost_options, device)
    scene = _scene_of(env, "")
    try:
        agent = OracleAgent(scene, set_params=dict(set_params or {}), **settings)
    except (TypeError, ValueError) as error:
        raise UserInputError(str(error)) from None
    return Controller(agent, goal=goal, seed=seed)
