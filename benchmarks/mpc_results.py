"""The control figures of the README (section "Control"): the shipped world models from pixels,
the oracle, and zero-data adaptation to a stiffer spring, each written to
benchmarks/results/mpc_*.json.

    python benchmarks/mpc_results.py [--only NAME[,NAME...]] [--ray | --ray-address ADDRESS]
        [--results benchmarks/results] [--units runs/mpc_results]

Each result is one ``python -m pig_control.mpc`` run (:data:`RUNS`) and one unit of
:mod:`pig_control.fanout`: here one after another (about 5 minutes on a 2-core CPU), or as Ray
tasks (the runs of benchmarks/mpc_results.sh, 200 reporting episodes each). Its JSON is
written as the unit finishes; a rerun reuses the finished ones kept in
``--units``. Single-threaded units; the JSON files record the median milliseconds per control
step, which are only comparable when the runs go one at a time on a quiet machine (the default).
Each JSON carries its run's provenance; a dirty tree is refused unless ``--allow-dirty``, and
existing results are replaced only with ``--overwrite``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control import fanout  # noqa: E402
from pig_control.cli import (  # noqa: E402
    add_overwrite_option,
    check_outputs,
    make_parser,
    run_main,
    write_json,
)
from pig_control.errors import UserInputError  # noqa: E402
from pig_control.mpc import run  # noqa: E402
from pig_control.provenance import add_allow_dirty, require_clean_tree  # noqa: E402

#: result name (benchmarks/results/mpc_NAME.json) -> the options of its pig_control.mpc run
RUNS = {name: f"--episodes 200 {options}" for name, options in {
    "spring_pretrained": "--env spring",
    "spring_oracle": "--env spring --model oracle",
    "pendulum_pretrained": "--env pendulum",
    "pendulum_oracle": "--env pendulum --model oracle",
    "spring_k8_adapted": "--env spring --env-param k=8 --set-param k=8",
    "spring_k8_oracle": "--env spring --model oracle --env-param k=8",
    "spring_k8_unadapted": "--env spring --env-param k=8",
    "mnist_spring_pretrained": "--env mnist_spring",
    "mnist_spring_oracle": "--env mnist_spring --model oracle",
}.items()}


def build_parser():
    parser = make_parser("benchmarks/mpc_results.py", __doc__.splitlines()[0])
    parser.prog = "python benchmarks/mpc_results.py"
    parser.add_argument("--only", default="", metavar="NAME[,NAME...]",
                        help=f"a subset of: {', '.join(RUNS)}")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--units", default=str(ROOT / "runs" / "mpc_results"),
                        help="finished runs kept here; a rerun reuses them")
    add_overwrite_option(parser)
    add_allow_dirty(parser)
    fanout.add_arguments(parser, "CPUs (and threads) per run (default 1)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    spread = fanout.from_arguments(args)
    names = [n for n in args.only.split(",") if n] or list(RUNS)
    unknown = sorted(set(names) - set(RUNS))
    if unknown:
        raise UserInputError(f"--only: unknown run(s) {', '.join(unknown)}; known: "
                             f"{', '.join(RUNS)}")
    results = Path(args.results)
    check_outputs([results / f"mpc_{name}.json" for name in names], args.overwrite)
    require_clean_tree(args.allow_dirty)
    resources = fanout.unit_resources(args, uses_gpu=False)
    units = [fanout.Unit(name, run, {"argv": ["--quiet", *RUNS[name].split()]}, **resources)
             for name in names]

    def write(outcome) -> None:  # in the driver, as each run finishes
        if outcome.done:
            report = outcome.result
            write_json(results / f"mpc_{outcome.key}.json", report, overwrite=args.overwrite)
            print(f"mpc_{outcome.key}: success {report['success_rate']:.2f} over "
                  f"{len(report['episodes'])} episodes", flush=True)

    return fanout.report_failures(fanout.run_units(units, spread, args.units, on_outcome=write))


if __name__ == "__main__":
    sys.exit(run_main(main))
