"""PIG-MPC against model-free RL: success against environment frames, on the same episodes.

    python -m pig_control.compare --env spring --algos ppo,sac --steps 10000,100000 \\
        --episodes 200 --json benchmarks/results/compare_spring.json

Agents (the ``agent`` of each JSON row):

- ``oracle``: the default planner on the true simulator from the true state (no learning).
- ``pig-mpc``: the default planner on a PIG world model, from pixels; one row per model: the
  shipped one (``--pig-models pretrained``), any checkpoint given, and one trained here from
  ``N`` frames of coloured-noise rollouts for each ``--pig-frames N`` (``data rollouts`` then
  ``train --config ENV_control``, the recipe of the shipped model).
- ``ALGO-pixels`` / ``ALGO-state`` for ALGO in ``--algos``: stable-baselines3 agents trained
  for each budget of ``--steps`` env frames (one run per agent, evaluated as it passes each
  budget), from pixels (recent frames and the goal image) or, as a privileged reference, from
  true states. Observations and hyperparameters: :mod:`agents.sb3`.

Every agent is evaluated on the same episodes: episode i resets with ``--seed + i`` (start state
and goal), as ``pig_control.mpc`` does, from the first reporting seed 10**6 by default
(:mod:`pig_control.protocol`); an episode succeeds when ``info["is_success"]`` holds at its final
step. Learning uses tuning seeds: the PIG models' rollouts and training, and the SB3 agents'
training envs, are seeded from ``--train-seed`` (default 0); SB3 agents act deterministically
when evaluated.

Row keys: agent, env_frames (env frames the agent learned from), success_rate, mean_return
(the env's reward summed over an episode), wall_s (seconds of learning: SB3 training time,
the PIG model's recorded training time; 0 for the oracle), plus mean_final_distance, eval_s and
model (pig-mpc), intervals (success n and Wilson 95 %, bootstrap 95 % of the means:
:func:`pig_control.protocol.episode_summary`) and episodes (per episode: seed, success,
final_distance, return, steps), so that two rows can be compared paired. The JSON adds
``frames_to_success`` (per agent, the fewest frames at which it reached ``--success-threshold``,
or null), the settings, ``reused_rows`` (rows taken from ``--out`` as an earlier invocation
made them, with ``--resume``: made by the code of that invocation, which may predate this
provenance's commit) and the provenance (command, commit, sha256 of the PIG models, packages,
machine). The plot
(``--plot``, default the JSON path with ``.png``) shows success against env frames on a log scale.

Long runs can be resumed: rows and SB3 checkpoints go to ``--out`` as they are made, and
``--resume`` reuses finished rows and continues each SB3 agent from its last saved budget. An
``--out`` holding earlier work is refused unless ``--resume`` (reuse it) or ``--overwrite``
(delete it) says what to do; a second run on the same ``--out`` is refused while one runs (a
lock). SB3 zips are loaded only when ``manifest.json`` beside them, written by this tool when it
saved them, lists their sha256; nothing in them is unpickled (:meth:`agents.sb3.Baseline.load`).

Envs that are not ours (any Gymnasium id with pixels, e.g. ``dm_control/pendulum-swingup-v0``)
are seen through :func:`pig_control.pixel_env.make_pixel_env` at ``--size`` pixels (64) with
``--action-repeat`` (2, the DMC convention); budgets and ``env_frames`` count every env step.
Such envs have no goal: the SB3 agents see the last frames (``pixels``) or the simulator's state
(``state``), success and final distance are null where the env does not define them, and the
JSON's ``frames_to_return`` gives the fewest frames at which each agent's mean return reached
``--return-threshold``. The oracle row on DMC is :mod:`pig_control.control.dmc_oracle`; the plot
shows return against frames with the published DreamerV3, DrQ-v2 and SAC curves
(:mod:`pig_control.anchors`).

Each agent is one unit of :mod:`pig_control.fanout` (the oracle, each PIG model, each SB3 agent
through all its budgets, which continue one another): one after another here, or as Ray tasks
with ``--ray`` / ``--ray-address``; its rows are added to ``--out`` as it finishes. ``--device
cuda`` puts the MPC agents, the PIG models trained here and the SB3 policies on the GPU.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from pig_control import fanout
from pig_control.cli import (
    atomic_path,
    check_output,
    check_outputs,
    make_parser,
    run_main,
    write_json,
)
from pig_control.errors import UserInputError, safe_reason
from pig_control.integrity import record, verify
from pig_control.interrupt import Interrupted, RaiseOnStop
from pig_control.mpc import (
    make_env,
    parse_assignments,
    resolve_model,
    run_episodes,
    shipped_file,
    summarize,
)
from pig_control.protocol import REPORTING_SEED, episode_summary, seed_split
from pig_control.provenance import command_argv, provenance
from pig_control.runlock import LOCK_NAME, locked

#: An SB3 checkpoint saved at a budget: ``frames_N.zip``.
SAVED_ZIP = re.compile(r"frames_(\d+)\.zip")


class RowLog:
    """Rows as JSON lines in ``DIR/rows.jsonl``, appended as they are made (resume reads them).
    Without ``resume`` the file must not exist yet (:func:`clear_earlier_work` decides)."""

    def __init__(self, out_dir: Path, resume: bool):
        self.path = check_output(out_dir / "rows.jsonl", overwrite=resume)
        self.rows: list[dict] = []
        if resume and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    self.rows.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a line cut short when the run was killed: redo from there
            self._rewrite()

    def matching(self, key: dict) -> list[dict]:
        """Rows whose key holds every item of ``key`` (a partial key matches many)."""
        return [r for r in self.rows if all(r["key"].get(k) == v for k, v in key.items())]

    def find(self, key: dict) -> dict | None:
        return next(iter(self.matching(key)), None)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(row) + "\n")

    def _rewrite(self) -> None:
        with atomic_path(self.path, overwrite=True) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in self.rows))


def mpc_row(agent_name: str, agent, env, settings: dict, env_frames: int, wall_s: float,
            model: str) -> dict:
    """Evaluate an MPC agent on the shared episodes."""
    start = time.perf_counter()
    goal_from = "coords" if agent_name == "oracle" else "image"
    results = run_episodes(env, agent, settings["episodes"], settings["seed"],
                           env.unwrapped.max_episode_steps, goal_from,
                           progress=not settings["quiet"])
    return {"agent": agent_name, "env_frames": env_frames, **outcomes(results),
            "wall_s": wall_s, "eval_s": time.perf_counter() - start, "model": model}


def task_env(settings: dict):
    """The env of a comparison: one of our scenes as ``pig_control.mpc`` makes it, or any other
    id through :func:`pig_control.pixel_env.make_pixel_env` (``size``, ``action_repeat``)."""
    from pig_control.pixel_env import is_own_scene, make_pixel_env, resolve_env_id

    if is_own_scene(resolve_env_id(settings["env"])):
        return make_env(settings["env"], {})
    return make_pixel_env(settings["env"], size=settings["size"],
                          action_repeat=settings["action_repeat"])


def outcomes(results: list[dict]) -> dict:
    """A row's summary of its episodes: means, intervals and the per-episode outcomes."""
    return {**summarize(results), "intervals": episode_summary(results), "episodes": results}


