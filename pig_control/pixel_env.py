"""Frames from any Gymnasium environment: the layer that lets a world model see any env.

:func:`make_pixel_env` builds a registered Gymnasium id (one of our scenes by short name or id,
Gymnasium's own, a user's, or the DeepMind Control Suite through Shimmy's
``dm_control/DOMAIN-TASK-v0`` ids) and wraps it in :class:`PixelEnv`, which makes every env look
like our scenes to rollouts, training and control:

- observation: the frame, ``uint8 (size, size, 3)``, taken from the env's pixel observation (an
  image ``Box`` or a ``"pixels"`` entry of a ``Dict``) or else from ``render()`` with
  ``render_mode="rgb_array"``. DMC renders directly at ``size x size`` (MuJoCo's own
  multisampled rendering, camera ``camera``); other frames are resized with area averaging
  (anti-aliased; bilinear where a frame grows). A non-square frame is scaled to a square, so
  its aspect ratio changes and nothing is cut off (an anisotropic scale is part of the camera
  geometry a model learns). Our own scenes keep their native size unless ``size`` is given.
- action: ``Box(-1, 1, (d,), float32)``, **normalised**: ``a`` in ``[-1, 1]`` is mapped
  linearly onto the env's own bounds ``[low, high]`` (``-1 -> low``, ``1 -> high``; the
  attributes :attr:`PixelEnv.action_low` / ``action_high`` hold them in env units). Envs whose
  bounds already are ``[-1, 1]`` (ours, DMC) receive the action unchanged. Only continuous
  (``Box``) action spaces with finite bounds are accepted.
- action repeat: one :meth:`PixelEnv.step` applies the action ``action_repeat`` times (the DMC
  convention for pixel control is 2), sums the rewards, stops early at an episode end;
  ``info["env_steps"]`` says how many env steps it took, so frame budgets count every env
  step as the field does.
- ``info["state"]``: the true state where the env exposes one: our scenes' ``info["state"]``;
  MuJoCo envs (DMC, Gymnasium's MuJoCo envs) the generalized positions then velocities
  ``concat(qpos, qvel)`` of the simulator; else a numeric ``env.unwrapped.state`` (Gymnasium's
  classic control); else an empty array. :attr:`PixelEnv.state_names` names the entries and
  :attr:`PixelEnv.state_source` says where they come from.
- ``info["goal"]`` (empty where the env has none) and ``info["is_success"]`` (False where the
  env does not define success: :attr:`PixelEnv.has_success` tells which).

:attr:`PixelEnv.frame_dt` is the time between two frames (the env's own step time, ``dt`` or
``tau``, times the action repeat; NaN where the env does not say).

Bad input (an id that is not registered, an env without pixels, a discrete action space, DMC
without the ``[dmc]`` extra) raises :class:`~pig_control.errors.UserInputError` with one line.
"""

from __future__ import annotations

import difflib
import math
import os
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from pig_control.errors import UserInputError

#: Frame size of envs that are not ours when no ``size`` is given (DreamerV3's 64 x 64).
DEFAULT_SIZE = 64
#: Shimmy's namespace of the DeepMind Control Suite.
DMC_PREFIX = "dm_control/"


