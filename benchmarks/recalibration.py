"""Control from pixels before and after ``python -m pig_control.recalibrate``, same episodes.

    python benchmarks/recalibration.py [--original-rev 60b3aff]
        [--out benchmarks/tuning/recalibration.json]

For the digits and the spring: the control model as trained (the shipped file at git revision
``--original-rev``, before any recalibration), recalibrated here on its own training rollouts
(``data/SCENE_rollouts.npz``, written with the command in ``configs/SCENE_control.yaml`` if
missing), and both run by ``python -m pig_control.mpc`` over the same blocks of 100 seeded
episodes: the digits on six blocks, the spring at k = 4 and adapted to k = 8 on three each.
Writes the parameters of both models, the success counts, per task the paired comparison of
the two models on the same episodes (:func:`pig_control.protocol.compare_paired`) and the
provenance (with the sha256 of both original models and the rollouts). These are tuning seeds
(< 10**6): the benchmark exists to decide whether to ship the recalibrated models, so it writes
to ``benchmarks/tuning/``. Single-threaded; about 20 minutes on a 2-core CPU. Needs a git
checkout (for the original models).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pig_control.checkpoint import load_model  # noqa: E402
from pig_control.cli import (  # noqa: E402
    atomic_write_bytes,
    run_main,
    write_json,
)
from pig_control.data import collect_rollouts, save_npz  # noqa: E402
from pig_control.mpc import main as mpc_main  # noqa: E402
from pig_control.protocol import compare_paired, success_summary  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402
from pig_control.recalibrate import main as recalibrate_main  # noqa: E402
from pig_control.recalibrate import physical_values  # noqa: E402

EPISODES = 100
#: (scene, task name, extra mpc arguments, first seed of each block of EPISODES episodes)
TASKS = (
    ("mnist_spring", "digits", [], (0, 1000, 2000, 3000, 4000, 5000)),
    ("spring", "spring, k = 4", [], (0, 1000, 2000)),
    ("spring", "spring adapted to k = 8", ["--env-param", "k=8", "--set-param", "k=8"],
     (0, 100, 200)),
)


def rollouts(scene: str) -> Path:
    """The control model's training rollouts (196 coloured-noise episodes of 50 steps)."""
    path = ROOT / "data" / f"{scene}_rollouts.npz"
    if not path.is_file():
        save_npz(path, collect_rollouts(scene, episodes=196, steps=50, policy="colored",
                                        seed=0, progress=True))
    return path


def original(scene: str, rev: str, folder: Path) -> Path:
    """The shipped model of ``scene`` at git revision ``rev``, written into ``folder``."""
    name = f"pig_control/pretrained/{scene}_control.pt"
    blob = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, capture_output=True,
                          check=True).stdout
    path = folder / f"{scene}_original.pt"
    atomic_write_bytes(path, blob)
    return path


def episodes(model: Path, scene: str, args: list[str], seed: int, folder: Path) -> list[dict]:
    """Per-episode outcomes of one ``pig_control.mpc`` run of EPISODES episodes."""
    out = folder / "run.json"
    mpc_main(["--env", scene, "--model", str(model), "--episodes", str(EPISODES), "--seed",
              str(seed), "--quiet", "--json", str(out), "--overwrite", *args])
    return json.loads(out.read_text())["episodes"]


def physics(path: Path) -> dict:
    return physical_values(load_model(path)[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original-rev", default="60b3aff",
                        help="git revision whose shipped models are the trained originals")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/tuning/recalibration.json"))
    args = parse_benchmark_args(parser, argv, __file__)
    start = time.perf_counter()
    report = {"original_rev": args.original_rev, "models": {}, "rows": [], "comparisons": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = {}
        for scene in sorted({task[0] for task in TASKS}):
            before = original(scene, args.original_rev, folder)
            after = folder / f"{scene}_recalibrated.pt"
            recalibrate_main(["--checkpoint", str(before), "--data", str(rollouts(scene)),
                              "--out", str(after), "--quiet"])
            models[scene] = {"original": before, "recalibrated": after}
            report["models"][scene] = {kind: physics(path) for kind, path in
                                       models[scene].items()}
        for scene, name, extra, seeds in TASKS:
            played = {}
            for kind, path in models[scene].items():
                blocks = [episodes(path, scene, extra, s, folder) for s in seeds]
                played[kind] = [e for block in blocks for e in block]
                counts = [sum(e["success"] for e in block) for block in blocks]
                total = EPISODES * len(seeds)
                report["rows"].append({
                    "task": name, "model": kind, "seeds": list(seeds), "seed_set": "tuning",
                    "successes": counts, "episodes": total, "success_rate": sum(counts) / total,
                    "success": success_summary([e["success"] for e in played[kind]]),
                    "outcomes": played[kind]})
                print(f"{name:26s} {kind:12s}: {sum(counts):4d} / {total}  {counts}",
                      flush=True)
            comparison = compare_paired(played["original"], played["recalibrated"])
            report["comparisons"].append({"task": name, "a": "original",
                                          "b": "recalibrated", **comparison})
            print(f"{name:26s} recalibrated against original: "
                  f"{comparison['success']['verdict']}")
        inputs = [path for scene in models for path in models[scene].values()]
        inputs += [rollouts(scene) for scene in models]
        report["provenance"] = benchmark_provenance(args, inputs)
    report["wall_clock_s"] = time.perf_counter() - start
    report["torch_threads"] = torch.get_num_threads()
    write_json(args.out, report, overwrite=args.overwrite)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