def rollout_episodes(frames: int, steps: int) -> int:
    """Episodes of ``steps`` steps (``steps + 1`` frames each) that make about ``frames``."""
    return max(1, round(frames / (steps + 1)))


def train_pig_model(scene, frames: int, out_dir: Path, seed: int, quiet: bool,
                    resume: bool, device: str = "cpu") -> Path:
    """Collect about ``frames`` frames of coloured-noise rollouts and train a control model with
    the shipped recipe (``configs/ENV_control.yaml``) in ``out_dir/pig_FRAMES``; with
    ``resume``, reuse its rollouts and continue its training (without it ``out_dir`` holds no
    earlier work: :func:`clear_earlier_work`)."""
    from pig_control.data.__main__ import main as data_main
    from pig_control.train import main as train_main

    env_name, steps = scene.name, scene.max_episode_steps
    episodes = rollout_episodes(frames, steps)
    run_dir = out_dir / f"pig_{frames}"
    data = run_dir / "rollouts.npz"
    if not data.exists():
        data_main(["rollouts", env_name, "--episodes", str(episodes), "--steps", str(steps),
                   "--policy", "colored", "--seed", str(seed), "--out", str(data)])
    checkpoint = run_dir / "model" / "last.pt"
    # no checkpoint yet (a run killed before its first): start that training afresh
    resume = ["--resume"] if checkpoint.exists() else ["--overwrite"]
    status = train_main(["--config", f"{env_name}_control", "--data", str(data), "--out",
                         str(run_dir / "model"), "--seed", str(seed), "--device", device,
                         *resume, *(["--no-progress"] if quiet else [])])
    if status > 128:  # stopped by a signal, its checkpoint saved: stop the comparison too
        raise Interrupted(status - 128)
    return checkpoint


