"""The DMC oracle: the planner on the true MuJoCo state through the described system with the
env's true parameters (read by :mod:`pig_control.dmc`), scored by the env's own reward.

One control step = ``action_repeat`` env steps with the action held (the DMC convention for
pixel control is 2); the described system integrates one control step with ``substeps``
semi-implicit Euler steps. An episode is the env's own (DMC: 1,000 env steps), its return the
sum of the env's rewards over all of them.
"""

from __future__ import annotations

import statistics

import numpy as np

from pig_control import dmc
from pig_control.control.system_oracle import SystemOracle
from pig_control.pixel_env import make_pixel_env

#: Goal coordinates of each domain's swing-up task (upright; the cart at the rail's centre).
GOALS = {"pendulum": (0.0,), "cartpole": (0.0, 0.0)}
#: Control defaults of each domain (on top of the system's ``defaults``; the command line's
#: ``--horizon`` and ``--cost-option`` win): a look-ahead of 40 control steps (1.6 s at action
#: repeat 2) and, for the pendulum, the energy-shaped swing-up term of
#: :meth:`pig_control.systems.pendulum.Pendulum.energy_gap` (weight 100 against the angle's 1:
#: on tuning seeds 0-19 the oracle's mean return rose from 746 to 814, docs/dmc.md) with its
#: target raised by ``energy_margin`` 0.1 away from upright, so that a learned model whose
#: energy bookkeeping errs short still swings over the top (docs/dmc.md; the oracle is
#: unaffected).
CONTROL_DEFAULTS = {"pendulum": {"horizon": 40,
                                 "cost": {"energy_weight": 100.0, "energy_margin": 0.1}},
                    "cartpole": {"horizon": 40, "cost": {}}}


def build(env_id: str, *, action_repeat: int = 2, substeps: int | None = None,
          planner: str = "gn", horizon: int | None = None, planner_options: dict | None = None,
          cost_options: dict | None = None, max_episode_steps: int | None = None):
    """(env without rendering, :class:`SystemOracle`, the truth, the described values) for a
    DMC id. ``substeps`` default: one per MuJoCo step of the control step;
    ``max_episode_steps``: env steps per episode (None: the env's own, DMC 1,000)."""
    from pig_control.systems import resolve_system

    domain = dmc.domain_of(env_id)
    env = make_pixel_env(env_id, action_repeat=action_repeat, pixels=False,
                         max_episode_steps=max_episode_steps)
    try:
        truth = dmc.true_parameters(env.unwrapped.physics, domain)
        name, params, gain = dmc.described_values(domain, truth)
        control_dt = truth["timestep_s"] * action_repeat
        if substeps is None:
            substeps = action_repeat
        system = resolve_system(name).oracle(params, gain=gain, dt=control_dt,
                                             substeps=substeps, action_dim=1)
        defaults = CONTROL_DEFAULTS[domain]
        oracle = SystemOracle(system, GOALS[domain], planner=planner,
                              horizon=horizon or defaults["horizon"],
                              planner_options=planner_options,
                              cost_options={**defaults["cost"], **(cost_options or {})})
    except BaseException:
        env.close()
        raise
    described = {"system": name, "params": params, "gain": gain, "dt": control_dt,
                 "substeps": int(substeps)}
    return env, oracle, truth, described


def play_episodes(env, reset, act, episodes: int, seed: int, label: str,
                  progress: bool = False) -> list[dict]:
    """The episode loop shared by the oracle and the learned models: episode i resets the env
    with seed ``seed + i`` and calls ``reset(frame, episode_seed)``; every control step
    ``act(frame) -> (action, wall ms, CPU ms)`` (``frame`` is None for an env made without
    pixels). Per episode: seed, return (the env's reward summed over every env step),
    env_steps, control_steps, ms_per_step and cpu_ms_per_step (medians over the episode),
    success (the env's ``is_success`` at the end where it defines one, else None)."""
    from tqdm import tqdm

    results = []
    for i in tqdm(range(episodes), desc=f"{env.env_id} {label}", disable=not progress,
                  leave=False):
        episode_seed = seed + i
        frame, info = env.reset(seed=episode_seed)
        reset(frame, episode_seed)
        total, times, cpu_times, env_steps, steps = 0.0, [], [], 0, 0
        while True:
            action, ms, cpu_ms = act(frame)
            times.append(ms)
            cpu_times.append(cpu_ms)
            frame, reward, terminated, truncated, info = env.step(action)
            total += reward
            env_steps += info["env_steps"]
            steps += 1
            if terminated or truncated:
                break
        results.append({"seed": episode_seed, "return": float(total), "env_steps": env_steps,
                        "control_steps": steps, "ms_per_step": float(statistics.median(times)),
                        "cpu_ms_per_step": float(statistics.median(cpu_times)),
                        "success": bool(info["is_success"]) if env.has_success else None})
    return results


def run_episodes(env, oracle: SystemOracle, episodes: int, seed: int,
                 progress: bool = False) -> list[dict]:
    """:func:`play_episodes` of the oracle, which reads the true coordinates every step."""
    domain = dmc.domain_of(env.env_id)

    def act(_frame):
        q, qd = dmc.true_coordinates(env.unwrapped.physics, domain)
        action, ms = oracle.act(q, qd)
        return action, ms, oracle.last_cpu_ms

    return play_episodes(env, lambda _frame, s: oracle.reset(s), act, episodes, seed,
                         "oracle", progress)


def evaluate(env_id: str, episodes: int, seed: int, progress: bool = False, **build_options):
    """:func:`build` the oracle of ``env_id`` (``build_options`` as :func:`build` takes them),
    play ``episodes`` episodes from ``seed`` and close the env; returns (per-episode results,
    the oracle, the truth, the described values)."""
    env, oracle, truth, described = build(env_id, **build_options)
    try:
        results = run_episodes(env, oracle, episodes, seed, progress=progress)
    finally:
        env.close()
    return results, oracle, truth, described


def summary(results: list[dict]) -> dict:
    """Mean, standard deviation, minimum and maximum of the returns; median wall-clock and CPU
    milliseconds of planning per control step."""
    returns = np.array([r["return"] for r in results])
    return {"mean_return": float(returns.mean()), "std_return": float(returns.std()),
            "min_return": float(returns.min()), "max_return": float(returns.max()),
            "ms_per_step": float(statistics.median(r["ms_per_step"] for r in results)),
            "cpu_ms_per_step": float(statistics.median(r["cpu_ms_per_step"] for r in results))}
