"""``python -m pig_control.data``: generate datasets, collect rollouts, preview a file.

Examples::

    python -m pig_control.data generate spring --out data/spring.npz
    python -m pig_control.data generate gravity --out data/gravity_small.npz --train 500 --seed 1
    python -m pig_control.data rollouts pendulum --episodes 200 --steps 50 --policy colored \\
        --out data/pendulum_rollouts.npz
    python -m pig_control.data rollouts dm_control/pendulum-swingup-v0 --episodes 5 \\
        --steps 500 --action-repeat 2 --policy colored --out data/dmc_pendulum.npz
    python -m pig_control.data show data/spring.npz --out spring.png
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence

import numpy as np

from pig_control.cli import (
    add_overwrite_option,
    check_output,
    check_outputs,
    make_parser,
    run_main,
    write_json,
)
from pig_control.data.generate import SEQ_LENGTHS, SPLIT_SIZES, generate_dataset
from pig_control.data.io import load_dataset, save_npz
from pig_control.data.preview import save_preview
from pig_control.data.rollouts import ENV_IDS, POLICIES, collect_rollouts


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


def _float_at_least(minimum: float, strict: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (value > minimum if strict else value >= minimum):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {minimum}, "
                                             f"got {text}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("pig_control.data", "Generate datasets, collect rollouts, preview files.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="{generate,rollouts,show}")

    gen = sub.add_parser(
        "generate", help="the paper's dataset for an unactuated scene",
        description="Sample and render a dataset in the paper's format: train_x, valid_x, "
                    "test_x uint8 (N, T, H, W, 3), the true states and the scene's parameters.")
    gen.add_argument("scene", choices=list(SEQ_LENGTHS), help="scene (unactuated form)")
    gen.add_argument("--out", required=True, metavar="F.npz",
                     help="output .npz (written atomically)")
    gen.add_argument("--train", type=_int_at_least(1), metavar="N", default=SPLIT_SIZES["train"],
                     help="training sequences (default %(default)s)")
    gen.add_argument("--valid", type=_int_at_least(0), metavar="N", default=SPLIT_SIZES["valid"],
                     help="validation sequences (default %(default)s)")
    gen.add_argument("--test", type=_int_at_least(0), metavar="N", default=SPLIT_SIZES["test"],
                     help="test sequences (default %(default)s)")
    gen.add_argument("--seq-len", type=_int_at_least(1), metavar="T", default=None,
                     help="frames per train/valid sequence (default: 12; gravity 20)")
    gen.add_argument("--test-seq-len", type=_int_at_least(1), metavar="T", default=None,
                     help="frames per test sequence (default: 30; gravity 40)")
    _common(gen)

    roll = sub.add_parser(
        "rollouts", help="exploration episodes from a scene or any Gymnasium env with pixels",
        description="Collect frames (N, T+1, H, W, 3), actions (N, T, d) normalised to [-1, 1] "
                    "(the env's own bounds are stored beside them), true states where the env "
                    "exposes them (MuJoCo: qpos then qvel), rewards, success flags and goals "
                    "through Gymnasium vector environments. ENV: one of our scenes ("
                    f"{', '.join(ENV_IDS)}) or any registered Gymnasium id whose env has pixels "
                    "(an image observation or render_mode='rgb_array'); DMC through Shimmy, e.g. "
                    "dm_control/pendulum-swingup-v0 (optional extra [dmc]).")
    roll.add_argument("env", metavar="ENV", help="scene name or Gymnasium id")
    roll.add_argument("--episodes", type=_int_at_least(1), metavar="N", required=True,
                      help="episodes N")
    roll.add_argument("--steps", type=_int_at_least(1), metavar="T", required=True,
                      help="control steps T per episode (the TimeLimit is set to T)")
    roll.add_argument("--out", required=True, metavar="F.npz",
                      help="output .npz (written atomically)")
    roll.add_argument("--policy", choices=POLICIES, default="random",
                      help="random: uniform i.i.d.; colored: 1/f^beta noise (default %(default)s)")
    roll.add_argument("--beta", type=_float_at_least(0.0), default=2.0,
                      help="spectral exponent of the colored policy (default %(default)s)")
    roll.add_argument("--noise-std", type=_float_at_least(0.0, strict=True), default=0.5,
                      help="std of the colored policy before clipping (default %(default)s)")
    roll.add_argument("--num-envs", type=_int_at_least(1), default=8,
                      help="environments run side by side (default %(default)s)")
    roll.add_argument("--size", type=_int_at_least(1), default=None, metavar="PX",
                      help="square frame side in pixels, anti-aliased (default: our scenes "
                           "native, other envs 64)")
    roll.add_argument("--action-repeat", type=_int_at_least(1), default=1, metavar="K",
                      help="env steps per control step, all counted as env frames (default "
                           "%(default)s; DMC convention 2)")
    roll.add_argument("--camera", type=_int_at_least(0), default=0, metavar="ID",
                      help="DMC camera id (default %(default)s)")
    _common(roll)

    for name, aliases in (("show", ["preview"]),):
        show = sub.add_parser(name, aliases=aliases, help="save a picture grid of a file",
                              description="Save a PNG grid of a few sequences of a dataset or "
                                          "rollouts file (rows = sequences, columns = frames).")
        show.add_argument("file", help="a .npz written by generate or rollouts")
        show.add_argument("--out", required=True, metavar="F.png", help="output .png")
        show.add_argument("--split", choices=["train", "valid", "test"], default="train",
                          help="which split of a dataset (default %(default)s)")
        show.add_argument("--sequences", type=_int_at_least(1), default=4,
                          help="rows (default %(default)s)")
        show.add_argument("--frames", type=_int_at_least(1), default=12,
                          help="columns (default %(default)s)")
        add_overwrite_option(show)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=_int_at_least(0), metavar="S", default=0,
                        help="random seed (default %(default)s)")
    parser.add_argument("--no-compress", action="store_true",
                        help="store uncompressed (faster to write and load, larger)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary line")
    parser.add_argument("--json", metavar="PATH", help="also write a JSON summary here")
    add_overwrite_option(parser)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.action in ("show", "preview"):
        check_output(args.out, args.overwrite)
        data = load_dataset(args.file)
        save_preview(data, args.out, split=args.split, sequences=args.sequences,
                     frames=args.frames, overwrite=args.overwrite)
        print(f"wrote {args.out}")
        return 0

    check_outputs((args.out, args.json), args.overwrite)  # before minutes of work
    progress = False if args.quiet else None
    started = time.perf_counter()
    if args.action == "generate":
        data = generate_dataset(args.scene, n_train=args.train, n_valid=args.valid,
                                n_test=args.test, seq_len=args.seq_len,
                                test_seq_len=args.test_seq_len, seed=args.seed,
                                progress=progress)
        frames = sum(data[f"{s}_x"].shape[0] * data[f"{s}_x"].shape[1]
                     for s in ("train", "valid", "test"))
    else:
        data = collect_rollouts(args.env, episodes=args.episodes, steps=args.steps,
                                policy=args.policy, seed=args.seed, beta=args.beta,
                                noise_std=args.noise_std, num_envs=args.num_envs,
                                progress=progress, size=args.size,
                                action_repeat=args.action_repeat, camera=args.camera)
        if args.policy == "colored":
            data.update(beta=args.beta, noise_std=args.noise_std)
        frames = data["env_frames"]
    seconds = time.perf_counter() - started
    data["command"] = "python -m pig_control.data " + shlex.join(argv)
    save_npz(args.out, data, compress=not args.no_compress, overwrite=args.overwrite)
    shapes = {k: list(v.shape) for k, v in data.items() if isinstance(v, np.ndarray) and v.ndim}
    if not args.quiet:
        described = ", ".join(f"{k} {tuple(v)}" for k, v in shapes.items()
                              if k.endswith("_x") or k in ("frames", "actions"))
        print(f"wrote {args.out}: {described}; {frames} frames in {seconds:.1f} s "
              f"({frames / max(seconds, 1e-9):.0f} frames/s)")
    if args.json:
        write_json(args.json, {"command": data["command"], "out": str(args.out),
                               "kind": data["kind"], "scene": data["scene"], "seed": args.seed,
                               "env_id": data.get("env_id"), "params": data.get("params"),
                               "action_repeat": data.get("action_repeat"),
                               "state_source": data.get("state_source"), "shapes": shapes,
                               "frames": int(frames), "seconds": round(seconds, 3),
                               "frames_per_second": round(frames / max(seconds, 1e-9), 1)},
                   overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
