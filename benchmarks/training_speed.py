"""Training speed on this machine: our recipe against the paper's, same code, same data, one run.

    python benchmarks/training_speed.py [--paper-seconds 180]
        [--out benchmarks/results/training_speed.json]

1. Ours (configs/spring.yaml): trains to the end; the time to 5 % is the training wall-clock
   (metrics.csv) at the first logged step from which k and l stay within 5 % of the truth.
2. The paper's recipe (configs/spring_paper.yaml, RMSProp, batch 100, 25,000 steps): trained for
   ``--paper-seconds``; its seconds per step give its projected time for the full 25,000 steps,
   and its parameters at the end of the budget are reported as they are.

Two like-for-like comparisons: seconds per training step (``per_step``), and seconds to
reach 5 % (``to_5pct``: for the paper recipe either its time or "never reached 5 % in N steps"
within the budget; no ratio is formed from a projection). Both use one torch thread. The JSON
carries the provenance (command, commit, sha256 of the data, machine).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from robustness import seconds_to_5pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control.cli import run_main, write_json  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402
from pig_control.runlock import locked  # noqa: E402

TRUE = {"k": 4.0, "l": 6.0}


def rows(run: Path) -> list[dict]:
    with (run / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def within(row: dict, tolerance: float = 0.05) -> bool:
    return all(row.get(k) and abs(float(row[k]) - v) / v < tolerance for k, v in TRUE.items())


def train(config: str, data: Path, out: Path, timeout: float | None = None) -> float:
    command = [sys.executable, "-m", "pig_control.train", "--config", config, "--data", str(data),
               "--out", str(out), "--no-progress", "--threads", "1", "--overwrite"]
    started = time.perf_counter()
    try:
        subprocess.run(command, cwd=ROOT, timeout=timeout, check=True, capture_output=True)
    except subprocess.TimeoutExpired:
        pass
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper-seconds", type=float, default=180.0)
    parser.add_argument("--runs", default=str(ROOT / "runs" / "training_speed"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/training_speed.json"))
    args = parse_benchmark_args(parser, argv, __file__)
    data = ROOT / "data" / "spring.npz"
    if not data.exists():
        subprocess.check_call([sys.executable, "-m", "pig_control.data", "generate", "spring",
                               "--out", str(data), "--quiet"], cwd=ROOT)
    runs = Path(args.runs)
    with locked(runs):  # each training starts afresh (--overwrite) in its own subfolder
        ours_wall = train("spring", data, runs / "ours")
        ours = rows(runs / "ours")
        train("spring_paper", data, runs / "paper", timeout=args.paper_seconds)
        paper = rows(runs / "paper")
    reached = seconds_to_5pct(ours, TRUE)
    steps_total = yaml.safe_load((ROOT / "configs" / "spring_paper.yaml").read_text())[
        "training"]["steps"]
    last = paper[-1] if paper else {}
    seconds_per_step = float(last["wall_s"]) / int(last["step"]) if paper else float("nan")
    projected = seconds_per_step * steps_total
    ours_per_step = float(ours[-1]["wall_s"]) / int(ours[-1]["step"])
    paper_reached = seconds_to_5pct(paper, TRUE) if paper else None
    result = {
        "provenance": benchmark_provenance(args, [data]),
        "ours": {"seconds_to_5pct": reached, "train_seconds": float(ours[-1]["wall_s"]),
                 "process_seconds": round(ours_wall, 1), "steps": int(ours[-1]["step"]),
                 "k": float(ours[-1]["k"]), "l": float(ours[-1]["l"])},
        "paper_recipe": {"budget_seconds": args.paper_seconds,
                         "steps_done": int(last.get("step", 0)),
                         "seconds_per_step": seconds_per_step,
                         "projected_seconds_for_all_steps": projected, "steps_total": steps_total,
                         "k_at_budget": float(last.get("k", "nan")),
                         "l_at_budget": float(last.get("l", "nan")),
                         "within_5pct_at_budget": bool(paper) and within(last)},
        "per_step": {"ours_seconds": ours_per_step, "paper_seconds": seconds_per_step,
                     "paper_over_ours": seconds_per_step / ours_per_step},
        "to_5pct": {"ours_seconds": reached, "paper_seconds": paper_reached,
                    "paper": (f"reached 5 % after {paper_reached} s" if paper_reached else
                              f"never reached 5 % in {int(last.get('step', 0))} steps "
                              f"({args.paper_seconds:.0f} s)")},
    }
    write_json(args.out, result, overwrite=args.overwrite)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
