"""Where a learned DMC agent loses return against the oracle: the same episodes played five
ways, each step's true state recorded.

    python benchmarks/dmc_gap.py --env dm_control/cartpole-swingup-v0 \\
        --model pig_control/pretrained/dm_control__cartpole-swingup-v0_control.pt \\
        --episodes 10 --out benchmarks/results/dmc_cartpole_gap.json

1. ``pixels``: the learned model as ``mpc`` runs it (frames in: encoder, filter, planner);
2. ``true_state``: the same planner through the same learned system, but fed the simulator's
   true state mapped into the model's coordinates (perfect perception, the model's dynamics).
   The map is the least-squares affine one from the true coordinates to the pixel agent's
   filtered ones over the frames of run 1 that show the whole system (``x_model = a x + b``;
   an angle keeps its scale and gets a sign and an offset, since the camera may mirror it);
3. ``oracle``: the planner on the true state through the described system with the env's true
   parameters (as ``mpc --model oracle``);
4. ``true_points`` and ``true_points_noisy``: the pixel agent's filter and planner fed, instead
   of the encoder's points, the true state (mapped as in 2) drawn through the learned camera,
   exact or with Gaussian noise of ``--point-noise`` pixels on every coordinate.

pixels against true_state is what perception (encoder, camera, filter) costs; true_state
against oracle what the learned dynamics cost; true_points against true_state what the filter
costs on exact points, and true_points_noisy how the filter and planner carry the encoder's
noise into the actions. Per run and episode: the return, the first
control step with the pole upright (|angle| < 0.3 rad, None if never) and, over the upright
steps, the mean |action| and (cart-pole) the mean |cart position| in metres: what the DMC
reward's control and centring factors see. Episode seeds from 10**6 (reporting), as ``mpc``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dmc_angle_error import wrap  # noqa: E402  (benchmarks/, beside this script)

from pig_control.cli import make_parser, run_main, write_json  # noqa: E402
from pig_control.errors import UserInputError  # noqa: E402
from pig_control.protocol import REPORTING_SEED  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402

#: A pole within this angle of upright (rad) counts as upright.
UPRIGHT_RAD = 0.3
ENVS = ("dm_control/pendulum-swingup-v0", "dm_control/cartpole-swingup-v0")


def fit_map(true_q: np.ndarray, model_q: np.ndarray) -> dict:
    """The map from true coordinates (N, k) to a model's (N, k), the angle last: per linear
    coordinate ``a x + b`` by least squares; for the angle a sign s (the one whose circular
    mean of ``model - s true`` is longest) and that mean's direction as the offset c."""
    linear = []
    for i in range(true_q.shape[1] - 1):
        design = np.stack([true_q[:, i], np.ones(len(true_q))], 1)
        slope, offset = np.linalg.lstsq(design, model_q[:, i], rcond=None)[0]
        linear.append((float(slope), float(offset)))
    means = {s: np.exp(1j * (model_q[:, -1] - s * true_q[:, -1])).mean() for s in (1.0, -1.0)}
    sign = max(means, key=lambda s: abs(means[s]))
    return {"linear": linear, "angle_sign": sign, "angle_offset": float(np.angle(means[sign])),
            "angle_residual_rad": float(np.sqrt(np.mean(
                wrap(model_q[:, -1] - sign * true_q[:, -1] - np.angle(means[sign])) ** 2)))}


