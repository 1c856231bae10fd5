"""The memory guard's estimate against the measured peak memory of one training step.

    python benchmarks/training_memory.py [--out benchmarks/results/training_memory.json]
        [--overwrite]

Each case runs in its own process (so that peak resident memory belongs to it alone): a tiny
dataset of the scene is generated, a Trainer built, and one autoencoder or joint step taken with
``frames`` frames; the growth of the peak resident set size over the step is compared with
:func:`pig_control.config.training_memory_bytes` for the same phase. The constants of the
estimate (``pig_control/config.py``) were fitted to these cases.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control.cli import run_main, write_json  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402

#: (scene config, phase, frames, overrides)
CASES = [
    ("spring", "autoencoder", 512, ["model.unet_channels=4"]),
    ("spring", "autoencoder", 512, []),
    ("spring", "autoencoder", 512, ["model.unet_channels=16"]),
    ("gravity", "autoencoder", 512, []),
    ("mnist_spring", "autoencoder", 128, []),
    ("spring", "joint", 640, []),
]


def measure(scene: str, phase: str, frames: int, overrides: list[str]) -> dict:
    """Peak memory growth (bytes) of one step, and the estimate for that step alone."""
    import torch

    from pig_control.config import load_config, training_memory_bytes
    from pig_control.data import generate_dataset
    from pig_control.train import Trainer

    torch.set_num_threads(1)
    window = 10
    batch = frames // window if phase == "joint" else 1
    only = (["training.autoencoder_steps=0", "training.dynamics_steps=0"] if phase == "joint"
            else ["training.autoencoder_steps=1", "training.dynamics_steps=0",
                  "training.steps=1"])
    config = load_config(scene, [f"training.autoencoder_frames={frames}",
                                 f"training.batch_size={batch}", "training.valid_sequences=0",
                                 "data.input_steps=4", "data.pred_steps=6", *only, *overrides])
    data = generate_dataset(scene, n_train=40, n_valid=2, n_test=2, seed=0, progress=False)
    trainer = Trainer(config, data, "/nonexistent-never-written")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    losses = (trainer._autoencoder_loss if phase == "autoencoder" else trainer._joint_loss)()
    losses["loss"].backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"scene": scene, "phase": phase, "frames": frames, "overrides": overrides,
            "measured_bytes": peak - before, "estimated_bytes": training_memory_bytes(config)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the rows as JSON here")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # one case, in a child
    args = parse_benchmark_args(parser, argv, __file__)
    if args.case is not None:
        print(json.dumps(measure(*CASES[args.case])))
        return 0
    rows = []
    for index in range(len(CASES)):
        # the parent checked the tree; a child only measures
        child = subprocess.run([sys.executable, __file__, "--case", str(index), "--allow-dirty"],
                               check=True, capture_output=True, text=True)
        row = json.loads(child.stdout.strip().splitlines()[-1])
        row["estimate_over_measured"] = round(row["estimated_bytes"] / row["measured_bytes"], 3)
        rows.append(row)
        print(f"{row['scene']:>13} {row['phase']:>11} {row['frames']:>4} frames "
              f"{' '.join(row['overrides']) or '(config)':<24} measured "
              f"{row['measured_bytes'] / 2**20:7.1f} MiB, estimated "
              f"{row['estimated_bytes'] / 2**20:7.1f} MiB ({row['estimate_over_measured']:.2f}x)")
    if args.out:
        write_json(args.out, {"rows": rows, "provenance": benchmark_provenance(args)},
                   overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