# ---- the units of a comparison (pig_control.fanout): each returns its rows -----------------
def oracle_unit(settings: dict, key: dict) -> list[dict]:
    """The oracle's row: the default planner on the true simulator."""
    from pig_control.api import make_oracle
    from pig_control.control.agent import DEFAULT_PLANNER

    if settings["foreign"]:
        return [{**dmc_oracle_row(settings), "key": key}]
    env = make_env(settings["env"], {})
    agent = make_oracle(env, planner=DEFAULT_PLANNER, device=settings["device"])
    return [{**mpc_row("oracle", agent, env, settings, 0, 0.0, "oracle"), "key": key}]


def dmc_oracle_row(settings: dict) -> dict:
    """The DMC oracle's row (:mod:`pig_control.control.dmc_oracle`, its default planner)."""
    from pig_control.control import dmc_oracle

    start = time.perf_counter()
    results, _, _, _ = dmc_oracle.evaluate(settings["env"], settings["episodes"],
                                           settings["seed"], progress=not settings["quiet"],
                                           action_repeat=settings["action_repeat"])
    results = [{"seed": r["seed"], "success": r["success"], "final_distance": None,
                "return": r["return"], "steps": r["control_steps"],
                "ms_per_step": r["ms_per_step"]} for r in results]
    return {"agent": "oracle", "env_frames": 0, **outcomes(results), "wall_s": 0.0,
            "eval_s": time.perf_counter() - start, "model": "oracle"}


def pig_unit(settings: dict, key: dict, model_arg: str | None, frames: int | None,
             out_dir: str) -> list[dict]:
    """One PIG world model's row: a given checkpoint, or one trained here from ``frames``."""
    from pig_control.api import make_agent
    from pig_control.control.agent import DEFAULT_PLANNER

    env = make_env(settings["env"], {})
    scene, device = env.unwrapped, settings["device"]
    if frames is not None:
        model_arg = str(train_pig_model(scene, frames, Path(out_dir), settings["train_seed"],
                                        settings["quiet"], settings["resume"], device))
    world_model = resolve_model(model_arg, scene.name, device)
    agent = make_agent(world_model, DEFAULT_PLANNER, env=env, device=device)
    row = mpc_row("pig-mpc", agent, env, settings, world_model.env_frames,
                  float(world_model.metadata.get("wall_clock_s", 0.0) or 0.0),
                  world_model.source)
    return [{**row, "key": key}]


def sb3_unit(settings: dict, algo: str, kind: str, budgets: list[int], out_dir: str,
             done: list[dict]) -> list[dict]:
    """Train one SB3 agent through every budget, evaluating (and saving) at each; ``done``:
    this agent's rows already made (their budgets are skipped). Returns the new rows."""
    from agents.sb3 import Baseline

    def new_env():
        return task_env(settings)

    name = f"{algo}-{kind}"
    agent_dir = Path(out_dir) / name
    agent_dir.mkdir(parents=True, exist_ok=True)
    baseline = Baseline(algo, kind, new_env, budget=budgets[-1], seed=settings["train_seed"],
                        log_dir=agent_dir / "logs", device=settings["device"])
    made, rows = list(done), []
    for budget in budgets:
        key = sb3_key(settings, name, budget)
        if any(r["key"] == key for r in made):
            continue
        saved = sorted((int(match[1]), agent_dir / match[0]) for match in
                       map(SAVED_ZIP.fullmatch, (p.name for p in agent_dir.iterdir())) if match)
        saved = [(n, p) for n, p in saved if n <= budget and n > baseline.frames_seen]
        if settings["resume"] and saved:
            zip_path = saved[-1][1]
            verify(zip_path)  # only what this tool wrote, unchanged since
            verify(zip_path.with_suffix(".stats.npz"))
            try:
                baseline.load(zip_path)
            except ValueError as error:  # its message may quote SB3's or PyTorch's advice
                raise UserInputError(f"cannot load the baseline checkpoint '{zip_path}': "
                                     f"{safe_reason(error)}") from None
        baseline.train_to(budget, progress=not settings["quiet"])
        if any(r["env_frames"] == baseline.frames_seen for r in made):
            continue  # one PPO rollout overshot this budget and the previous row has it
        zip_path = agent_dir / f"frames_{budget}.zip"
        baseline.save(zip_path)
        record(zip_path.with_suffix(".stats.npz"))
        record(zip_path)
        start = time.perf_counter()
        results = baseline.evaluate(settings["episodes"], settings["seed"])
        row = {"agent": name, "env_frames": baseline.frames_seen, **outcomes(results),
               "wall_s": baseline.train_seconds, "eval_s": time.perf_counter() - start,
               "key": key}
        made.append(row)
        rows.append(row)
    return rows