def apply_map(mapping: dict, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True (q, qd) of one state -> the model's coordinates through :func:`fit_map`'s map."""
    slopes = [a for a, _ in mapping["linear"]] + [mapping["angle_sign"]]
    offsets = [b for _, b in mapping["linear"]] + [mapping["angle_offset"]]
    return (np.asarray(slopes) * q + np.asarray(offsets), np.asarray(slopes) * qd)


def episode_stats(trace: list[dict]) -> dict:
    """First upright control step and, over upright steps, mean |action| and |cart position|."""
    angle = wrap(np.array([step["q"][-1] for step in trace]))
    upright = np.abs(angle) < UPRIGHT_RAD
    stats = {"first_upright_step": int(np.argmax(upright)) if upright.any() else None,
             "upright_steps": int(upright.sum()), "mean_abs_action_upright": None,
             "mean_abs_cart_m_upright": None}
    if upright.any():
        actions = np.array([abs(step["action"]) for step in trace])
        stats["mean_abs_action_upright"] = float(actions[upright].mean())
        if len(trace[0]["q"]) > 1:
            cart = np.array([abs(step["q"][0]) for step in trace])
            stats["mean_abs_cart_m_upright"] = float(cart[upright].mean())
    return stats


def play(env, domain: str, reset, act, episodes: int, seed: int, label: str) -> list[dict]:
    """:func:`pig_control.control.dmc_oracle.play_episodes` with each step's true state and
    action traced; per episode its result plus :func:`episode_stats`."""
    from pig_control import dmc
    from pig_control.control.dmc_oracle import play_episodes

    traces: list[list[dict]] = []

    def reset_traced(frame, episode_seed):
        traces.append([])
        reset(frame, episode_seed)

    def act_traced(frame):
        q, qd = dmc.true_coordinates(env.unwrapped.physics, domain)
        action, ms, cpu_ms = act(frame, q, qd)
        traces[-1].append({"q": q.tolist(), "action": float(np.asarray(action).reshape(-1)[0])})
        return action, ms, cpu_ms

    results = play_episodes(env, reset_traced, act_traced, episodes, seed, label, progress=True)
    return [{**result, **episode_stats(trace)} for result, trace in zip(results, traces,
                                                                       strict=True)]


class PointsAgent:
    """The pixel agent's filter and planner on given points instead of the encoder's: each
    step, the true state mapped into the model's coordinates (:func:`fit_map`), drawn through
    the learned camera, plus Gaussian noise of ``noise`` pixels (seeded per episode); every
    step is a measurement."""

    def __init__(self, agent, mapping: dict, noise: float):
        self.agent, self.mapping, self.noise = agent, mapping, noise
        self.rng = np.random.default_rng(0)

    def points(self, q: np.ndarray) -> torch.Tensor:
        model_q, _ = apply_map(self.mapping, q, np.zeros_like(q))
        cell = self.agent.cell
        with torch.no_grad():
            drawn = cell.to_pixels(torch.as_tensor(model_q, dtype=torch.float32)[None],
                                   cell.camera_values())[0]
        noise = self.noise * self.rng.standard_normal(tuple(drawn.shape))
        return drawn + torch.as_tensor(noise, dtype=drawn.dtype)

    def reset(self, q: np.ndarray, seed: int) -> None:
        """Start an episode at the true coordinates ``q``."""
        self.rng = np.random.default_rng(seed)
        self.agent.reset_points(self.points(q), seed)

    def act(self, q: np.ndarray):
        """(action, wall ms, CPU ms) of the agent on the points of the true coordinates ``q``
        (the episode's first step plans from the reset's points)."""
        start, cpu = time.perf_counter(), time.process_time()
        points = None if self.agent.last_action is None else self.points(q)
        action = self.agent.act_points(points)
        return (action, (time.perf_counter() - start) * 1000.0,
                (time.process_time() - cpu) * 1000.0)


def summary(results: list[dict]) -> dict:
    """Mean return and the means of the per-episode statistics that exist."""
    out = {"mean_return": statistics.fmean(r["return"] for r in results)}
    for key in ("first_upright_step", "mean_abs_action_upright", "mean_abs_cart_m_upright"):
        values = [r[key] for r in results if r[key] is not None]
        out[key] = statistics.fmean(values) if values else None
    out["never_upright"] = sum(r["first_upright_step"] is None for r in results)
    return out


def main(argv: list[str] | None = None) -> int:
    from pig_control import dmc
    from pig_control.checkpoint import load_model
    from pig_control.control import dmc_model, dmc_oracle

    parser = make_parser("benchmarks/dmc_gap.py", __doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dm_control/cartpole-swingup-v0", choices=ENVS)
    parser.add_argument("--model", default=None, help="a checkpoint of a model of --env")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=REPORTING_SEED, help="first episode seed")
    parser.add_argument("--point-noise", type=float, default=0.15,
                        help="pixels of noise on the true_points_noisy run's points (default "
                        "%(default)s)")
    parser.add_argument("--out", default=None, metavar="F.json")
    args = parse_benchmark_args(parser, argv, __file__)
    if args.model is None:
        raise UserInputError("--model is required (a checkpoint of a model of --env)")
    if args.episodes < 1:
        raise UserInputError(f"--episodes must be at least 1, got {args.episodes}")
    if not args.point_noise >= 0:
        raise UserInputError(f"--point-noise must be at least 0, got {args.point_noise}")
    domain = dmc.domain_of(args.env)
    model, _ = load_model(Path(args.model), "cpu")
    env, agent, truth = dmc_model.build(args.env, model)
    try:
        filtered: list[tuple[np.ndarray, np.ndarray]] = []

        def act_pixels(frame, q, _qd):
            action, ms = agent.act(frame)
            seen = agent.measure(frame) is not None  # the frame encoded again: diagnostic only
            with torch.no_grad():
                state = agent.filter.state
                model_q, _ = agent.cell.pixels_to_state(state[None, :, :2], state[None, :, 2:])
            if seen:
                filtered.append((q.copy(), model_q[0].double().numpy()))
            return action, ms, agent.last_cpu_ms

        runs = {"pixels": play(env, domain, agent.reset, act_pixels, args.episodes, args.seed,
                               "pixels")}
        if len(filtered) < 10:
            raise UserInputError("the pixel agent saw the whole system in fewer than 10 frames: "
                                 "no map from the true coordinates to the model's")
        mapping = fit_map(np.stack([t for t, _ in filtered]), np.stack([m for _, m in filtered]))

        def act_true_state(_frame, q, qd):
            model_q, model_qd = apply_map(mapping, q, qd)
            action, ms = agent.planner.act(model_q, model_qd)
            return action, ms, agent.planner.last_cpu_ms

        runs["true_state"] = play(env, domain, lambda _f, s: agent.planner.reset(s),
                                  act_true_state, args.episodes, args.seed, "true state")
        oracle_env, oracle, _, described = dmc_oracle.build(args.env)
        oracle_env.close()  # the oracle plays in the pixel env, whose true state it reads

        def act_oracle(_frame, q, qd):
            action, ms = oracle.act(q, qd)
            return action, ms, oracle.last_cpu_ms

        runs["oracle"] = play(env, domain, lambda _f, s: oracle.reset(s), act_oracle,
                              args.episodes, args.seed, "oracle")
        for name, noise in (("true_points", 0.0), ("true_points_noisy", args.point_noise)):
            points = PointsAgent(agent, mapping, noise)
            runs[name] = play(env, domain, lambda _f, s, p=points: p.reset(
                dmc.true_coordinates(env.unwrapped.physics, domain)[0], s),
                lambda _f, q, _qd, p=points: p.act(q), args.episodes, args.seed,
                name.replace("_", " "))
    finally:
        env.close()
    summaries = {name: summary(results) for name, results in runs.items()}
    for name, s in summaries.items():
        print(f"{name:>10}: mean return {s['mean_return']:.1f}, first upright step "
              f"{s['first_upright_step']}, upright |action| {s['mean_abs_action_upright']}, "
              f"|cart| {s['mean_abs_cart_m_upright']} m, never upright {s['never_upright']}")
    if args.out:
        write_json(args.out, {"provenance": benchmark_provenance(args, [args.model]),
                              "env": args.env, "model": args.model, "episodes": args.episodes,
                              "seed": args.seed, "upright_rad": UPRIGHT_RAD,
                              "point_noise_px": args.point_noise,
                              "true_to_model_map": mapping, "described": described,
                              "summary": summaries, "runs": runs},
                   overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
