"""Control from pixels: model-predictive control of a scene with a PIG world model.

    python -m pig_control.mpc --env spring --model oracle --episodes 20 --json out.json
    python -m pig_control.mpc --env spring --model runs/spring/model.pt --set-param k=5 \\
        --env-param k=5 --video spring.gif

The command is a loop over the Python API (:mod:`pig_control.api`): the agent comes from
``pig_control.make_agent`` (``--model oracle``: ``make_oracle``) and :func:`run_episodes` calls
its ``predict`` on every frame.

Each control step the agent estimates the state (learned model: encode the newest frame,
refine the positions by render-and-compare with the model's decoder (``--refine`` steps), and
update a Kalman filter that predicts with the model, or, for a model with a learned velocity
correction, fit its velocity estimator to the last L frames; oracle: the true state), plans an
action sequence over ``--horizon`` steps with ``--planner`` on the model's physics cell
(oracle: the same cell with the true parameters, substeps and walls), executes the first action
and shifts the plan (receding horizon, warm start). Spring goals (encoded from the goal image,
or given as coordinates) are moved to the model's nearest rest state before planning.

Episodes: episode i resets the env with seed ``--seed + i`` (start state and goal come from the
env's seeded reset), so models and planners see the same episodes for the same seed. The default
``--seed`` is the first reporting seed, 10**6 (:mod:`pig_control.protocol`): figures are reported
on episodes no choice was tuned on; tuning uses seeds below 10**6 (a run may not straddle the two).
An episode
runs ``--max-steps`` steps (default: the env's time limit); it succeeds when
``info["is_success"]`` holds at its final step (ball scenes: every object within 1 px of its
goal, digits 2 px, and slower than 1 px per time unit; pendulum: upright within 0.3 rad, slower
than 1.5 rad/s). ``ms_per_step`` is the median wall-clock time of state estimation (encoding) plus
planning per control step; env stepping and video rendering are not counted.

Envs that are not ours (any registered Gymnasium id; DMC through Shimmy, e.g.
``--env dm_control/pendulum-swingup-v0``): ``--model oracle`` plans on the true MuJoCo state
through the described system with the env's true parameters (:mod:`pig_control.control.
dmc_oracle`; DMC pendulum and cart-pole), one control step = ``--action-repeat`` env steps
(default 2 for DMC). It reports the env's own episode return (DMC: the task's reward summed
over its 1,000 env steps) next to success where the env defines one (null where not); the
JSON adds the truth read from the MuJoCo model and the described system's values.

JSON keys: success_rate, mean_final_distance (the env's goal_distance at the final step, in
pixels, or radians for the pendulum), mean_return, ms_per_step, intervals (the episodes' seed set
"reporting" or "tuning"; success n, count, rate and Wilson 95 % interval; final distance and return
mean with a bootstrap 95 % interval: :func:`pig_control.protocol.episode_summary`), provenance
(command, commit, clean tree, sha256 of the checkpoint, package versions, machine:
:func:`pig_control.provenance.provenance`), env_frames (frames of environment interaction the
model was trained on; 0 for the oracle), env, planner, model, horizon, max_steps, seed, device,
goal_from, refine_iterations, planner_options, cost_options, env_params, set_params, model_params
(the model's physical parameters), fanout (backend and block size), episodes (per episode:
seed, success, final_distance, return, steps, ms_per_step).

Many episodes: ``--block-size N`` cuts them into blocks of N, the units of
:mod:`pig_control.fanout`, run here one after another or as Ray tasks (``--ray``,
``--ray-address``); each block builds its own env and agent, and since every episode is seeded
by its own index the episodes are those of the one-block run. ``--units-dir DIR`` keeps each
finished block, so the same command rerun after a crash runs only the missing ones.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import yaml

from pig_control.api import Controller, WorldModel, shipped_file
from pig_control.cli import (
    add_overwrite_option,
    atomic_path,
    check_outputs,
    make_parser,
    run_main,
    write_json,
)
from pig_control.errors import UserInputError
from pig_control.protocol import REPORTING_SEED, episode_summary, seed_split
from pig_control.provenance import provenance

#: Planner keywords this command sets itself, and the flag that sets each (None: none).
SET_BY_COMMAND = {"seed": "--seed", "device": "--device", "callback": None, "dtype": None,
                  "threads": None}


def parse_assignments(items: Sequence[str] | None, what: str, numeric: bool = True) -> dict:
    """``["k=8", "l=6"]`` -> ``{"k": 8.0, "l": 6.0}``; bad syntax is a UserInputError."""
    out = {}
    for item in items or []:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise UserInputError(f"{what} '{item}' is not of the form NAME=VALUE")
        name, text = (part.strip() for part in item.split("=", 1))
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        if numeric:
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise UserInputError(f"{what} '{item}': the value must be a finite number")
            value = float(value)
        out[name] = value
    return out


def check_planner_options(planner: str, options: dict) -> None:
    """Refuse ``--planner-option`` names the planner does not take or this command sets."""
    from agents import planner_options as planner_defaults

    for name in options:
        if name in SET_BY_COMMAND:
            flag = SET_BY_COMMAND[name]
            how = f"use {flag}" if flag else "it cannot be set from the command line"
            raise UserInputError(f"--planner-option {name}: this command sets it ({how})")
    known = sorted(set(planner_defaults(planner)) - set(SET_BY_COMMAND))
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UserInputError(f"--planner-option: planner {planner} has no option "
                             f"{', '.join(unknown)}; its options: {', '.join(known)}")


def make_env(name: str, env_params: dict, max_episode_steps: int | None = None):
    """``gymnasium.make`` of a short scene name (or id) with constructor keywords; a
    ``max_episode_steps`` replaces the registered time limit."""
    import gymnasium

    import envs

    env_id = envs.SCENES.get(name, name)
    if env_id not in envs.SCENES.values():
        raise UserInputError(f"unknown env '{name}'; known envs: {', '.join(envs.SCENES)}")
    try:
        limit = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
        return gymnasium.make(env_id, **limit, **env_params)
    except TypeError as error:
        scene_cls = type(envs.make_scene(env_id))
        import inspect

        known = [p for p in inspect.signature(scene_cls.__init__).parameters
                 if p not in ("self", "actuated", "render_mode")]
        raise UserInputError(f"bad --env-param for {name}: {error} (known: "
                             f"{', '.join(known)})") from None


def resolve_model(model_arg: str, env_name: str, device: str) -> WorldModel:
    """The world model for ``--model``: ``pretrained`` (the scene's shipped control model) or a
    checkpoint path."""
    from pig_control.api import load_world_model, shipped_world_models

    if model_arg == "pretrained":
        if env_name not in shipped_world_models():
            raise UserInputError(f"no shipped model for {env_name} yet (expected "
                                 f"{shipped_file(env_name)}); train one or "
                                 "use --model oracle")
        return load_world_model(env_name, device)
    return load_world_model(Path(model_arg), device)


def load_learned(model_arg: str, env_name: str, device: str):
    """(model, metadata, label) for ``pretrained`` or a checkpoint path; metadata is the
    checkpoint's (``env_frames``, ``wall_clock_s``, ``command``, ...)."""
    world_model = resolve_model(model_arg, env_name, device)
    return world_model.module, world_model.metadata, world_model.source


def run_episodes(env, agent: Controller, episodes: int, seed: int, max_steps: int,
                 goal_from: str, video_frames: list | None = None,
                 progress: bool = True) -> list[dict]:
    """Run ``episodes`` MPC episodes; returns per-episode results (see module docstring).

    A model's agent is given only frames and the goal (an image rendered from ``info["goal"]``
    at the reset, or those coordinates with ``goal_from="coords"``); the oracle the true states.
    ``info`` is read to score the episode, never passed to a model's agent."""
    from tqdm import tqdm

    scene = env.unwrapped
    results = []
    bar = tqdm(range(episodes), desc=f"{scene.name} episodes", disable=not progress,
               leave=False)
    for i in bar:
        episode_seed = seed + i
        observation, info = env.reset(seed=episode_seed)
        goal_image = scene.render_states(np.asarray(info["goal"], dtype=np.float64))
        if agent.reads_state:
            agent.reset(info["state"], info["goal"], seed=episode_seed)
        elif goal_from == "image":
            agent.reset(observation, goal_image, seed=episode_seed)
        else:
            agent.reset(observation, goal_state=info["goal"], seed=episode_seed)
        total, times, steps = 0.0, [], 0
        for _ in range(max_steps):
            action = agent.predict(info["state"] if agent.reads_state else observation)
            times.append(agent.last_ms)
            if video_frames is not None:
                video_frames.append(_video_frame(observation, goal_image,
                                                 agent.planned_frames()))
            observation, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            steps += 1
            if terminated or truncated:
                break
        final = float(scene.goal_distance(info["state"], info["goal"]))
        results.append({"seed": episode_seed, "success": bool(info["is_success"]),
                        "final_distance": final, "return": total, "steps": steps,
                        "ms_per_step": float(statistics.median(times))})
        bar.set_postfix(success=sum(r["success"] for r in results) / len(results))
    return results


def _video_frame(observation: np.ndarray, goal: np.ndarray, plan: np.ndarray,
                 scale: int = 4) -> np.ndarray:
    """One labelled video frame: observation | goal | predicted plan (a faded trail of the
    planned states, the plan's end brightest), each panel ``scale`` times the scene's size."""
    weights = np.linspace(0.25, 1.0, plan.shape[0])[:, None, None, None]
    trail = (plan.astype(np.float32) * weights).max(0).astype(np.uint8)
    panels = [np.repeat(np.repeat(panel, scale, 0), scale, 1)
              for panel in (observation, goal, trail)]
    gap = np.full((panels[0].shape[0], 2 * scale, 3), 255, np.uint8)
    row = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], 1)
    return np.concatenate([_labels(("observation", "goal", "plan"), panels[0].shape[1],
                                   2 * scale), row], 0)


