"""The spring's speed weight in the MPC cost: 0.3 (the default) against 1.0 (the former one).

    python benchmarks/spring_velocity_weight.py
        [--out benchmarks/results/spring_velocity_weight.json]

Runs ``python -m pig_control.mpc`` on the spring with ``--cost-option velocity_weight=W`` for
both weights over the same seeded episodes: the oracle (true simulator, true state) at k = 4 and
with the true spring stiffened to k = 8, on seeds 0-399; the shipped model from pixels at k = 4
(seeds 0, 1000, 2000, 3000 and 4000, 100 episodes each) and adapted to k = 8 with
``--set-param k=8`` (seeds 0-499). Writes the success counts per seed block and in total.
Single-threaded; about 20 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pig_control.cli import add_overwrite_option, check_output, write_json  # noqa: E402
from pig_control.mpc import main as mpc_main  # noqa: E402

WEIGHTS = (0.3, 1.0)
EPISODES = 100
#: (name, extra mpc arguments, first seed of each block of EPISODES episodes)
TASKS = (
    ("oracle, k = 4", ["--model", "oracle"], (0, 100, 200, 300)),
    ("oracle, k = 8", ["--model", "oracle", "--env-param", "k=8"], (0, 100, 200, 300)),
    ("pixels, k = 4", [], (0, 1000, 2000, 3000, 4000)),
    ("pixels, adapted to k = 8", ["--env-param", "k=8", "--set-param", "k=8"],
     (0, 100, 200, 300, 400)),
)


def successes(args: list[str], seed: int) -> int:
    """Successful episodes of one ``pig_control.mpc`` run of EPISODES episodes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        mpc_main(["--env", "spring", "--episodes", str(EPISODES), "--seed", str(seed),
                  "--quiet", "--json", str(out), *args])
        return sum(e["success"] for e in json.loads(out.read_text())["episodes"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/"
                                             "spring_velocity_weight.json"))
    add_overwrite_option(parser)
    args = parser.parse_args()
    check_output(args.out, args.overwrite)  # before the work, not after
    start = time.perf_counter()
    rows = []
    for name, extra, seeds in TASKS:
        for weight in WEIGHTS:
            counts = [successes([*extra, "--cost-option", f"velocity_weight={weight}"], s)
                      for s in seeds]
            rows.append({"task": name, "velocity_weight": weight, "seeds": list(seeds),
                         "successes": counts, "episodes": EPISODES * len(seeds),
                         "success_rate": sum(counts) / (EPISODES * len(seeds))})
            print(f"{name:28s} velocity_weight {weight:3.1f}: {sum(counts):4d} / "
                  f"{EPISODES * len(seeds)}  {counts}", flush=True)
    report = {"rows": rows, "wall_clock_s": time.perf_counter() - start,
              "machine": {"node": platform.node(), "processor": platform.machine(),
                          "torch_threads": torch.get_num_threads(),
                          "torch": torch.__version__, "python": platform.python_version()}}
    write_json(args.out, report, overwrite=args.overwrite)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
