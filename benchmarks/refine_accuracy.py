"""How far the shipped control models' positions are from the truth, with and without
render-and-compare refinement (``pig_control.model.decoder.fit_positions``).

    python benchmarks/refine_accuracy.py [--frames 100]
        [--out benchmarks/results/refine_accuracy.json]

Frames come from the actuated scenes after a few random actions (episode i resets with the
reporting seed 10**6 + i, :mod:`pig_control.protocol`).
For each number of refinement steps the script reports, in pixels, the mean distance of each
found position from the true one, the constant offset (the mean error vector per object, which
cancels against a goal image encoded the same way) and what varies from frame to frame (the mean
distance after removing that offset: what the state filter and the planner see as noise), and
the milliseconds per frame the refinement adds to the encoder (one frame at a time, one
thread). The encoder's object slots are matched to the scene's objects on the first frame.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pig_control.api import PRETRAINED_DIR  # noqa: E402
from pig_control.cli import run_main, write_json  # noqa: E402
from pig_control.model.decoder import fit_positions  # noqa: E402
from pig_control.mpc import load_learned, make_env  # noqa: E402
from pig_control.protocol import REPORTING_SEED  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402

SCENES = ("spring", "mnist_spring")
STEPS = (0, 1, 2, 3)


def sample_frames(name: str, count: int) -> tuple[torch.Tensor, np.ndarray]:
    """Frames (count, 3, H, W) in [0, 1] and true positions (count, n, 2), pixels."""
    env = make_env(name, {})
    rng = np.random.default_rng(0)
    frames, truth = [], []
    for i in range(count):
        observation, info = env.reset(seed=REPORTING_SEED + i)
        for _ in range(int(rng.integers(1, 20))):
            action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            observation, *_, info = env.step(action)
        frames.append(observation)
        truth.append(np.asarray(info["state"])[:, :2])
    x = torch.as_tensor(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0
    return x, np.stack(truth)


def measure(name: str, count: int) -> dict:
    model, _, _ = load_learned("pretrained", name, "cpu")
    model.eval()
    frames, truth = sample_frames(name, count)
    with torch.no_grad():
        encoded = model.encoder(frames)
    first = encoded[0].numpy()
    if np.abs(first - truth[0]).sum() > np.abs(first - truth[0, ::-1]).sum():
        truth = truth[:, ::-1]  # the encoder's slots need not follow the scene's
    rows = {}
    for steps in STEPS:
        start = time.perf_counter()
        found = torch.cat([fit_positions(model.decoder, frames[i:i + 1], encoded[i:i + 1], steps)
                           for i in range(count)]).numpy()
        ms = (time.perf_counter() - start) * 1000.0 / count
        error = found - truth
        offset = error.mean(0)
        rows[str(steps)] = {
            "mean_error_px": float(np.linalg.norm(error, axis=-1).mean()),
            "offset_px": offset.round(4).tolist(),
            "varying_error_px": float(np.linalg.norm(error - offset, axis=-1).mean()),
            "ms_per_frame": ms,
        }
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/refine_accuracy.json"))
    args = parse_benchmark_args(parser, argv, __file__)
    torch.set_num_threads(1)
    models = [PRETRAINED_DIR / f"{name}_control.pt" for name in SCENES]
    report = {"frames": args.frames, "first_seed": REPORTING_SEED, "scenes": {}}
    for name in SCENES:
        report["scenes"][name] = rows = measure(name, args.frames)
        for steps, row in rows.items():
            print(f"{name:<13} refine {steps}: error {row['mean_error_px']:.3f} px, varying "
                  f"{row['varying_error_px']:.4f} px, {row['ms_per_frame']:.2f} ms per frame")
    report["provenance"] = benchmark_provenance(args, models)
    write_json(args.out, report, overwrite=args.overwrite)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