def _labels(names: Sequence[str], panel_width: int, gap: int, height: int = 14) -> np.ndarray:
    """A white strip with ``names`` centred above panels ``panel_width`` px wide, ``gap`` apart."""
    from PIL import Image, ImageDraw

    width = len(names) * panel_width + (len(names) - 1) * gap
    strip = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(strip)
    for i, name in enumerate(names):
        left = i * (panel_width + gap)
        text_width = draw.textlength(name)
        draw.text((left + (panel_width - text_width) / 2, 1), name, fill="black")
    return np.asarray(strip)


def summarize(results: list[dict]) -> dict:
    """Means over episodes, and the median ``ms_per_step`` where episodes record one; the
    success rate and final distance are None where the env defines no success or goal."""

    def mean(key: str) -> float | None:
        values = [r[key] for r in results]
        return None if None in values else float(np.mean(values))

    summary = {"success_rate": mean("success"), "mean_final_distance": mean("final_distance"),
               "mean_return": mean("return")}
    if all("ms_per_step" in r for r in results):
        summary["ms_per_step"] = float(statistics.median(
            r["ms_per_step"] for r in results)) if results else float("nan")
    return summary


def format_intervals(intervals: dict) -> str:
    """One line: success k/n with its Wilson interval, the means with bootstrap intervals."""
    success, distance, ret = (intervals[k] for k in ("success", "final_distance", "return"))
    return (f"{intervals['seeds']} seeds from {intervals['first_seed']}: success "
            f"{success['successes']}/{success['n']} (Wilson 95 % {success['wilson_95'][0]:.3f}"
            f"-{success['wilson_95'][1]:.3f}), final distance {distance['mean']:.3f} "
            f"[{distance['bootstrap_95'][0]:.3f}, {distance['bootstrap_95'][1]:.3f}], return "
            f"{ret['mean']:.2f} [{ret['bootstrap_95'][0]:.2f}, {ret['bootstrap_95'][1]:.2f}]")


