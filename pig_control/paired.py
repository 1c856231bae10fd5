"""Compare two results files on the same episodes, paired by seed.

    python -m pig_control.mpc --env spring --episodes 200 --json a.json
    python -m pig_control.mpc --env spring --episodes 200 --cost-option velocity_weight=1 \\
        --json b.json
    python -m pig_control.paired a.json b.json [--alpha 0.05] [--json diff.json]

Each file is one run's report with per-episode outcomes (``episodes``: seed, success,
final_distance, return), as ``pig_control.mpc --json`` writes. The two runs must have played
the same episodes (the same seeds) of the same env. Success is compared with McNemar's test,
final distance and return with a paired bootstrap interval of the mean difference B - A
(:func:`pig_control.protocol.compare_paired`); each metric's verdict is "improvement",
"regression" or "no significant difference" at level ``--alpha``. The JSON holds the
comparison, both runs' seed sets and the provenance (with the sha256 of both files).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pig_control.cli import add_overwrite_option, check_output, make_parser, run_main, write_json
from pig_control.errors import UserInputError
from pig_control.protocol import CONFIDENCE, compare_paired, seed_split
from pig_control.provenance import provenance


def read_run(path: str) -> dict:
    """A results file with per-episode outcomes; UserInputError when it is not one."""
    file = Path(path)
    if not file.is_file():
        raise UserInputError(f"no such results file: {path}")
    try:
        report = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserInputError(f"{path} is not a JSON file ({error})") from None
    if not isinstance(report, dict) or not isinstance(report.get("episodes"), list):
        raise UserInputError(f"{path} has no per-episode outcomes ('episodes'): compare files "
                             "written by python -m pig_control.mpc --json")
    return report


def build_parser():
    parser = make_parser("pig_control.paired", "Compare two runs on the same episodes: McNemar "
                         "for success, paired bootstrap for final distance and return.")
    parser.add_argument("a", help="results file of setting A (the reference)")
    parser.add_argument("b", help="results file of setting B (the change)")
    parser.add_argument("--alpha", type=float, default=round(1 - CONFIDENCE, 10),
                        help="significance level (default 0.05)")
    parser.add_argument("--json", default=None, metavar="PATH")
    add_overwrite_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.json:
        check_output(args.json, args.overwrite)
    run_a, run_b = read_run(args.a), read_run(args.b)
    if run_a.get("env") != run_b.get("env"):
        raise UserInputError(f"the runs are of different envs: {run_a.get('env')} and "
                             f"{run_b.get('env')}")
    result = compare_paired(run_a["episodes"], run_b["episodes"], args.alpha)
    seeds = [int(e["seed"]) for e in run_a["episodes"]]
    seed_set = seed_split(min(seeds), max(seeds) - min(seeds) + 1)
    print(f"{result['n']} paired episodes of {run_a.get('env')} ({seed_set} seeds), "
          f"alpha {args.alpha}")
    success = result["success"]
    print(f"{'success':<16}{success['rate_a']:>9.3f}{success['rate_b']:>9.3f}   "
          f"A only {success['only_a']}, B only {success['only_b']}, {success['test']} "
          f"p = {success['p_value']:.4g}: {success['verdict']}")
    for metric in ("final_distance", "return"):
        row = result[metric]
        low, high = next(v for k, v in row.items() if k.startswith("bootstrap_"))
        print(f"{metric:<16}{row['mean_a']:>9.3f}{row['mean_b']:>9.3f}   B - A "
              f"{row['mean_difference']:+.3f} [{low:+.3f}, {high:+.3f}]: {row['verdict']}")
    if args.json:
        write_json(args.json, {"a": args.a, "b": args.b, "env": run_a.get("env"),
                               "seeds": seed_set, **result,
                               "provenance": provenance("pig_control.paired", argv,
                                                        inputs=[args.a, args.b])},
                   overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
