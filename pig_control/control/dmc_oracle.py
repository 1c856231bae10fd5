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
#: on tuning seeds 0-19 the oracle's mean return rose from 746 to 814, docs/dmc.md).
CONTROL_DEFAULTS = {"pendulum": {"horizon": 40, "cost": {"energy_weight": 100.0}},
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


def run_episodes(env, oracle: SystemOracle, episodes: int, seed: int,
                 progress: bool = False) -> list[dict]:
    """Episode i resets with seed ``seed + i``; per episode: seed, return (the env's reward
    summed over every env step), env_steps, control_steps, ms_per_step and cpu_ms_per_step
    (median wall-clock and process CPU milliseconds of planning per control step),
    success (the env's ``is_success`` at the end where it defines one, else None)."""
    from tqdm import tqdm

    domain = dmc.domain_of(env.env_id)
    results = []
    for i in tqdm(range(episodes), desc=f"{env.env_id} oracle", disable=not progress,
                  leave=False):
        episode_seed = seed + i
        _, info = env.reset(seed=episode_seed)
        oracle.reset(episode_seed)
        total, times, cpu_times, env_steps, steps = 0.0, [], [], 0, 0
        while True:
            q, qd = dmc.true_coordinates(env.unwrapped.physics, domain)
            action, ms = oracle.act(q, qd)
            times.append(ms)
            cpu_times.append(oracle.last_cpu_ms)
            _, reward, terminated, truncated, info = env.step(action)
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


def summary(results: list[dict]) -> dict:
    """Mean, standard deviation, minimum and maximum of the returns; median wall-clock and CPU
    milliseconds of planning per control step."""
    returns = np.array([r["return"] for r in results])
    return {"mean_return": float(returns.mean()), "std_return": float(returns.std()),
            "min_return": float(returns.min()), "max_return": float(returns.max()),
            "ms_per_step": float(statistics.median(r["ms_per_step"] for r in results)),
            "cpu_ms_per_step": float(statistics.median(r["cpu_ms_per_step"] for r in results))}