def sb3_key(settings: dict, name: str, budget: int) -> dict:
    """The row key of SB3 agent ``name`` at ``budget`` env frames."""
    return {"agent": name, "episodes": settings["episodes"], "seed": settings["seed"],
            "env": settings["env"], "budget": budget}


def clear_earlier_work(out_dir: Path, resume: bool, overwrite: bool) -> None:
    """Decide what happens to earlier work in ``out_dir`` (rows, SB3 checkpoints, PIG models):
    ``resume`` keeps it; otherwise ``overwrite`` deletes it, and with neither it is refused.
    Called while the lock of ``out_dir`` is held."""
    earlier = sorted(p for p in out_dir.iterdir() if p.name != LOCK_NAME)
    if not earlier or resume:
        return
    if not overwrite:
        names = ", ".join(p.name for p in earlier[:4]) + (", ..." if len(earlier) > 4 else "")
        raise UserInputError(f"--out '{out_dir}' holds earlier work ({names}): pass --resume to "
                             f"reuse it, --overwrite to delete it, or choose another --out")
    for path in earlier:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def frames_to_success(rows: list[dict], threshold: float, measure: str = "success_rate") -> dict:
    """Per agent (pig-mpc: over its models), the fewest env frames with ``measure`` (a row's
    ``success_rate`` or ``mean_return``) >= threshold; None when no row reached it."""
    out: dict[str, int | None] = {}
    for row in rows:
        reached = row[measure] is not None and row[measure] >= threshold
        best = out.get(row["agent"])
        if reached and (best is None or row["env_frames"] < best):
            out[row["agent"]] = row["env_frames"]
        else:
            out.setdefault(row["agent"], None)
    return out


