"""Return against env frames on a DMC task: PIG-MPC world models (from ``benchmarks/dmc.py``
files), the oracle (an ``mpc --model oracle`` report), optionally the stable-baselines3 rows of
a ``compare`` file, and the published DreamerV3, DrQ-v2 and SAC curves (``pig_control.anchors``).

    python benchmarks/dmc_plot.py --out docs/figures/dmc_pendulum_frames.png

Reads only results files (no training, no episodes): each PIG-MPC point is one frame budget's
mean return over its training seeds, at the mean env frames those runs used (each counts every
env step and reset of its exploration); the oracle is a horizontal line. A budget that two
files both report is refused (one file per budget), so a point never mixes runs.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control.cli import make_parser, run_main  # noqa: E402
from pig_control.errors import UserInputError  # noqa: E402
from pig_control.provenance import parse_benchmark_args  # noqa: E402

RESULTS = "benchmarks/results"
DEFAULT_PIG = ",".join(f"{RESULTS}/{name}.json" for name in
                       ("dmc_pendulum_1000", "dmc_pendulum_2000", "dmc_pendulum_5000"))
DEFAULT_ORACLE = f"{RESULTS}/dmc_oracle_pendulum_energy.json"


def _read(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserInputError(f"no such results file: {path}") from None
    except (OSError, ValueError) as error:
        raise UserInputError(f"cannot read {path}: {error}") from None


def pig_rows(paths: list[str], env: str) -> list[dict]:
    """One row per frame budget of the ``benchmarks/dmc.py`` files at ``paths``."""
    rows, seen = [], {}
    for path in paths:
        report = _read(path)
        if report.get("env") != env or not isinstance(report.get("results"), list):
            raise UserInputError(f"{path} is not a benchmarks/dmc.py file of {env}")
        for result in report["results"]:
            budget = result["budget_frames"]
            if budget in seen:
                raise UserInputError(f"budget {budget} is in both {seen[budget]} and {path}: "
                                     "give one file per budget")
            seen[budget] = path
            rows.append({"agent": "pig-mpc",
                         "env_frames": statistics.fmean(result["env_frames"].values()),
                         "mean_return": result["mean_return_over_seeds"],
                         "seeds": len(result["env_frames"]), "file": path})
    return rows


def oracle_row(path: str, env: str) -> dict:
    report = _read(path)
    if report.get("env") != env or report.get("model") != "oracle":
        raise UserInputError(f"{path} is not an mpc --model oracle report of {env}")
    return {"agent": "oracle", "env_frames": 0, "mean_return": report["mean_return"],
            "file": path}


def sb3_rows(path: str, env: str) -> list[dict]:
    """The model-free agents' rows of a ``pig_control.compare`` file."""
    report = _read(path)
    if report.get("env") != env or not isinstance(report.get("rows"), list):
        raise UserInputError(f"{path} is not a pig_control.compare file of {env}")
    return [{**row, "file": path} for row in report["rows"]
            if row["agent"] not in ("oracle", "pig-mpc")]


def main(argv: list[str] | None = None) -> int:
    from pig_control.compare import plot

    parser = make_parser("benchmarks/dmc_plot.py", __doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dm_control/pendulum-swingup-v0")
    parser.add_argument("--pig", default=DEFAULT_PIG,
                        help="benchmarks/dmc.py results files, comma-separated")
    parser.add_argument("--oracle", default=DEFAULT_ORACLE,
                        help="an mpc --model oracle report ('' for none)")
    parser.add_argument("--compare", default="", help="a pig_control.compare file whose SB3 "
                        "rows to draw ('' for none)")
    parser.add_argument("--threshold", type=float, default=800.0,
                        help="the return drawn as a dotted line (the issue's target)")
    parser.add_argument("--out", default=None, metavar="F.png")
    args = parse_benchmark_args(parser, argv, __file__)
    if args.out is None:
        raise UserInputError("--out F.png is required")
    rows = pig_rows([p.strip() for p in args.pig.split(",") if p.strip()], args.env)
    if args.oracle:
        rows.append(oracle_row(args.oracle, args.env))
    if args.compare:
        rows += sb3_rows(args.compare, args.env)
    if not rows:
        raise UserInputError("nothing to draw: give --pig, --oracle or --compare files")
    plot(rows, args.out, args.env, args.threshold, overwrite=args.overwrite,
         measure="mean_return")
    for row in rows:
        print(f"{row['agent']:<12}{row['env_frames']:>9.0f}{row['mean_return']:>9.1f}  "
              f"{row['file']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
