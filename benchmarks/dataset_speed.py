"""Frames per second of dataset generation: the original renderer against ours.

(a) the original method (PAPER.md): each ball drawn 10x larger with ``skimage.draw.disk`` on its
    own 320x320 canvas, downscaled to 32x32 with ``skimage.transform.resize(anti_aliasing=True)``
    into its colour channel, one frame at a time in a Python loop;
(b) our vectorised ``scene.render_states`` on batches of sequences;
(c) our whole generation, physics and rendering (``generate_dataset``), per frame.

All three use the spring scene and the same sampled states. Prints a table, names the machine and
writes ``benchmarks/results/dataset_speed.json``. Runs in well under a minute on 2 cores.

    python benchmarks/dataset_speed.py [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import envs  # noqa: E402
from pig_control.cli import run_main, write_json  # noqa: E402
from pig_control.data import generate_dataset  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402

SCENE = "spring"
UPSCALE = 10


def render_original(positions: np.ndarray, radius: float, size: int) -> np.ndarray:
    """The original generators' renderer for one frame: ``(n, 2)`` positions -> uint8 (H, W, 3)."""
    from skimage.draw import disk
    from skimage.transform import resize

    big = size * UPSCALE
    frame = np.zeros((size, size, 3), dtype=np.float64)
    for i, (x, y) in enumerate(positions):
        canvas = np.zeros((big, big), dtype=np.float64)
        rr, cc = disk((y * UPSCALE, x * UPSCALE), radius * UPSCALE, shape=canvas.shape)
        canvas[rr, cc] = 1.0
        frame[:, :, i % 3] += resize(canvas, (size, size), anti_aliasing=True)
    return (np.clip(frame, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def best_rate(run, frames: int, repeats: int) -> float:
    """Frames per second of ``run()`` (producing ``frames`` frames), best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return frames / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(ROOT / "benchmarks/results/dataset_speed.json"))
    parser.add_argument("--original-frames", type=int, default=120,
                        help="frames rendered the original way (default %(default)s)")
    args = parse_benchmark_args(parser, argv, __file__, output="json")

    scene = envs.make_scene(SCENE, actuated=False)
    size = int(scene.image_size)
    radius = float(getattr(scene, "radius", 2.0))
    rng = np.random.default_rng(0)
    states = scene.sample_sequences(rng, 250, 12)  # 3,000 frames
    frames = states.reshape((-1,) + tuple(scene.state_shape))
    pos = np.asarray(scene.positions(frames))

    n_orig = min(args.original_frames, len(pos))
    original = best_rate(lambda: [render_original(p, radius, size) for p in pos[:n_orig]],
                         n_orig, repeats=2)
    ours = best_rate(lambda: scene.render_states(states), frames.shape[0], repeats=3)
    generation = best_rate(
        lambda: generate_dataset(SCENE, n_train=500, n_valid=0, n_test=0, seq_len=12,
                                 progress=False), 500 * 12, repeats=2)

    # The two renderers agree (same anti-aliased balls, up to the profile of the edges).
    reference = np.stack([render_original(p, radius, size) for p in pos[:20]]).astype(float)
    mine = scene.render_states(frames[:20]).astype(float)
    mean_abs_diff = float(np.abs(reference - mine).mean())

    rows = [("(a) original: 10x disk + resize, per frame", original, 1.0),
            ("(b) ours: render_states, batched", ours, ours / original),
            ("(c) ours: whole generation (physics + render)", generation, generation / original)]
    block = benchmark_provenance(args)
    info = block["machine"]
    print(f"dataset generation speed, scene {SCENE} ({size}x{size}, "
          f"{scene.state_shape[0]} balls)")
    print(f"machine: {info['processor']}, {info['cpu_count']} CPUs, {info['system']}, "
          f"load average {info['load_average_1_5_15']}")
    print(f"{'method':<48}{'frames/s':>12}{'x (a)':>10}")
    for name, rate, ratio in rows:
        print(f"{name:<48}{rate:>12,.0f}{ratio:>10,.0f}")
    print(f"mean |difference| between (a) and (b) images: {mean_abs_diff:.2f} / 255")
    write_json(args.json, overwrite=args.overwrite, payload={
        "scene": SCENE, "image_size": size, "provenance": block,
        "original_fps": round(original, 1), "render_states_fps": round(ours, 1),
        "generation_fps": round(generation, 1),
        "render_speedup": round(ours / original, 1),
        "generation_speedup": round(generation / original, 1),
        "original_frames_timed": n_orig, "render_frames_timed": int(frames.shape[0]),
        "mean_abs_pixel_difference": round(mean_abs_diff, 3),
        "acceptance": ">= 100x per frame over (a)",
        "passed": bool(min(ours, generation) / original >= 100)})
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
