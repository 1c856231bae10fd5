"""Model-free baselines: stable-baselines3 PPO and SAC on the goal-conditioned scenes.

The scenes give a frame and keep the goal in ``info["goal"]``; a model-free agent needs the goal
in its observation. :class:`GoalObservation` supplies it in one of two forms:

- ``pixels``: the last ``frames`` frames (oldest first, so velocities are observable) and the
  goal image (the goal state rendered by the scene), stacked along the channel axis:
  ``Box(0, 255, (H, W, 3 * (frames + 1)), uint8)``. The policy reads it with
  :class:`SmallCNN`, sized for 32-64 px frames (SB3's NatureCNN needs at least 36 px).
- ``state``: the privileged reference: true state and goal as features (ball scenes: pixels
  and pixels per time unit divided by the image size; pendulum: cos, sin and angular
  velocity over the maximum speed), ``Box(-inf, inf, (2 * F,), float32)``.

Envs without a goal (any Gymnasium env seen through ``pig_control.pixel_env.PixelEnv``, such as
the DeepMind Control Suite's) get the same two kinds without the goal part: the last ``frames``
frames, or the env's true state (``info["state"]``: MuJoCo's qpos then qvel). Such an env may
repeat each action (``action_repeat``, the DMC convention is 2): budgets and ``frames_seen``
count env frames, every repeated step included, as the field's learning curves do.

Hyperparameters (:data:`HYPERPARAMS`) come from rl-baselines3-zoo (hyperparams/ppo.yml and
sac.yml) where it has an entry close to the task: PPO from pixels follows zoo's
``CarRacing`` entry (the zoo's continuous-control task from pixels: 8 envs, frame stack 2,
reward normalisation, gSDE, GELU, linear learning-rate decay from 1e-4); PPO from states and
SAC (both observation kinds) follow zoo's ``Pendulum-v1`` entries. The zoo has no SAC from
pixels; it uses the Pendulum-v1 entry with :class:`SmallCNN`, minibatches of 128 (SB3's 256
halved: a gradient step through the CNN dominates its cost) and a replay buffer as large as the
training budget. During training only, ball-scene rewards (negative pixel distance) are
divided by the image size so they are of order one; evaluation reports the env's own reward.

SB3 is imported at module level: import this module only where the baselines are wanted.
It knows the scenes only through the Gymnasium API and duck typing
(``env.unwrapped.render_states``, ``image_size``, ``state_shape``): ``agents`` never imports
``pig_control``.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
from torch import nn
from tqdm import tqdm

#: Observation kinds a baseline can learn from.
OBSERVATIONS = ("pixels", "state")
#: Algorithms, by their short name.
ALGOS = ("ppo", "sac")

#: Per (algorithm, observation kind): rl-baselines3-zoo hyperparameters (module docstring).
#: ``n_envs``, ``normalize_reward`` and ``policy`` are ours to apply; the rest go to SB3.
HYPERPARAMS: dict[tuple[str, str], dict] = {
    ("ppo", "pixels"): dict(  # zoo ppo.yml CarRacing
        n_envs=8, normalize_reward=True, n_steps=512, batch_size=128, gamma=0.99,
        gae_lambda=0.95, n_epochs=10, ent_coef=0.0, sde_sample_freq=4, max_grad_norm=0.5,
        vf_coef=0.5, learning_rate="lin_1e-4", use_sde=True, clip_range=0.2,
        policy_kwargs=dict(log_std_init=-2.0, ortho_init=False, activation_fn="gelu",
                           net_arch=dict(pi=[256], vf=[256]))),
    ("ppo", "state"): dict(  # zoo ppo.yml Pendulum-v1
        n_envs=4, normalize_reward=False, n_steps=1024, gae_lambda=0.95, gamma=0.9,
        n_epochs=10, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, use_sde=True,
        sde_sample_freq=4),
    ("sac", "pixels"): dict(n_envs=1, normalize_reward=False, learning_rate=1e-3,
                            batch_size=128),  # Pendulum-v1, half SB3's batch (speed)
    ("sac", "state"): dict(n_envs=1, normalize_reward=False, learning_rate=1e-3),  # Pendulum-v1
}


def has_goal(scene) -> bool:
    """Whether the env is one of our goal-conditioned scenes (it can draw its goal)."""
    return hasattr(scene, "render_states") and hasattr(scene, "goal_distance")


def reward_scale(scene) -> float:
    """Training reward = env reward / this: the image size (pixels) for ball scenes, 1 for the
    pendulum (Gymnasium's own scale, which the zoo tuned for) and for envs that are not ours
    (DMC's rewards are already in [0, 1] per step)."""
    if not has_goal(scene) or len(scene.state_shape) == 1:
        return 1.0
    return float(scene.image_size)


def state_features(scene, states: np.ndarray) -> np.ndarray:
    """Flat float32 features of one state (or goal) for the ``state`` observation."""
    states = np.asarray(states, dtype=np.float64)
    if len(scene.state_shape) == 1:  # pendulum: (theta, theta_dot)
        theta, speed = states[0], states[1]
        return np.array([np.cos(theta), np.sin(theta), speed / scene.max_speed], np.float32)
    return (states / scene.image_size).astype(np.float32).ravel()


class GoalObservation(gym.Wrapper):
    """Observation = recent frames and goal image (``pixels``), or state and goal (``state``).

    Args:
        env: a PIG scene (wrapped or not), whose goal is read from ``info["goal"]`` at reset,
            or an env without a goal (:func:`has_goal`), whose observations hold no goal part.
        kind: ``"pixels"`` or ``"state"``.
        frames: frames stacked for ``pixels`` (oldest first; the first frame repeats at reset).
    """

    def __init__(self, env: gym.Env, kind: str = "pixels", frames: int = 2):
        super().__init__(env)
        if kind not in OBSERVATIONS:
            raise ValueError(f"observation kind must be one of {OBSERVATIONS}, got '{kind}'")
        if frames < 1:
            raise ValueError(f"frames must be at least 1, got {frames}")
        self.kind, self.frames = kind, frames
        self.scene = env.unwrapped
        self.goal = has_goal(self.scene)
        self._history: list[np.ndarray] = []
        self._goal: np.ndarray | None = None
        if kind == "pixels":
            h, w, c = env.observation_space.shape
            stacked = frames + 1 if self.goal else frames
            self.observation_space = gym.spaces.Box(0, 255, (h, w, c * stacked), np.uint8)
        else:
            if self.goal:
                size = 2 * state_features(self.scene, np.zeros(self.scene.state_shape)).size
            else:  # the length of the env's true state, from one reset
                size = len(np.ravel(env.reset()[1].get("state", [])))
                if size == 0:
                    raise ValueError(f"{getattr(env, 'env_id', 'this env')} exposes no true "
                                     "state: use --obs pixels")
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)

    def reset(self, **kwargs):
        observation, info = self.env.reset(**kwargs)
        if self.kind == "pixels":
            self._history = [observation] * self.frames
        if self.goal:
            goal = np.asarray(info["goal"])
            self._goal = (self.scene.render_states(goal) if self.kind == "pixels"
                          else state_features(self.scene, goal))
        return self._observe(observation, info), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(observation, info), reward, terminated, truncated, info

    def _observe(self, frame: np.ndarray, info: dict) -> np.ndarray:
        if self.kind == "pixels":
            self._history = [*self._history[1:], frame]
            goal = [self._goal] if self.goal else []
            return np.concatenate([*self._history, *goal], axis=-1)
        if not self.goal:
            return np.asarray(info["state"], dtype=np.float32)
        return np.concatenate([state_features(self.scene, info["state"]), self._goal])


class WholeBudgetLinear:
    """zoo's ``lin_X`` over a whole budget trained in several ``learn`` calls.

    SB3 passes ``progress_remaining = 1 - n / call_end`` (``n`` frames so far, ``call_end`` the
    frames the current call trains to), which would restart the decay at every evaluation
    budget; this maps it back to ``X * (1 - n / budget)``. Plain numbers only, so SB3 can save it.
    """

    def __init__(self, start: float, budget: int, call_end: int):
        self.start, self.budget, self.call_end = start, budget, call_end

    def __call__(self, progress_remaining: float) -> float:
        frames = (1.0 - progress_remaining) * self.call_end
        return self.start * max(0.0, 1.0 - frames / self.budget)


class SmallCNN(BaseFeaturesExtractor):
    """Features of small frames (32-64 px): three 3x3 convolutions (16, 32 and 32 channels,
    strides 2, 2, 1, ReLU) and a linear layer to ``features_dim``; channels first (SB3 transposes
    image observations). About 3x cheaper than 32/64/64 channels, which made SAC from pixels
    run at 2 frames/s on one CPU core."""

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 128):
        super().__init__(observation_space, features_dim)
        channels = observation_space.shape[0]
        self.cnn = nn.Sequential(
            nn.Conv2d(channels, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=1), nn.ReLU(), nn.Flatten())
        with torch.no_grad():
            flat = self.cnn(torch.zeros(1, *observation_space.shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(flat, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(observations))


def sb3_kwargs(algo: str, kind: str, budget: int) -> tuple[int, bool, dict]:
    """(n_envs, normalize_reward, keyword arguments for the SB3 constructor).

    PPO's rollout (``n_envs * n_steps``) shrinks to fit a budget smaller than one rollout, and
    its minibatch with it; SAC's replay buffer holds the whole budget (at most 10^6)."""
    params = {k: v for k, v in HYPERPARAMS[(algo, kind)].items()}
    n_envs, normalize = params.pop("n_envs"), params.pop("normalize_reward")
    policy_kwargs = dict(params.pop("policy_kwargs", {}))
    if policy_kwargs.get("activation_fn") == "gelu":
        policy_kwargs["activation_fn"] = nn.GELU
    if kind == "pixels":
        policy_kwargs.update(features_extractor_class=SmallCNN,
                             features_extractor_kwargs=dict(features_dim=128))
    if algo == "ppo":
        n_steps = max(16, min(params.get("n_steps", 2048), budget // n_envs))
        params["n_steps"] = n_steps
        params["batch_size"] = min(params.get("batch_size", 64), n_steps * n_envs)
    else:
        params["buffer_size"] = int(min(max(budget, 1000), 1_000_000))
    rate = params["learning_rate"]
    if isinstance(rate, str) and rate.startswith("lin_"):  # zoo's lin_X
        params["learning_rate"] = WholeBudgetLinear(float(rate[4:]), budget, budget)
    return n_envs, normalize, dict(params, policy_kwargs=policy_kwargs)


class Baseline:
    """One SB3 agent on one scene: train up to a budget of env frames, evaluate, save, load.

    Args:
        algo: ``"ppo"`` or ``"sac"``.
        kind: ``"pixels"`` or ``"state"``.
        make_env: builds a fresh env (with its time limit): one of our scenes, or an env
            without a goal, possibly repeating actions (its ``action_repeat`` attribute).
        budget: the largest number of env frames it will be trained for (sizes PPO's rollout
            and SAC's buffer).
        seed: seeds SB3 and the training envs (env i of the vector gets ``seed + i``).
        log_dir: a folder for SB3's training logs, one subfolder per training call:
            ``progress.csv`` always, TensorBoard event files too when ``tensorboard`` is
            installed (None: no logs).
        frames: frames stacked in pixel observations.
        device: torch device of the policy (``cpu`` or ``cuda``).
    """

    def __init__(self, algo: str, kind: str, make_env: Callable[[], gym.Env], budget: int,
                 seed: int = 0, log_dir: str | Path | None = None, frames: int = 2,
                 device: str = "cpu"):
        if algo not in ALGOS:
            raise ValueError(f"unknown algorithm '{algo}'; known: {', '.join(ALGOS)}")
        if kind not in OBSERVATIONS:
            raise ValueError(f"unknown observation kind '{kind}'; known: "
                             f"{', '.join(OBSERVATIONS)}")
        self.algo, self.kind, self.frames, self.make_env = algo, kind, frames, make_env
        probe = make_env()
        #: env frames per agent step (SB3 counts agent steps)
        self.action_repeat = int(getattr(probe, "action_repeat", 1))
        scale = reward_scale(probe.unwrapped)
        probe.close()
        n_envs, normalize, kwargs = sb3_kwargs(algo, kind, -(-budget // self.action_repeat))

        def training_env():
            wrapped = GoalObservation(make_env(), kind, frames)
            return gym.wrappers.TransformReward(wrapped, lambda r: r / scale)

        vec = DummyVecEnv([training_env] * n_envs)
        vec.seed(seed)
        self.vec = VecNormalize(vec, norm_obs=False, norm_reward=True) if normalize else vec
        policy = "CnnPolicy" if kind == "pixels" else "MlpPolicy"
        cls = PPO if algo == "ppo" else SAC
        self.device = device
        self.model = cls(policy, self.vec, seed=seed, verbose=0, device=device, **kwargs)
        self.budget = budget
        self.sizing = {k: kwargs[k] for k in ("n_steps", "batch_size", "buffer_size")
                       if k in kwargs}
        self.log_dir = log_dir
        self.train_seconds = 0.0

    @property
    def name(self) -> str:
        return f"{self.algo}-{self.kind}"

    @property
    def frames_seen(self) -> int:
        """Env frames collected so far (agent steps times the action repeat)."""
        return int(self.model.num_timesteps) * self.action_repeat

    def train_to(self, env_frames: int, progress: bool = True) -> None:
        """Train until at least ``env_frames`` env frames have been collected in all."""
        remaining = -(-(env_frames - self.frames_seen) // self.action_repeat)  # agent steps
        if remaining <= 0:
            return
        start = time.perf_counter()
        steps_to = int(self.model.num_timesteps) + remaining
        callback = _ProgressCallback(steps_to, f"{self.name} steps") if progress else None
        rate = self.model.learning_rate
        if isinstance(rate, WholeBudgetLinear):  # SB3 measures progress within this call only
            self.model.lr_schedule = WholeBudgetLinear(rate.start, rate.budget, steps_to)
        if self.log_dir is not None:  # one folder per call: SB3's CSV logger truncates its file
            folder = Path(self.log_dir) / f"frames_{self.frames_seen}_{env_frames}"
            self.model.set_logger(configure(str(folder), ["csv", *_tensorboard()]))
        self.model.learn(remaining, callback=callback, reset_num_timesteps=False,
                         tb_log_name=self.name, progress_bar=False)
        if callback is not None:
            callback.close()
        self.train_seconds += time.perf_counter() - start

    def evaluate(self, episodes: int, seed: int, max_steps: int | None = None) -> list[dict]:
        """Deterministic episodes; episode i resets with ``seed + i`` (as ``pig_control.mpc``).
        Returns per episode: seed, success (``info["is_success"]`` at the final step; None
        where the env defines no success), final_distance (the env's goal distance; None
        without a goal), return (the env's own reward, summed over every env step), steps
        (agent steps; ``max_steps`` caps them, None: until the env's time limit ends it)."""
        env = GoalObservation(self.make_env(), self.kind, self.frames)
        scene, goal = env.unwrapped, env.goal
        limit = max_steps or (scene.max_episode_steps if goal else None)
        results = []
        for i in range(episodes):
            observation, info = env.reset(seed=seed + i)
            defines_success = goal or bool(getattr(env.env, "has_success", False))
            total, steps = 0.0, 0
            while limit is None or steps < limit:
                action, _ = self.model.predict(observation, deterministic=True)
                observation, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                steps += 1
                if terminated or truncated:
                    break
            distance = (float(scene.goal_distance(info["state"], info["goal"])) if goal
                        else None)
            results.append({"seed": seed + i,
                            "success": bool(info["is_success"]) if defines_success else None,
                            "final_distance": distance, "return": total, "steps": steps})
        env.close()
        return results

    def save(self, path: str | Path) -> None:
        """The SB3 zip (weights and counters; SB3's format, which stores spaces and schedules
        with cloudpickle) plus the reward normaliser's running statistics as a small ``.npz``
        (not VecNormalize's pickle). SAC's replay buffer is not saved."""
        path = Path(path)
        stats = {"train_seconds": np.array(self.train_seconds)}
        if hasattr(self.vec, "ret_rms"):
            rms = self.vec.ret_rms
            stats.update(mean=np.asarray(rms.mean), var=np.asarray(rms.var),
                         count=np.array(rms.count))
        # statistics first, the zip last, each written whole then renamed: a run killed while
        # saving leaves no zip that resume would pick up
        with open(path.with_suffix(".stats.npz.tmp"), "wb") as handle:
            np.savez(handle, **stats)
        path.with_suffix(".stats.npz.tmp").replace(path.with_suffix(".stats.npz"))
        self.model.save(path.with_suffix(".tmp.zip"))
        path.with_suffix(".tmp.zip").replace(path)

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote (the env and hyperparameters are this object's).

        Nothing in the zip is unpickled: every field SB3 would deserialise with cloudpickle
        (:func:`pickled_fields`: spaces, policy class, schedules) is taken from this object
        instead, through SB3's ``custom_objects``; the weights load with
        ``torch.load(weights_only=True)`` inside SB3. A zip asking to unpickle a field this
        object does not have is refused. Callers that did not write the file themselves must
        verify it first (``pig_control.integrity.verify``).
        """
        path = Path(path)
        cls = type(self.model)
        try:
            pickled = pickled_fields(path)
            unknown = [name for name in pickled if not hasattr(self.model, name)]
            if unknown:
                raise ValueError(f"it holds pickled fields {unknown} that this agent does not "
                                 f"have: refused")
            replacements = {name: getattr(self.model, name) for name in pickled}
            # this object's rollout and buffer sizes, not those the file was saved with
            self.model = cls.load(path, env=self.vec, device=self.device,
                                  custom_objects=replacements, **self.sizing)
        except (zipfile.BadZipFile, KeyError, RuntimeError, ValueError, OSError) as error:
            raise ValueError(f"cannot load the baseline checkpoint '{path}': "
                             f"{error or type(error).__name__}") from None
        with np.load(path.with_suffix(".stats.npz")) as stats:
            self.train_seconds = float(stats["train_seconds"])
            if hasattr(self.vec, "ret_rms") and "mean" in stats:
                self.vec.ret_rms.mean = stats["mean"]
                self.vec.ret_rms.var = stats["var"]
                self.vec.ret_rms.count = float(stats["count"])


def pickled_fields(path: str | Path) -> list[str]:
    """Names of the fields of an SB3 zip's ``data`` record that SB3's loader would unpickle
    (those stored as ``{":serialized:": ...}``); the record itself is read as plain JSON."""
    with zipfile.ZipFile(path) as archive:
        record = json.loads(archive.read("data"))
    if not isinstance(record, dict):
        raise ValueError("its 'data' record is not a JSON object")
    return [name for name, value in record.items()
            if isinstance(value, dict) and ":serialized:" in value]


class _ProgressCallback(BaseCallback):
    """A tqdm bar of agent steps taken (SB3's timesteps), towards ``total``."""

    def __init__(self, total: int, desc: str):
        super().__init__()
        self.total, self.desc, self.bar = total, desc, None

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, initial=self.model.num_timesteps, desc=self.desc,
                        leave=False, unit="step")

    def _on_step(self) -> bool:
        if self.n_calls % 64 == 0:
            self.bar.n = min(self.model.num_timesteps, self.total)
            self.bar.refresh()
        return True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _tensorboard() -> list[str]:
    """``["tensorboard"]`` when the tensorboard package is installed, else nothing."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return []
    return ["tensorboard"]


def parse_budgets(text: str) -> list[int]:
    """``"2048,10000"`` -> ``[2048, 10000]`` (sorted, unique, each at least 1)."""
    try:
        budgets = sorted({int(float(part)) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"--steps must be comma-separated integers, got '{text}'") from None
    if not budgets or budgets[0] < 1:
        raise ValueError(f"--steps needs positive frame counts, got '{text}'")
    return budgets


def parse_names(text: str, known: Sequence[str], what: str) -> list[str]:
    """``"ppo,sac"`` -> ``["ppo", "sac"]``, each checked against ``known``."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"{what} must be a comma-separated subset of {', '.join(known)}; "
                         f"got '{text}'")
    return list(dict.fromkeys(names))