def plot(rows: list[dict], path: str, env_name: str, threshold: float,
         overwrite: bool = False, measure: str = "success_rate") -> None:
    """Success rate (or, for envs without one, ``measure="mean_return"``) against env frames
    (log scale); the oracle as a horizontal line; on DMC tasks the published pixel agents'
    curves (:mod:`pig_control.anchors`) in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pig_control.anchors import LABELS, learning_curves, task_of

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    task = task_of(env_name)
    if measure == "mean_return" and task is not None:
        for (method, curve), shade in zip(learning_curves(task).items(),
                                          ("0.35", "0.55", "0.75"), strict=False):
            ax.plot(curve["frames"], curve["mean_return"], color=shade, lw=1.5, ls="-.",
                    label=f"{LABELS[method]} (published, {curve['seeds']} seeds)")
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    for name in agents:
        points = sorted((r["env_frames"], r[measure]) for r in rows if r["agent"] == name)
        if name == "oracle":
            ax.axhline(points[0][1], color="k", ls="--", lw=1, label="oracle (true simulator)")
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="*" if name == "pig-mpc" else "o",
                ms=12 if name == "pig-mpc" else 5, ls="--" if name.endswith("-state") else "-",
                label=f"{name} (true state)" if name.endswith("-state") else name)
    ax.axhline(threshold, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    if measure == "success_rate":
        ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("environment frames learned from")
    ax.set_ylabel("success rate" if measure == "success_rate" else "mean return")
    ax.set_title(f"{env_name}: {'success' if measure == 'success_rate' else 'return'} "
                 "against environment frames", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=120, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)


def _print_row(row: dict) -> None:
    rate = "-" if row["success_rate"] is None else f"{row['success_rate']:.2f}"
    print(f"{row['agent']:<13}{row['env_frames']:>10}{rate:>9}"
          f"{row['mean_return']:>11.2f}{row['wall_s']:>9.0f}", flush=True)


def build_parser():
    from agents.sb3 import ALGOS, OBSERVATIONS

    parser = make_parser("pig_control.compare", "PIG-MPC against stable-baselines3 agents and "
                         "the oracle on the same episodes: success against env frames.")
    parser.add_argument("--env", required=True, help="scene with a control task (spring, "
                        "pendulum, mnist_spring, bouncing, gravity) or any Gymnasium id with "
                        "pixels, e.g. dm_control/pendulum-swingup-v0")
    parser.add_argument("--size", type=int, default=None, metavar="PX",
                        help="frame side for envs that are not ours (default 64)")
    parser.add_argument("--action-repeat", type=int, default=None, metavar="K",
                        help="env steps per action for envs that are not ours (default 2)")
    parser.add_argument("--algos", default="ppo,sac", help=f"subset of {','.join(ALGOS)}, "
                        "comma-separated (empty: none)")
    parser.add_argument("--obs", default=",".join(OBSERVATIONS),
                        help="observation kinds of the SB3 agents: pixels, state or both")
    parser.add_argument("--steps", default="10000", metavar="N[,N,...]",
                        help="env-frame budgets at which each SB3 agent is evaluated")
    parser.add_argument("--max-frames", action="append", default=[], metavar="AGENT=N",
                        help="drop the budgets above N for one SB3 agent, e.g. "
                        "sac-pixels=10000 (SAC from pixels trains at about 8 frames/s here)")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per row")
    parser.add_argument("--seed", type=int, default=REPORTING_SEED,
                        help="evaluation episode i resets with seed S + i (default: the first "
                        f"reporting seed, {REPORTING_SEED})")
    parser.add_argument("--train-seed", type=int, default=0,
                        help="seed of the learners' data and training (a tuning seed, below "
                        f"{REPORTING_SEED}; default 0)")
    parser.add_argument("--pig-models", default=None, metavar="M[,M,...]",
                        help="PIG world models to evaluate: pretrained and/or checkpoint paths "
                        "(empty: none; default: pretrained where a model ships for the env)")
    parser.add_argument("--pig-frames", default="", metavar="N[,N,...]",
                        help="also train PIG control models from N env frames each (minutes)")
    parser.add_argument("--no-oracle", action="store_true", help="skip the oracle row")
    parser.add_argument("--success-threshold", type=float, default=0.9)
    parser.add_argument("--return-threshold", type=float, default=800.0,
                        help="for envs without a success criterion (DMC): the mean return "
                        "frames_to_return counts frames to (default 800)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="rows, SB3 checkpoints and training logs (progress.csv; TensorBoard "
                        "when installed) (default "
                        "runs/compare/ENV)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse finished rows in --out and continue SB3 agents from their "
                        "last saved budget")
    parser.add_argument("--json", default=None, metavar="PATH")
    parser.add_argument("--plot", default=None, metavar="F.png",
                        help="success against env frames (default: the --json path as .png)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --json and --plot files, and (without --resume) delete "
                             "earlier work in --out; with neither, an --out holding work is "
                             "refused")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="torch device of the MPC agents, PIG training and SB3 policies")
    fanout.add_arguments(parser, "CPUs (and threads) per agent (default 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from agents.sb3 import ALGOS, OBSERVATIONS, parse_budgets, parse_names

    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    spread = fanout.from_arguments(args)
    if args.device == "cuda" and not torch.cuda.is_available() and spread.address is None:
        raise UserInputError("--device cuda: no CUDA device is available")
    if args.episodes < 1:
        raise UserInputError(f"--episodes must be at least 1, got {args.episodes}")
    seed_split(args.seed, args.episodes)  # refuses a run mixing tuning and reporting seeds
    if seed_split(args.train_seed, 1) != "tuning":
        raise UserInputError(f"--train-seed must be a tuning seed (below {REPORTING_SEED}), got "
                             f"{args.train_seed}")
    if not 0.0 < args.success_threshold <= 1.0:
        raise UserInputError(f"--success-threshold must be in (0, 1], got "
                             f"{args.success_threshold}")
    algos = parse_names(args.algos, ALGOS, "--algos") if args.algos.strip() else []
    kinds = parse_names(args.obs, OBSERVATIONS, "--obs")
    budgets = parse_budgets(args.steps)
    pig_frames = parse_budgets(args.pig_frames) if args.pig_frames.strip() else []
    max_frames = parse_assignments(args.max_frames, "--max-frames")
    known_agents = {f"{a}-{k}" for a in ALGOS for k in OBSERVATIONS}
    if set(max_frames) - known_agents:
        raise UserInputError(f"--max-frames: unknown agent {sorted(set(max_frames) - known_agents)}"
                             f"; known: {', '.join(sorted(known_agents))}")
    from pig_control.pixel_env import DMC_PREFIX, is_own_scene, resolve_env_id

    foreign = not is_own_scene(resolve_env_id(args.env))
    if not foreign and (args.size is not None or args.action_repeat is not None):
        raise UserInputError("--size and --action-repeat apply to envs that are not ours")
    if args.action_repeat is None:
        args.action_repeat = 2  # the DMC convention
    env = task_env({"env": args.env, "size": args.size, "action_repeat": args.action_repeat})
    scene = env.unwrapped
    env_name = args.env if foreign else scene.name
    if args.pig_models is None:
        shipped = not foreign and shipped_file(env_name).is_file()
        args.pig_models = "pretrained" if shipped else ""
    pig_models = [m.strip() for m in args.pig_models.split(",") if m.strip()]
    if foreign and (pig_models or pig_frames):
        raise UserInputError(f"--pig-models / --pig-frames: compare has no PIG world model for "
                             f"{args.env} yet (the SB3 agents and the oracle run)")
    if foreign and not args.no_oracle and not args.env.startswith(DMC_PREFIX):
        raise UserInputError(f"no oracle for {args.env} (oracles exist for our scenes and DMC "
                             f"pendulum and cartpole): pass --no-oracle")
    for model in pig_models:  # fail before any long work
        if model == "pretrained" and not shipped_file(scene.name).is_file():
            raise UserInputError(f"no shipped control model for {scene.name}: drop "
                                 "'pretrained' from --pig-models")
        if model != "pretrained" and not Path(model).is_file():
            raise UserInputError(f"--pig-models: no such checkpoint '{model}'")
    for frames in pig_frames:  # training holds out an episode to validate on
        steps = scene.max_episode_steps
        if rollout_episodes(frames, steps) < 2:
            raise UserInputError(f"--pig-frames {frames} is one episode of {scene.name} "
                                 f"({steps + 1} frames); training needs at least 2 episodes "
                                 f"(about {2 * (steps + 1)} frames)")
    plot_path = args.plot or (str(Path(args.json).with_suffix(".png")) if args.json else None)
    check_outputs((args.json, plot_path), args.overwrite)
    out_dir = Path(args.out or Path("runs") / "compare" / env_name.replace("/", "_"))
    resources = fanout.unit_resources(args, args.device == "cuda")
    fanout.check_placeable([fanout.Unit("agent", oracle_unit, **resources)], spread)
    with locked(out_dir), RaiseOnStop():
        clear_earlier_work(out_dir, args.resume, args.overwrite)
        try:
            return compare_in(out_dir, args, argv, env_name, Plan(
                algos, kinds, budgets, max_frames, pig_models, pig_frames, plot_path, spread,
                resources, foreign))
        except Interrupted as stop:
            resume = shlex.join([*command_argv("pig_control.compare", argv),
                                 *([] if args.resume else ["--resume"])])
            print(f"{stop.signal_name}: stopped; the finished rows and saved agents in "
                  f"'{out_dir}' are kept; resume with: {resume}", file=sys.stderr)
            return stop.exit_status


@dataclass(frozen=True)
class Plan:
    """What a compare run was asked for, parsed and checked from its options."""

    algos: list[str]
    kinds: list[str]
    budgets: list[int]
    max_frames: dict
    pig_models: list[str]
    pig_frames: list[int]
    plot_path: str | None
    fanout: fanout.FanOut
    resources: dict
    foreign: bool = False


def compare_in(out_dir: Path, args, argv, env_name: str, plan: Plan) -> int:
    """The body of :func:`main`, run while this process holds the lock of ``out_dir``."""
    from agents.sb3 import HYPERPARAMS
    from pig_control.control.agent import DEFAULT_PLANNER

    algos, kinds, budgets, max_frames = plan.algos, plan.kinds, plan.budgets, plan.max_frames
    pig_models, pig_frames, plot_path = plan.pig_models, plan.pig_frames, plan.plot_path
    log = RowLog(out_dir, args.resume)
    earlier = len(log.rows)  # rows made by an earlier invocation (--resume), possibly older code
    print(f"{'agent':<13}{'frames':>10}{'success':>9}{'return':>11}{'wall s':>9}", flush=True)
    for row in log.rows:
        _print_row(row)

    settings = {"env": args.env, "episodes": args.episodes, "seed": args.seed,
                "train_seed": args.train_seed, "quiet": args.quiet or plan.fanout.uses_ray,
                "device": args.device, "resume": args.resume, "foreign": plan.foreign,
                "size": args.size,
                "action_repeat": args.action_repeat}
    wanted: list[dict] = []  # the rows this run asks for (found in the log or made now)
    units: list = []

    def add_unit(name: str, keys: list[dict], function, **kwargs) -> None:
        wanted.extend(keys)
        if any(log.find(key) is None for key in keys):
            units.append(fanout.Unit(name, function, {"settings": settings, **kwargs},
                                     **plan.resources))

    shared = {"episodes": args.episodes, "seed": args.seed, "env": args.env}
    if not args.no_oracle:
        key = {"agent": "oracle", **shared}
        add_unit("oracle", [key], oracle_unit, key=key)
    checkpoints = [(m, None) for m in pig_models] + [(None, n) for n in pig_frames]
    for i, (model_arg, frames) in enumerate(checkpoints):
        key = {"agent": "pig-mpc", "model": model_arg, "frames": frames, **shared}
        if model_arg not in (None, "pretrained"):
            model_arg = str(Path(model_arg).resolve())  # units may run in another directory
        add_unit(f"pig-mpc-{i}", [key], pig_unit, key=key, model_arg=model_arg, frames=frames,
                 out_dir=str(out_dir.resolve()))
    for algo in algos:
        for kind in kinds:
            cap = max_frames.get(f"{algo}-{kind}", float("inf"))
            capped = [b for b in budgets if b <= cap]
            if capped:
                name = f"{algo}-{kind}"
                add_unit(name, [sb3_key(settings, name, b) for b in capped], sb3_unit,
                         algo=algo, kind=kind, budgets=capped, out_dir=str(out_dir.resolve()),
                         done=log.matching({"agent": name, **shared}))

    def keep_rows(outcome) -> None:  # in the driver, as each unit finishes
        for row in outcome.result or []:
            if log.find(row["key"]) is None:
                log.add(row)
                _print_row(row)

    if fanout.report_failures(fanout.run_units(units, plan.fanout, on_outcome=keep_rows)):
        return 1
    rows = [{k: v for k, v in r.items() if k != "key"}
            for key in wanted for r in log.rows if r["key"] == key]
    reused = [f"{r['agent']} at {r['env_frames']} frames" for key in wanted
              for r in log.rows[:earlier] if r["key"] == key]
    by_return = any(r["success_rate"] is None for r in rows)  # an env without success (DMC)
    report = {
        "rows": rows,
        "frames_to_success": frames_to_success(rows, args.success_threshold),
        "success_threshold": args.success_threshold,
        **({"frames_to_return": frames_to_success(rows, args.return_threshold, "mean_return"),
            "return_threshold": args.return_threshold,
            "size": settings["size"] or 64, "action_repeat": settings["action_repeat"]}
           if plan.foreign else {}),
        "env": env_name, "episodes": args.episodes, "seed": args.seed,
        "train_seed": args.train_seed,
        "steps": budgets, "planner": DEFAULT_PLANNER,
        "hyperparameters": {f"{a}-{k}": {n: str(v) for n, v in HYPERPARAMS[(a, k)].items()}
                            for a in algos for k in kinds},
        # rows found in --out from an earlier invocation (its code may be older than this
        # provenance's commit: see that run's own log)
        "reused_rows": reused,
        "provenance": provenance("pig_control.compare", argv, inputs=sorted(
            {r["model"] for r in rows if r["agent"] == "pig-mpc" and Path(r["model"]).is_file()})),
    }
    reached, target = ((report["frames_to_return"], f"return {args.return_threshold:g}")
                       if by_return else
                       (report["frames_to_success"], f"success {args.success_threshold:.0%}"))
    print(f"frames to reach {target}: " + ", ".join(
        f"{a} {'not reached' if n is None else n}" for a, n in reached.items()))
    if args.json:
        write_json(args.json, report, overwrite=args.overwrite)
    if plot_path and rows:
        plot(rows, plot_path, env_name,
             args.return_threshold if by_return else args.success_threshold,
             overwrite=args.overwrite, measure="mean_return" if by_return else "success_rate")
        print(f"plot: {plot_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
