"""Exploration rollouts from any env with pixels: the data a world model for control learns from.

The env is one of our actuated scenes (short name or id) or any registered Gymnasium id whose
env has pixels (Gymnasium's own, a user's, DMC through Shimmy); it is seen through
:class:`pig_control.pixel_env.PixelEnv`: square frames (our scenes native, others 64 x 64 by
default), actions normalised to [-1, 1] (stored so; the env's own bounds are stored beside
them), an optional action repeat, and the true state where the env exposes one.

Episodes run through Gymnasium's synchronous vector environments with the TimeLimit set to the
number of steps, so every episode is exactly ``steps`` long from an explicit, seeded reset.
Gymnasium 1.x autoresets a finished sub-environment on the *next* ``step`` call; the collector
never makes that call (it resets all sub-environments itself before each batch), and a
sub-environment that ends early is recorded up to its end and padded (see
:func:`collect_rollouts`).

Every episode ``i`` draws its reset seed and its actions from ``SeedSequence([seed, i])``, so the
data depend on the seed only, not on how many environments run side by side.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from tqdm import tqdm

from pig_control.errors import UserInputError
from pig_control.pixel_env import is_own_scene, make_pixel_env, resolve_env_id

#: Short scene name -> registered Gymnasium id (DESIGN.md).
ENV_IDS = {"bouncing": "PIG/BouncingBalls-v0", "spring": "PIG/Spring-v0",
           "gravity": "PIG/ThreeBody-v0", "mnist_spring": "PIG/DigitSpring-v0",
           "pendulum": "PIG/Pendulum-v0"}
POLICIES = ("random", "colored")


def colored_noise(rng: np.random.Generator, shape: tuple[int, ...], beta: float = 2.0,
                  std: float = 0.5) -> np.ndarray:
    """Temporally correlated Gaussian noise with power spectrum ``1 / f**beta``, clipped to [-1, 1].

    Generated in the frequency domain along axis 1 (time), independently for every other index
    (episode, action dimension): complex Gaussian coefficients scaled by ``f**(-beta / 2)`` (the
    zero frequency takes the lowest non-zero frequency's scale, so slow drifts and offsets are
    allowed), then an inverse real FFT. The result is normalised with its exact theoretical
    standard deviation to have standard deviation ``std`` and clipped to ``[-1, 1]``.
    ``beta = 0`` is white noise, 1 pink, 2 red (Brownian-like; iCEM's default).

    Args:
        rng: random generator.
        shape: ``(n, T, ...)``; time is axis 1.
        beta: spectral exponent (>= 0).
        std: standard deviation before clipping (action units; the bounds are +-1).

    Returns:
        float32 array of ``shape`` in ``[-1, 1]``.
    """
    if len(shape) < 2:
        raise ValueError(f"shape must be (n, T, ...), got {shape}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    n, t, rest = shape[0], shape[1], tuple(shape[2:])
    if t < 2:  # no frequencies to shape: plain Gaussian noise
        return np.clip(std * rng.standard_normal(shape), -1.0, 1.0).astype(np.float32)
    freqs = np.fft.rfftfreq(t)
    freqs[0] = freqs[1]
    scale = freqs ** (-beta / 2.0)
    k = len(freqs)
    spec_shape = (n, k) + rest
    bshape = (1, k) + (1,) * len(rest)
    real = rng.standard_normal(spec_shape)
    imag = rng.standard_normal(spec_shape)
    imag[:, 0] = 0.0  # the mean (and, for even T, the Nyquist term) is real
    # x_t = (1/T) (X_0 + 2 sum_k Re(X_k e^(2 pi i k t / T)) + X_nyq (-1)^t), so the variance of
    # every sample is (1/T^2) (s_0^2 + 4 sum_k s_k^2 + s_nyq^2).
    weights = np.full(k, 4.0)
    weights[0] = 1.0
    if t % 2 == 0:
        imag[:, -1] = 0.0
        weights[-1] = 1.0
    sigma = np.sqrt(np.sum(weights * scale**2)) / t
    noise = np.fft.irfft((real + 1j * imag) * scale.reshape(bshape), n=t, axis=1)
    return np.clip(noise * (std / sigma), -1.0, 1.0).astype(np.float32)


def random_actions(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform i.i.d. actions in ``[-1, 1]`` (float32)."""
    return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)