def build_parser():
    from agents import PLANNERS
    from pig_control.control.agent import DEFAULT_PLANNER

    parser = make_parser("pig_control.mpc", "Model-predictive control from pixels with a PIG "
                         "world model (or the true simulator: --model oracle).")
    parser.add_argument("--env", required=True, help="scene: spring, pendulum, mnist_spring, "
                        "bouncing, gravity (or a PIG/... id), or any registered Gymnasium id, "
                        "e.g. dm_control/pendulum-swingup-v0 (oracle)")
    parser.add_argument("--action-repeat", type=int, default=None, metavar="K",
                        help="env steps per control step, envs that are not ours (default: 2 "
                        "for DMC, else 1)")
    parser.add_argument("--substeps", type=int, default=None, metavar="N",
                        help="integration steps per control step of the described system, "
                        "DMC oracle (default: one per MuJoCo step)")
    parser.add_argument("--model", default="pretrained",
                        help="pretrained (the shipped pig_control/pretrained/ENV_control.pt; "
                        "an id's / is written __ there), oracle (the true simulator from the "
                        "true state) or a checkpoint path")
    parser.add_argument("--planner", default=DEFAULT_PLANNER,
                        help=f"one of {', '.join(PLANNERS)} (default {DEFAULT_PLANNER}: "
                        "Gauss-Newton with a few samples, agents/gn.py)")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=REPORTING_SEED,
                        help="episode i resets with seed S + i (default: the first reporting "
                        f"seed, {REPORTING_SEED}; tune on seeds below it)")
    parser.add_argument("--horizon", type=int, default=None,
                        help="control steps planned ahead (default per env)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="steps per episode (default: the env's time limit)")
    parser.add_argument("--env-param", action="append", default=[], metavar="NAME=VALUE",
                        help="constructor keyword of the env, e.g. k=8 (repeatable)")
    parser.add_argument("--set-param", action="append", default=[], metavar="NAME=VALUE",
                        help="edit a physical parameter of the model (zero-data adaptation)")
    parser.add_argument("--planner-option", action="append", default=[], metavar="NAME=VALUE",
                        help="planner option, e.g. population=100 (repeatable)")
    parser.add_argument("--cost-option", action="append", default=[], metavar="NAME=VALUE",
                        help="cost weight: velocity_weight, terminal_weight, action_weight, "
                        "energy_weight and energy_margin (pendulum swing-up)")
    parser.add_argument("--goal-from", choices=("image", "coords"), default=None,
                        help="goal from the encoded goal image (default for learned models) "
                        "or from coordinates (default and only choice for the oracle)")
    parser.add_argument("--refine", type=int, default=None, metavar="N",
                        help="render-and-compare steps that refine the encoder's positions "
                        "(learned models; default per env: 2 for the digits, 1 for the "
                        "spring, 0 elsewhere)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--video", default=None, metavar="F.gif",
                        help="observation | goal | predicted plan, every step (imageio)")
    parser.add_argument("--json", default=None, metavar="PATH")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_overwrite_option(parser)
    parser.add_argument("--block-size", type=int, default=None, metavar="N",
                        help="split the episodes into units of N (run by --ray / "
                        "--ray-address, or here one after another); the same results as one "
                        "block (default: one block)")
    parser.add_argument("--units-dir", default=None, metavar="DIR",
                        help="keep each block's result here as it finishes; the same command "
                        "rerun reuses finished blocks")
    from pig_control import fanout

    fanout.add_arguments(parser, "CPUs (and threads) per block of episodes (default 1)")
    return parser


def parse_settings(args) -> dict:
    """The run's settings from the parsed options, checked: plain data that rebuilds the env
    and the agent anywhere (:func:`build_agent`, the units of :func:`episode_block`)."""
    from pig_control.api import planner_settings

    for flag, value in (("--episodes", args.episodes), ("--horizon", args.horizon),
                        ("--max-steps", args.max_steps), ("--block-size", args.block_size)):
        if value is not None and value < 1:
            raise UserInputError(f"{flag} must be at least 1, got {value}")
    if args.refine is not None and args.refine < 0:
        raise UserInputError(f"--refine must be at least 0, got {args.refine}")
    if args.video and Path(args.video).suffix.lower() != ".gif":
        raise UserInputError(f"--video must name a .gif file, got '{args.video}'")
    planner_options = parse_assignments(args.planner_option, "--planner-option", numeric=False)
    check_planner_options(args.planner, planner_options)
    cost_options = parse_assignments(args.cost_option, "--cost-option")
    planner_settings(args.planner, None, None, cost_options, args.device)  # known names
    from pig_control.pixel_env import is_own_scene, resolve_env_id

    if is_own_scene(resolve_env_id(args.env)) and (args.action_repeat is not None
                                                   or args.substeps is not None):
        raise UserInputError("--action-repeat and --substeps apply to envs that are not ours")
    oracle = args.model == "oracle"
    if oracle and args.goal_from == "image":
        raise UserInputError("the oracle takes its goal from coordinates: drop "
                             "--goal-from image or use a learned model")
    if oracle and args.refine:
        raise UserInputError("--refine refines a learned model's encoder; the oracle "
                             "reads the true state")
    return {"env": args.env, "model": args.model, "planner": args.planner, "horizon": args.horizon,
            "max_steps": args.max_steps, "seed": args.seed, "device": args.device,
            "env_params": parse_assignments(args.env_param, "--env-param"),
            "set_params": parse_assignments(args.set_param, "--set-param"),
            "planner_options": planner_options,
            "cost_options": cost_options,
            "goal_from": "coords" if oracle else (args.goal_from or "image"),
            "refine": args.refine}


def build_agent(settings: dict):
    """(env, agent, description) for :func:`parse_settings`' settings; the description holds
    what the report says of the model and agent (env_frames, model label, horizon, ...)."""
    from agents import planner_options as planner_defaults
    from pig_control.api import make_agent, make_oracle
    from pig_control.control.budget import check_planning_memory

    env = make_env(settings["env"], settings["env_params"], settings["max_steps"])
    scene = env.unwrapped
    common = dict(planner=settings["planner"], horizon=settings["horizon"],
                  planner_options=settings["planner_options"],
                  cost_options=settings["cost_options"], device=settings["device"])
    set_params = settings["set_params"]
    if settings["model"] == "oracle":
        env_frames, model_label, inputs = 0, "oracle", []
        agent = make_oracle(env, set_params=set_params, **common)
    else:
        world_model = resolve_model(settings["model"], scene.name, settings["device"])
        world_model.set_params(**set_params)
        env_frames, model_label = world_model.env_frames, world_model.source
        inputs = [model_label]
        agent = make_agent(world_model, env=env, refine=settings["refine"], **common)
    check_planning_memory(settings["planner"], agent.horizon, scene.action_dim,
                          4 * getattr(scene, "n_objects", 1),
                          {**planner_defaults(settings["planner"]), **agent.planner_options},
                          settings["device"])
    description = {
        "env_frames": env_frames, "env": scene.name, "model": model_label, "inputs": inputs,
        "horizon": agent.horizon,
        "max_steps": settings["max_steps"] or scene.max_episode_steps,
        "refine_iterations": agent.refine_iterations,
        "planner_options": agent.planner_options, "cost_options": agent.cost_options,
        "model_params": agent.model_params}
    return env, agent, description


def episode_block(settings: dict, first: int, count: int) -> list[dict]:
    """A unit of a fanned-out run: episodes ``first`` .. ``first + count - 1`` of the run
    (seeds ``seed + first`` onwards), with an env and agent of their own; per-episode results
    as :func:`run_episodes` gives them, the same as the serial run's for those seeds."""
    env, agent, description = build_agent(settings)
    return run_episodes(env, agent, count, settings["seed"] + first, description["max_steps"],
                        settings["goal_from"], progress=False)


def episode_units(settings: dict, episodes: int, block_size: int, resources: dict) -> list:
    """The run's episodes as :class:`pig_control.fanout.Unit` blocks of ``block_size``."""
    from pig_control.fanout import Unit

    return [Unit(f"episodes-{first}-{min(first + block_size, episodes) - 1}", episode_block,
                 {"settings": settings, "first": first,
                  "count": min(block_size, episodes - first)}, **resources)
            for first in range(0, episodes, block_size)]


class UnitsFailed(RuntimeError):
    """Some fanned-out units failed (after their retries); the finished ones were kept."""


def run(argv: Sequence[str] | None = None, frames: list | None = None) -> dict:
    """The report (module docstring) of ``python -m pig_control.mpc ARGV``, without printing
    or writing anything; ``frames`` collects the video frames of an in-process run."""
    from pig_control import fanout

    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    settings = parse_settings(args)
    spread = fanout.from_arguments(args)
    if args.device == "cuda" and not torch.cuda.is_available() and spread.address is None:
        raise UserInputError("--device cuda: no CUDA device is available")
    in_units = spread.uses_ray or args.block_size is not None or args.units_dir is not None
    if args.video and in_units:
        raise UserInputError("--video records the frames of one in-process run: drop --ray, "
                             "--ray-address, --block-size and --units-dir")
    seed_split(args.seed, args.episodes)  # refuses a run mixing tuning and reporting seeds
    # the agent is built here even when units run elsewhere: a bad model, parameter or option
    # is reported before any work; a cluster's GPU is not needed for that
    local = dict(settings, device="cpu") if not torch.cuda.is_available() else settings
    env, agent, description = build_agent(local)
    if in_units:
        block = args.block_size or args.episodes
        unit_settings = settings
        if settings["model"] not in ("oracle", "pretrained"):  # units may run elsewhere
            unit_settings = dict(settings, model=str(Path(settings["model"]).resolve()))
        units = episode_units(unit_settings, args.episodes, block,
                              fanout.unit_resources(args, args.device == "cuda"))
        outcomes = fanout.run_units(units, spread, args.units_dir)
        failed = [o.key for o in outcomes.values() if not o.done]
        if failed:
            fanout.report_failures(outcomes)
            raise UnitsFailed(f"{len(failed)} of {len(outcomes)} blocks of episodes failed")
        results = [episode for o in outcomes.values() for episode in o.result]
    else:
        results = run_episodes(env, agent, args.episodes, args.seed, description["max_steps"],
                               settings["goal_from"], frames, progress=not args.quiet)
    return {
        **summarize(results),
        "intervals": episode_summary(results),
        "env_frames": description["env_frames"],
        "env": description["env"],
        "planner": args.planner,
        "model": description["model"],
        "horizon": description["horizon"],
        "max_steps": description["max_steps"],
        "seed": args.seed,
        "device": args.device,
        "goal_from": settings["goal_from"],
        "refine_iterations": description["refine_iterations"],
        "planner_options": description["planner_options"],
        "cost_options": description["cost_options"],
        "env_params": settings["env_params"],
        "set_params": settings["set_params"],
        "model_params": description["model_params"],
        "fanout": {"backend": spread.label, "block_size": args.block_size if in_units else None},
        "provenance": provenance("pig_control.mpc", argv, inputs=description["inputs"]),
        "episodes": results,
    }


def print_summary(report: dict) -> None:
    """The table row and the intervals of a report."""
    print(f"{'env':<14}{'model':<12}{'planner':<9}{'episodes':>9}{'success':>9}"
          f"{'final dist':>12}{'return':>10}{'ms/step':>9}")
    model_label = report["model"]
    label = model_label if len(model_label) <= 11 else "..." + model_label[-8:]
    print(f"{report['env']:<14}{label:<12}{report['planner']:<9}{len(report['episodes']):>9}"
          f"{report['success_rate']:>9.2f}{report['mean_final_distance']:>12.3f}"
          f"{report['mean_return']:>10.2f}{report['ms_per_step']:>9.1f}")
    print(format_intervals(report["intervals"]))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_outputs((args.video, args.json), args.overwrite)
    from pig_control.pixel_env import is_own_scene, resolve_env_id

    if not is_own_scene(resolve_env_id(args.env)):
        return _main_foreign(args, argv, parse_settings(args))
    frames: list | None = [] if args.video else None
    try:
        report = run(argv, frames)
    except UnitsFailed as error:
        print(f"error: {error}; rerun with the same --units-dir to retry them", file=sys.stderr)
        return 1
    print_summary(report)
    if args.video:
        import imageio.v2 as imageio

        with atomic_path(args.video, args.overwrite) as tmp:
            imageio.mimsave(tmp, frames, format="GIF", duration=0.1, loop=0)
        print(f"video: {args.video} ({len(frames)} frames)")
    if args.json:
        write_json(args.json, report, overwrite=args.overwrite)
    return 0


def _unused_foreign_flags(args, settings: dict) -> list[str]:
    """The options given that an env that is not ours cannot use."""
    from pig_control import fanout

    return [flag for flag, value in (("--env-param", settings["env_params"]),
                                     ("--set-param", settings["set_params"]),
                                     ("--goal-from", args.goal_from),
                                     ("--refine", args.refine), ("--video", args.video),
                                     ("--block-size", args.block_size),
                                     ("--units-dir", args.units_dir),
                                     ("--ray / --ray-address",
                                      fanout.from_arguments(args).uses_ray)) if value]


def _main_foreign(args, argv, settings: dict) -> int:
    """``mpc`` on an env that is not ours: the DMC oracle, scored by the env's own return;
    ``settings`` as :func:`parse_settings` checked them."""
    from pig_control.control import dmc_oracle
    from pig_control.pixel_env import DMC_PREFIX
    from pig_control.protocol import mean_summary

    env_id = args.env
    if args.model == "pretrained":
        shipped = shipped_file(env_id)
        if not shipped.is_file():
            raise UserInputError(f"no world model for {env_id} ships yet; train one "
                                 "(docs/dmc.md) and pass its checkpoint, or use --model oracle "
                                 "(the planner on the true state through the described system)")
        return _main_foreign_model(args, argv, settings, shipped)
    if args.model != "oracle":
        return _main_foreign_model(args, argv, settings, Path(args.model))
    if not env_id.startswith(DMC_PREFIX):
        raise UserInputError(f"the oracle of {env_id} needs a described system with the env's "
                             f"true parameters; available for DMC pendulum and cartpole")
    unused = _unused_foreign_flags(args, settings)
    if unused:
        raise UserInputError(f"{', '.join(unused)}: not available for {env_id} (oracle)")
    seed_split(args.seed, args.episodes)  # refuses a run mixing tuning and reporting seeds
    repeat = 2 if args.action_repeat is None else args.action_repeat
    if repeat < 1 or (args.substeps is not None and args.substeps < 1):
        raise UserInputError(f"--action-repeat and --substeps must be at least 1, got "
                             f"{repeat} and {args.substeps}")
    results, oracle, truth, described = dmc_oracle.evaluate(
        env_id, args.episodes, args.seed, progress=not args.quiet, action_repeat=repeat,
        substeps=args.substeps, planner=args.planner, horizon=args.horizon,
        planner_options=settings["planner_options"], cost_options=settings["cost_options"],
        max_episode_steps=None if args.max_steps is None else args.max_steps * repeat)
    summary = dmc_oracle.summary(results)
    successes = [r["success"] for r in results]
    success_rate = None if None in successes else float(np.mean(successes))
    report = {"mean_return": summary["mean_return"], "success_rate": success_rate, **summary,
              "intervals": {"seeds": seed_split(args.seed, args.episodes),
                            "return": mean_summary([r["return"] for r in results])},
              "env_frames": 0, "env": env_id, "planner": args.planner, "model": "oracle",
              "horizon": oracle.horizon, "action_repeat": repeat, "seed": args.seed,
              "planner_options": dict(oracle.planner_options),
              "cost_options": oracle.cost_options, "truth": truth, "described": described,
              "provenance": provenance("pig_control.mpc", argv), "episodes": results}
    print(f"{'env':<34}{'planner':<9}{'episodes':>9}{'return':>9}{'std':>8}{'success':>9}"
          f"{'ms/step':>9}")
    rate = "-" if success_rate is None else f"{success_rate:.2f}"
    print(f"{env_id:<34}{args.planner:<9}{len(results):>9}{summary['mean_return']:>9.1f}"
          f"{summary['std_return']:>8.1f}{rate:>9}{summary['ms_per_step']:>9.1f}")
    if args.json:
        write_json(args.json, report, overwrite=args.overwrite)
    return 0


def _main_foreign_model(args, argv, settings: dict, checkpoint: Path) -> int:
    """``mpc --env dm_control/... --model CKPT`` (or ``pretrained``: the shipped ``checkpoint``):
    a learned world model from pixels (:mod:`pig_control.control.dmc_model`), scored by the
    env's own return, with the learned parameters against the simulator's truth."""
    from pig_control import dmc
    from pig_control.checkpoint import load_model
    from pig_control.control import dmc_model, dmc_oracle
    from pig_control.protocol import mean_summary

    env_id = args.env
    unused = _unused_foreign_flags(args, settings) + (["--substeps"] if args.substeps else [])
    if unused:
        raise UserInputError(f"{', '.join(unused)}: not available for {env_id} with a model")
    seed_split(args.seed, args.episodes)
    repeat = 2 if args.action_repeat is None else args.action_repeat
    if repeat < 1:
        raise UserInputError(f"--action-repeat must be at least 1, got {repeat}")
    model, payload = load_model(checkpoint, "cpu")
    metadata = payload.get("metadata") or {}
    env, agent, truth = dmc_model.build(
        env_id, model, action_repeat=repeat, planner=args.planner, horizon=args.horizon,
        planner_options=settings["planner_options"], cost_options=settings["cost_options"],
        max_episode_steps=None if args.max_steps is None else args.max_steps * repeat)
    try:
        results = dmc_model.run_episodes(env, agent, args.episodes, args.seed,
                                         progress=not args.quiet)
    finally:
        env.close()
    report = {**dmc_oracle.summary(results),
              "intervals": {"seeds": seed_split(args.seed, args.episodes),
                            "return": mean_summary([r["return"] for r in results])},
              "env_frames": int(metadata.get("env_frames", 0) or 0), "env": env_id,
              "planner": args.planner, "model": str(args.model), "checkpoint": str(checkpoint),
              "horizon": agent.planner.horizon, "action_repeat": repeat, "seed": args.seed,
              "planner_options": dict(agent.planner.planner_options),
              "cost_options": agent.planner.cost_options,
              "filter_options": agent.filter_options,
              "model_params": {**model.cell.params, "gain": float(model.cell.gain().detach())},
              "model_camera": model.cell.camera,
              "learned_vs_true": dmc.compare_learned(dmc.domain_of(env_id), model.cell, truth),
              "truth": truth,
              "training_command": metadata.get("command"),
              "provenance": provenance("pig_control.mpc", argv, inputs=[checkpoint]),
              "episodes": results}
    print(f"{'env':<34}{'model':<12}{'episodes':>9}{'return':>9}{'std':>8}{'ms/step':>9}"
          f"{'frames':>8}")
    label = str(args.model) if len(str(args.model)) <= 11 else "..." + str(args.model)[-8:]
    print(f"{env_id:<34}{label:<12}{len(results):>9}{report['mean_return']:>9.1f}"
          f"{report['std_return']:>8.1f}{report['ms_per_step']:>9.1f}"
          f"{report['env_frames']:>8}")
    if args.json:
        write_json(args.json, report, overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
