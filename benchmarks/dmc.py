"""PIG-MPC on the DeepMind Control Suite from pixels: world models learned from growing frame
budgets and several training seeds, each controlled over episodes on reporting seeds.

    python benchmarks/dmc.py --env dm_control/pendulum-swingup-v0 --budgets 5000 --seeds 0,1 \\
        --episodes 10 --runs runs/dmc --out benchmarks/results/dmc_pendulum.json

For every frame budget B and seed S, three commands run as a user would run them:

1. ``python -m pig_control.data rollouts ENV`` with coloured-noise actions (``--noise-std 1``,
   action repeat 2) and seed S: E episodes of T control steps, so that every env step and
   every reset counted stays within B. Pendulum: E = max(4, B // 500), T = (B // E - 1) // 2.
   Cart-pole: T = 100 (longer episodes drive the cart off the image), E = B // (2 T + 1);
2. ``python -m pig_control.train --config CONFIG --seed S`` on them;
3. ``python -m pig_control.mpc --env ENV --model CKPT --episodes N`` on reporting seeds
   (from 10**6, never used for any choice).

The JSON keeps each run's mpc report (returns per episode, bootstrap interval, learned against
true parameters, per-step times) and, per budget, the mean return over training seeds with
their spread. Files that already exist under RUNS (data, checkpoints, and reports of as many
episodes as asked) are reused, so an interrupted benchmark resumes.

Every (budget, seed) is one unit of :mod:`pig_control.fanout`: one after another here by
default, or as Ray tasks with ``--ray`` (all cores of this machine) or ``--ray-address`` (a
cluster whose nodes see this checkout at the same path), one CPU each (``--unit-cpus``). A unit
that fails is reported and the others still finish; rerunning resumes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control import fanout  # noqa: E402
from pig_control.cli import make_parser, run_main, write_json  # noqa: E402
from pig_control.errors import UserInputError  # noqa: E402
from pig_control.protocol import REPORTING_SEED  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402

#: Shipped training config of each supported env.
CONFIGS = {"dm_control/pendulum-swingup-v0": "dmc_pendulum",
           "dm_control/cartpole-swingup-v0": "dmc_cartpole"}
#: Control steps per exploration episode where fixed (else from the budget).
EPISODE_STEPS = {"dm_control/cartpole-swingup-v0": 100}
ACTION_REPEAT = 2


def episodes_and_steps(budget: int, env: str = "dm_control/pendulum-swingup-v0"
                       ) -> tuple[int, int]:
    """(episodes, control steps per episode) whose env frames, resets included, fit ``budget``."""
    if env in EPISODE_STEPS:
        steps = EPISODE_STEPS[env]
        episodes = budget // (ACTION_REPEAT * steps + 1)
        if episodes < 2:
            raise UserInputError(f"a budget of {budget} frames is too small for {env} (at "
                                 f"least {2 * (ACTION_REPEAT * steps + 1)})")
        return episodes, steps
    episodes = max(4, budget // 500)
    steps = (budget // episodes - 1) // ACTION_REPEAT
    if steps < 10:
        raise UserInputError(f"a budget of {budget} frames is too small (at least 84)")
    return episodes, steps


def run(command: list[str], log: Path) -> None:
    """Run one command from the repository root; its output goes to ``log``."""
    with log.open("w") as handle:
        status = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    if status:
        raise RuntimeError(f"{' '.join(command)} failed ({status}); see {log}")


def one_run(env: str, budget: int, seed: int, episodes: int, runs: str) -> dict:
    """Rollouts, training and control of one (budget, seed); returns the mpc report."""
    where = Path(runs) / f"{budget}_seed{seed}"
    where.mkdir(parents=True, exist_ok=True)
    data, report = where / "rollouts.npz", where / "mpc.json"
    python = sys.executable
    n, steps = episodes_and_steps(budget, env)
    if not data.exists():
        run([python, "-m", "pig_control.data", "rollouts", env, "--episodes", str(n),
             "--steps", str(steps), "--action-repeat", str(ACTION_REPEAT), "--policy",
             "colored", "--noise-std", "1.0", "--seed", str(seed), "--num-envs", "1",
             "--quiet", "--out", str(data)], where / "rollouts.log")
    checkpoint = where / "run" / "last.pt"
    trained = checkpoint.exists() and "step" in (where / "train.log").read_text()
    if not trained:
        run([python, "-m", "pig_control.train", "--config", CONFIGS[env], "--data", str(data),
             "--out", str(where / "run"), "--seed", str(seed), "--no-progress", "--overwrite"],
            where / "train.log")
    if report.exists() and len(json.loads(report.read_text())["episodes"]) != episodes:
        report.unlink()  # made for another --episodes: not this run's figure
    if not report.exists():
        run([python, "-m", "pig_control.mpc", "--env", env, "--model", str(checkpoint),
             "--episodes", str(episodes), "--seed", str(REPORTING_SEED), "--quiet",
             "--json", str(report)], where / "mpc.log")
    return json.loads(report.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("benchmarks/dmc.py", __doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dm_control/pendulum-swingup-v0",
                        choices=sorted(CONFIGS))
    parser.add_argument("--budgets", default="5000", help="env frames, comma-separated")
    parser.add_argument("--seeds", default="0,1", help="training (and data) seeds")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--runs", default="runs/dmc", help="working folder (reused)")
    parser.add_argument("--out", default=None, metavar="F.json")
    fanout.add_arguments(parser, "CPUs (and threads) per (budget, seed) run (default 1)")
    args = parse_benchmark_args(parser, argv, __file__)
    spread = fanout.from_arguments(args)
    try:
        budgets = [int(b) for b in args.budgets.split(",")]
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise UserInputError("--budgets and --seeds are comma-separated integers") from None
    for budget in budgets:
        episodes_and_steps(budget, args.env)
    runs = (Path(args.runs) / args.env.replace("/", "_")).resolve()
    units = [fanout.Unit(f"{budget}_seed{seed}", one_run,
                         {"env": args.env, "budget": budget, "seed": seed,
                          "episodes": args.episodes, "runs": str(runs)},
                         **fanout.unit_resources(args, False))
             for budget in budgets for seed in seeds]
    fanout.check_placeable(units, spread)
    outcomes = fanout.run_units(units, spread)
    if fanout.report_failures(outcomes):
        return 1
    done = {key: outcome.result for key, outcome in outcomes.items()}
    rows = []
    for budget in budgets:
        reports = {seed: done[f"{budget}_seed{seed}"] for seed in seeds}
        means = [reports[s]["mean_return"] for s in seeds]
        rows.append({
            "budget_frames": budget,
            "env_frames": {s: reports[s]["env_frames"] for s in seeds},
            "mean_return_over_seeds": statistics.fmean(means),
            "spread": {"min": min(means), "max": max(means),
                       "std": statistics.pstdev(means)},
            "per_seed": {s: {"mean_return": reports[s]["mean_return"],
                             "bootstrap_95": reports[s]["intervals"]["return"]["bootstrap_95"],
                             "returns": [e["return"] for e in reports[s]["episodes"]],
                             "cpu_ms_per_step": reports[s]["cpu_ms_per_step"],
                             "ms_per_step": reports[s]["ms_per_step"],
                             "learned_vs_true": reports[s]["learned_vs_true"]}
                         for s in seeds},
            "reports": reports})
        print(f"{budget:>6} frames: mean return {rows[-1]['mean_return_over_seeds']:.1f} over "
              f"seeds {seeds} ({', '.join(f'{m:.1f}' for m in means)})", flush=True)
    if args.out:
        write_json(args.out, {"provenance": benchmark_provenance(args), "env": args.env,
                              "episodes": args.episodes, "seeds": seeds, "results": rows},
                   overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