def collect_rollouts(env: str, *, episodes: int, steps: int, policy: str = "random",
                     seed: int = 0, beta: float = 2.0, noise_std: float = 0.5,
                     num_envs: int = 8, progress: bool | None = None, size: int | None = None,
                     action_repeat: int = 1, camera: int = 0) -> dict:
    """Run ``episodes`` episodes of exactly ``steps`` control steps in env ``env``.

    Args:
        env: short scene name (:data:`ENV_IDS`) or any registered Gymnasium id with pixels.
        episodes: number of episodes N (>= 1).
        steps: control steps T per episode (>= 1); the TimeLimit is set to T (times the
            action repeat, in env steps).
        policy: ``"random"`` (uniform i.i.d. in [-1, 1]) or ``"colored"`` (:func:`colored_noise`
            per episode and action dimension, exponent ``beta``, std ``noise_std``).
        seed: non-negative integer.
        num_envs: sub-environments run side by side (gymnasium ``SyncVectorEnv``).
        progress: show a tqdm bar (None: only on a terminal).
        size: square frame side in pixels (None: our scenes native, other envs 64).
        action_repeat: env steps per control step (>= 1; DMC convention 2).
        camera: DMC camera id.

    Returns:
        ``frames`` uint8 ``(N, T + 1, H, W, 3)`` (the reset observation, then one per step),
        ``actions`` float32 ``(N, T, d)``, ``states`` float32 ``(N, T + 1, *S)`` (``info
        ["state"]``), ``rewards`` float32 ``(N, T)``, ``is_success`` bool ``(N, T)``, ``goals``
        float32 ``(N, *G)`` (``info["goal"]`` at reset), ``lengths`` int64 ``(N,)`` (T unless the
        scene ended an episode early: then frames and states after the end repeat the last
        ones, and the actions there are 0), ``action_low`` / ``action_high`` float32 ``(d,)``
        (the env's own bounds: an action ``a`` stored in [-1, 1] was applied as ``low + (a + 1)
        / 2 * (high - low)``), ``state_names`` (one per state entry where known), and the
        metadata ``kind``, ``scene`` (short name of our scenes, else the id), ``env_id``,
        ``params`` (our scenes' true parameters; empty for other envs), ``dt`` (time between
        frames: the env's step time times the action repeat; NaN if unknown), ``seed``,
        ``policy``, ``action_repeat``, ``frame_source``, ``state_source`` (what the states
        are), ``has_success`` (whether the env defines success) and ``env_frames`` (every env
        step and reset the environments made, repeated actions included).
    """
    env_id = resolve_env_id(env)
    if policy not in POLICIES:
        raise UserInputError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    for name, value, minimum in (("--episodes", episodes, 1), ("--steps", steps, 1),
                                 ("--seed", seed, 0), ("--num-envs", num_envs, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise UserInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if not beta >= 0:
        raise UserInputError(f"--beta must be >= 0, got {beta}")
    if not noise_std > 0:
        raise UserInputError(f"--noise-std must be > 0, got {noise_std}")

    for name, value in (("--size", size), ("--action-repeat", action_repeat),
                        ("--camera", camera)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < (0 if name == "--camera" else 1)):
            raise UserInputError(f"{name} must be an integer >= "
                                 f"{0 if name == '--camera' else 1}, got {value!r}")

    import gymnasium as gym

    make = partial(make_pixel_env, env_id, size=size, action_repeat=action_repeat,
                   camera=camera, max_episode_steps=steps * action_repeat)
    vec = None
    probe = None
    out: dict = {}
    env_frames = 0
    try:
        with tqdm(total=episodes, unit="ep", desc=f"rollouts {env}",
                  disable=None if progress is None else not progress) as bar:
            for start in range(0, episodes, num_envs):
                m = min(num_envs, episodes - start)
                if vec is None or vec.num_envs != m:
                    if vec is not None:
                        vec.close()
                    vec = gym.vector.SyncVectorEnv([make] * m)
                if not out:
                    probe = vec.envs[0]
                    out = _allocate(vec, episodes, steps)
                    d = out["actions"].shape[-1]
                streams = [np.random.SeedSequence([seed, i]) for i in range(start, start + m)]
                actions = np.stack([_policy_actions(np.random.default_rng(s), policy, steps, d,
                                                    beta, noise_std) for s in streams])
                reset_seeds = [int(s.generate_state(1)[0]) for s in streams]
                env_frames += _run_batch(vec, out, slice(start, start + m), actions, reset_seeds)
                bar.update(m)
    finally:
        if vec is not None:
            vec.close()
    own = is_own_scene(env_id)
    out.update(kind="rollouts", scene=_short_name(env_id) if own else env_id, env_id=env_id,
               params=dict(probe.unwrapped.params) if own else {}, dt=float(probe.frame_dt),
               seed=int(seed), policy=policy, action_repeat=int(action_repeat),
               frame_source=probe.frame_source, state_source=probe.state_source,
               has_success=bool(probe.has_success), env_frames=int(env_frames),
               action_low=probe.action_low.astype(np.float32),
               action_high=probe.action_high.astype(np.float32))
    if probe.state_names:
        out["state_names"] = np.array(probe.state_names)
    return out


def _short_name(env_id: str) -> str:
    return next(short for short, full in ENV_IDS.items() if full == env_id)


def _policy_actions(rng, policy: str, steps: int, d: int, beta: float, std: float) -> np.ndarray:
    if policy == "random":
        return random_actions(rng, (steps, d))
    return colored_noise(rng, (1, steps, d), beta=beta, std=std)[0]


def _allocate(vec, episodes: int, steps: int) -> dict:
    obs_shape = vec.single_observation_space.shape
    d = int(np.prod(vec.single_action_space.shape))
    if len(obs_shape) != 3 or obs_shape[-1] != 3:
        raise RuntimeError(f"expected image observations (H, W, 3), got {obs_shape}")
    return {
        "frames": np.zeros((episodes, steps + 1) + tuple(obs_shape), dtype=np.uint8),
        "actions": np.zeros((episodes, steps, d), dtype=np.float32),
        "rewards": np.zeros((episodes, steps), dtype=np.float32),
        "is_success": np.zeros((episodes, steps), dtype=bool),
        "lengths": np.full(episodes, steps, dtype=np.int64),
    }


def _run_batch(vec, out: dict, rows: slice, actions: np.ndarray, reset_seeds: list[int]) -> int:
    """Reset every sub-environment, step ``T`` times, and write the results into ``out[rows]``.

    Returns the number of frames the environments produced (resets included).
    """
    m, steps = actions.shape[:2]
    obs, info = vec.reset(seed=reset_seeds)
    if obs.shape[1:] != out["frames"].shape[2:]:
        raise UserInputError(f"frames changed size during the rollouts: {obs.shape[1:]}, first "
                             f"{out['frames'].shape[2:]}")
    states0 = np.asarray(info["state"], dtype=np.float32)
    if "states" not in out:
        n = out["frames"].shape[0]
        out["states"] = np.zeros((n, steps + 1) + states0.shape[1:], dtype=np.float32)
        goal = np.asarray(info["goal"], dtype=np.float32)
        out["goals"] = np.zeros((n,) + goal.shape[1:], dtype=np.float32)
    frames, states = out["frames"][rows], out["states"][rows]  # views into the outputs
    frames[:, 0], states[:, 0] = obs, states0
    out["goals"][rows] = info["goal"]
    alive = np.ones(m, dtype=bool)
    produced = m
    for t in range(steps):
        obs, reward, terminated, truncated, info = vec.step(actions[:, t])
        env_steps = np.asarray(info.get("env_steps", np.ones(m, dtype=np.int64)))
        produced += int(env_steps[alive].sum())  # repeated actions count, as the field counts
        frames[:, t + 1] = np.where(alive[:, None, None, None], obs, frames[:, t])
        states[:, t + 1] = np.where(alive.reshape((m,) + (1,) * (states.ndim - 2)),
                                    info["state"], states[:, t])
        out["rewards"][rows][:, t] = np.where(alive, reward, 0.0)
        out["is_success"][rows][:, t] = alive & np.asarray(info["is_success"], dtype=bool)
        out["actions"][rows][:, t] = np.where(alive[:, None], actions[:, t], 0.0)
        ended = alive & (np.asarray(terminated) | np.asarray(truncated))
        if t < steps - 1 and ended.any():
            # Ended before T: the next step() would autoreset it; keep its end, pad the rest.
            out["lengths"][rows][ended] = t + 1
            alive &= ~ended
    return produced
