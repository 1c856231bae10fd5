"""The spring's speed weight in the MPC cost: 0.3 (the default) against 1.0.

    python benchmarks/spring_velocity_weight.py
        [--out benchmarks/tuning/spring_velocity_weight.json]

Runs ``python -m pig_control.mpc`` on the spring with ``--cost-option velocity_weight=W`` for
both weights over the same seeded episodes: the oracle (true simulator, true state) at k = 4 and
with the true spring stiffened to k = 8, on seeds 0-399; the shipped model from pixels at k = 4
(seeds 0, 1000, 2000, 3000 and 4000, 100 episodes each) and adapted to k = 8 with
``--set-param k=8`` (seeds 0-499). Writes the success counts per seed block and in total, the
success with its Wilson 95 % interval, and per task the paired comparison of the two weights on
the same episodes (:func:`pig_control.protocol.compare_paired`: McNemar, paired bootstrap).
These are tuning seeds (< 10**6): the benchmark exists to choose the default weight, so its
figures are not reporting figures and it writes to ``benchmarks/tuning/``. Single-threaded;
about 20 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pig_control.api import PRETRAINED_DIR  # noqa: E402
from pig_control.cli import run_main, write_json  # noqa: E402
from pig_control.mpc import main as mpc_main  # noqa: E402
from pig_control.protocol import compare_paired, success_summary  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402

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


def episodes(args: list[str], seed: int) -> list[dict]:
    """Per-episode outcomes of one ``pig_control.mpc`` run of EPISODES episodes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        mpc_main(["--env", "spring", "--episodes", str(EPISODES), "--seed", str(seed),
                  "--quiet", "--json", str(out), *args])
        return json.loads(out.read_text())["episodes"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/tuning/"
                                             "spring_velocity_weight.json"))
    args = parse_benchmark_args(parser, argv, __file__)
    start = time.perf_counter()
    rows, comparisons = [], []
    for name, extra, seeds in TASKS:
        played = {}
        for weight in WEIGHTS:
            blocks = [episodes([*extra, "--cost-option", f"velocity_weight={weight}"], s)
                      for s in seeds]
            played[weight] = [e for block in blocks for e in block]
            counts = [sum(e["success"] for e in block) for block in blocks]
            rows.append({"task": name, "velocity_weight": weight, "seeds": list(seeds),
                         "seed_set": "tuning", "successes": counts,
                         "episodes": EPISODES * len(seeds),
                         "success_rate": sum(counts) / (EPISODES * len(seeds)),
                         "success": success_summary([e["success"] for e in played[weight]]),
                         "outcomes": played[weight]})
            print(f"{name:28s} velocity_weight {weight:3.1f}: {sum(counts):4d} / "
                  f"{EPISODES * len(seeds)}  {counts}", flush=True)
        comparison = compare_paired(played[WEIGHTS[1]], played[WEIGHTS[0]])
        comparisons.append({"task": name, "a_velocity_weight": WEIGHTS[1],
                            "b_velocity_weight": WEIGHTS[0], **comparison})
        print(f"{name:28s} {WEIGHTS[0]} against {WEIGHTS[1]}: "
              f"{comparison['success']['verdict']} (p = {comparison['success']['p_value']:.3g})")
    report = {"rows": rows, "comparisons": comparisons,
              "wall_clock_s": time.perf_counter() - start,
              "torch_threads": torch.get_num_threads(),
              "provenance": benchmark_provenance(args, [PRETRAINED_DIR / "spring_control.pt"])}
    write_json(args.out, report, overwrite=args.overwrite)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