def resolve_env_id(name: str) -> str:
    """The registered Gymnasium id for a short scene name or any id; registers ours and, for
    ``dm_control/...``, Shimmy's. Raises UserInputError for an id nobody registered."""
    import envs

    env_id = envs.SCENES.get(name, name)
    if env_id.startswith(DMC_PREFIX):
        _register_dmc()
    if env_id not in gymnasium.registry:
        close = difflib.get_close_matches(env_id, list(gymnasium.registry), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else (
            f"; our scenes: {', '.join(envs.SCENES)}, or any registered Gymnasium id "
            f"(DMC: {DMC_PREFIX}DOMAIN-TASK-v0 with the [dmc] extra)")
        raise UserInputError(f"unknown env {name!r}{hint}")
    return env_id


def is_own_scene(env_id: str) -> bool:
    """Whether ``env_id`` (an id or short name) is one of the toolkit's own scenes."""
    import envs

    return env_id in envs.SCENES or env_id in envs.SCENES.values()


def _register_dmc() -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; a user's choice wins
    try:
        import shimmy
    except ImportError as error:
        raise UserInputError(f"DMC ids need the optional extra [dmc] (pip install "
                             f"'pig_control[dmc]'): {error}") from None
    gymnasium.register_envs(shimmy)


def make_pixel_env(name: str, *, size: int | None = None, action_repeat: int = 1,
                   camera: int = 0, max_episode_steps: int | None = None, pixels: bool = True,
                   **env_kwargs: Any) -> PixelEnv:
    """Build env ``name`` (short scene name or registered id) and wrap it in :class:`PixelEnv`.

    Args:
        name: one of our short scene names or any registered Gymnasium id.
        size: square frame side in pixels; None: our scenes' native size, 64 for other envs.
        action_repeat: env steps per agent step (>= 1).
        camera: DMC camera id (ignored by other envs).
        max_episode_steps: env steps before truncation (replaces the registered limit; counts
            env steps, so an episode of T agent steps needs ``T * action_repeat``).
        pixels: False: no frames are made (observations are None): for an oracle that reads
            the true state, where rendering would only cost time.
        **env_kwargs: constructor keywords of the env.
    """
    for label, value in (("size", size), ("action_repeat", action_repeat)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise UserInputError(f"--{label.replace('_', '-')} must be an integer >= 1, "
                                 f"got {value!r}")
    env_id = resolve_env_id(name)
    own = is_own_scene(env_id)
    if size is None and not own:
        size = DEFAULT_SIZE
    kwargs = dict(env_kwargs)
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    if env_id.startswith(DMC_PREFIX):
        kwargs.setdefault("render_mode", "rgb_array")
        kwargs.setdefault("render_kwargs", {"width": size, "height": size, "camera_id": camera})
    elif not own and _may_render(env_id):
        kwargs.setdefault("render_mode", "rgb_array")  # used unless it observes pixels
    try:
        try:
            env = gymnasium.make(env_id, **kwargs)
        except TypeError as error:  # an env that takes no render_mode may observe pixels
            if "render_mode" not in str(error) or "render_mode" in env_kwargs:
                raise
            kwargs.pop("render_mode")
            env = gymnasium.make(env_id, **kwargs)
    except (TypeError, gymnasium.error.Error, ImportError) as error:
        raise UserInputError(f"cannot make {env_id}: {_first_line(error)}") from None
    return PixelEnv(env, size=size, action_repeat=action_repeat, env_id=env_id, pixels=pixels)


def _may_render(env_id: str) -> bool:
    """False only where the env's class declares render modes without ``rgb_array``."""
    from gymnasium.envs.registration import load_env_creator

    entry = gymnasium.spec(env_id).entry_point
    try:
        creator = load_env_creator(entry) if isinstance(entry, str) else entry
    except (ImportError, AttributeError, ValueError):
        return True  # gymnasium.make will report it
    modes = getattr(creator, "metadata", {}).get("render_modes")
    return modes is None or "rgb_array" in modes


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _is_image_space(space) -> bool:
    return (isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3
            and space.shape[-1] == 3)


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """``frame`` uint8 (H, W, 3) -> uint8 (size, size, 3), anti-aliased: area averaging where
    a side shrinks (PIL's box filter), bilinear where it grows; unchanged if already that size."""
    from PIL import Image

    if frame.shape[:2] == (size, size):
        return frame
    shrinks = frame.shape[0] >= size and frame.shape[1] >= size
    method = Image.Resampling.BOX if shrinks else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(frame).resize((size, size), method), dtype=np.uint8)


class PixelEnv(gymnasium.Wrapper):
    """A Gymnasium env seen as square frames, normalised actions and true states.

    See the module docstring for what each part holds.

    Args:
        env: the env (built with ``render_mode="rgb_array"`` unless it observes pixels).
        size: square frame side in pixels; None keeps the frames as they come (they must then
            already be square).
        action_repeat: env steps per :meth:`step` (>= 1).
        env_id: the id it was made from (for messages and metadata).
        pixels: False: observations are None (no rendering; :attr:`frame_source` "none").

    Attributes:
        action_low, action_high: the env's own action bounds, float64 (d,), env units.
        frame_source: ``"observation"``, ``"observation['pixels']"`` or ``"render()"``.
        state_source, state_names: what ``info["state"]`` holds.
        has_success: whether the env itself reports ``info["is_success"]``.
        frame_dt: time between two frames (env time units), NaN if the env does not say.
    """

    def __init__(self, env: gymnasium.Env, *, size: int | None, action_repeat: int = 1,
                 env_id: str = "", pixels: bool = True) -> None:
        super().__init__(env)
        self.pixels = bool(pixels)
        self.env_id = env_id or getattr(env.spec, "id", type(env.unwrapped).__name__)
        self.action_repeat = int(action_repeat)
        self.size = size
        space = env.action_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise UserInputError(f"{self.env_id}: only continuous Box actions of shape (d,) are "
                                 f"supported, got {space}")
        self.action_low = np.asarray(space.low, dtype=np.float64)
        self.action_high = np.asarray(space.high, dtype=np.float64)
        if not (np.all(np.isfinite(self.action_low)) and np.all(np.isfinite(self.action_high))):
            raise UserInputError(f"{self.env_id}: the action bounds must be finite, got "
                                 f"[{self.action_low}, {self.action_high}]")
        self._unit_bounds = bool(np.all(self.action_low == -1) and np.all(self.action_high == 1))
        self.frame_source = self._find_frame_source() if self.pixels else "none"
        self.action_space = spaces.Box(-1.0, 1.0, space.shape, dtype=np.float32)
        self.state_source, self.state_names = self._describe_state()
        self.has_success = False
        self.frame_dt = self._step_time() * self.action_repeat
        self._shape: tuple[int, ...] | None = None
        if size is not None:
            self._shape = (size, size, 3)
        elif _is_image_space(env.observation_space):
            self._shape = tuple(env.observation_space.shape)
        if self._shape is not None:
            self.observation_space = spaces.Box(0, 255, self._shape, dtype=np.uint8)

    # ---------------------------------------------------------------------------- frames
    def _find_frame_source(self) -> str:
        observation_space = self.env.observation_space
        if _is_image_space(observation_space):
            return "observation"
        if isinstance(observation_space, spaces.Dict) and "pixels" in observation_space.spaces \
                and _is_image_space(observation_space["pixels"]):
            return "observation['pixels']"
        modes = list(self.env.metadata.get("render_modes", []))
        if self.env.render_mode != "rgb_array" or "rgb_array" not in modes:
            raise UserInputError(f"{self.env_id} has no pixels: its observations are not images "
                                 f"and it does not render rgb_array (render modes: "
                                 f"{', '.join(modes) or 'none'})")
        return "render()"

    def _frame(self, observation) -> np.ndarray | None:
        if not self.pixels:
            return None
        if self.frame_source == "observation":
            frame = observation
        elif self.frame_source == "observation['pixels']":
            frame = observation["pixels"]
        else:
            try:
                frame = self.env.render()
            except gymnasium.error.DependencyNotInstalled as error:
                raise UserInputError(f"{self.env_id} cannot render: {_first_line(error)}") \
                    from None
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise UserInputError(f"{self.env_id}: frames must be uint8 (H, W, 3), got "
                                 f"{frame.dtype} {frame.shape}")
        if self.size is not None:
            frame = resize_frame(frame, self.size)
        elif frame.shape[0] != frame.shape[1]:
            raise UserInputError(f"{self.env_id}: frames are {frame.shape[:2]}, not square; "
                                 f"give a --size")
        if self._shape is None:  # first frame of an env that renders: now the size is known
            self._shape = frame.shape
            self.observation_space = spaces.Box(0, 255, self._shape, dtype=np.uint8)
        return frame

    # ---------------------------------------------------------------------------- states
    def _physics(self):
        """(qpos, qvel, names) of a MuJoCo env, or None."""
        unwrapped = self.env.unwrapped
        physics = getattr(unwrapped, "physics", None)
        if physics is not None:  # dm_control
            names = list(physics.named.data.qpos.axes.row.names)
            return physics.data.qpos, physics.data.qvel, names
        data = getattr(unwrapped, "data", None)
        if data is not None and hasattr(data, "qpos") and hasattr(data, "qvel"):
            return data.qpos, data.qvel, [f"q{i}" for i in range(len(data.qpos))]
        return None

    def _describe_state(self) -> tuple[str, list[str]]:
        unwrapped = self.env.unwrapped
        physics = self._physics()
        if getattr(unwrapped, "params", None) is not None and hasattr(unwrapped, "goal_distance"):
            return "info['state'] of the scene", []
        if physics is not None:
            qpos, qvel, names = physics
            if len(names) != len(qvel):  # free or ball joints: positions and speeds differ
                return "MuJoCo qpos then qvel", []
            return ("MuJoCo generalized positions (qpos) then velocities (qvel), simulator "
                    "units (m, rad, m/s, rad/s)",
                    [f"{n}_pos" for n in names] + [f"{n}_vel" for n in names])
        if _numeric(getattr(unwrapped, "state", None)) is not None:
            return "env.unwrapped.state", []
        return "none (the env exposes no state)", []

    def _state(self, info: dict) -> np.ndarray:
        if "state" in info:
            return np.asarray(info["state"], dtype=np.float64)
        physics = self._physics()
        if physics is not None:
            return np.concatenate([physics[0], physics[1]]).astype(np.float64)
        state = _numeric(getattr(self.env.unwrapped, "state", None))
        return state if state is not None else np.zeros(0)

    def _step_time(self) -> float:
        unwrapped = self.env.unwrapped
        for name in ("dt", "tau"):
            value = getattr(unwrapped, name, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        return math.nan

    def _info(self, info: dict) -> dict:
        info = dict(info)
        if "is_success" in info:
            self.has_success = True
        info["state"] = self._state(info)
        info.setdefault("goal", np.zeros(0))
        info["is_success"] = bool(info.get("is_success", False))
        return info

    # ---------------------------------------------------------------------------- actions
    def to_env_units(self, action) -> np.ndarray:
        """A normalised action in [-1, 1] (d,) -> the env's units (clipped to its bounds)."""
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        if self._unit_bounds:
            return a.astype(self.env.action_space.dtype)
        scaled = self.action_low + (a + 1.0) * 0.5 * (self.action_high - self.action_low)
        return scaled.astype(self.env.action_space.dtype)

    # ---------------------------------------------------------------------------- Gymnasium
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        info = self._info(info)
        info["env_steps"] = 0
        return self._frame(observation), info

    def step(self, action):
        env_action = action if self._unit_bounds else self.to_env_units(action)
        total, steps = 0.0, 0
        while steps < self.action_repeat:
            observation, reward, terminated, truncated, info = self.env.step(env_action)
            total += float(reward)
            steps += 1
            if terminated or truncated:
                break
        info = self._info(info)
        info["env_steps"] = steps
        return self._frame(observation), total, terminated, truncated, info


def _numeric(value) -> np.ndarray | None:
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array.reshape(-1)
