"""How well a learned DMC pendulum or cart-pole model reads the angle from a frame: the
encoder's positions of each frame of a rollouts file, mapped through the learned camera to the
system's coordinates, against the simulator's state that the file stores beside the frames (and
the model never saw). Cart-pole frames that cut the system (``System.in_view`` with the learned
camera) are left out, as training and control leave them out.

    python benchmarks/dmc_angle_error.py \\
        --model pig_control/pretrained/dm_control__pendulum-swingup-v0_control.pt \\
        --data ROLLOUTS.npz --out benchmarks/results/dmc_angle_error.json

The error is reported over all frames and per 30-degree bin of the true angle (0 is upright),
as mean (the bias: positive where the model reads the angle further anticlockwise) and root
mean square, in radians. No filter and no velocity: this is the geometry alone, what the
camera and the encoder learned. Beside it, the same for the best camera of the model's own
form given the true angles (a least-squares fit of the camera to the encoder's positions at
the simulator's state, which the model could never make): where that camera reads the angle
well and the learned one does not, the encoder's positions are fine and the camera the model
learned is off. Both come with the pixel distance between the encoder's positions and the image
of the true angles through that camera: what no camera of this form can explain is the part of
the encoder's position that is not a fixed point of the pendulum.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control.cli import make_parser, run_main, write_json  # noqa: E402
from pig_control.errors import UserInputError  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402

BINS = 12  # 30 degrees each
#: The simulator's state entries that are each domain's coordinates, in the system's order.
STATE_NAMES = {"pendulum": ("hinge_pos",), "cartpole": ("slider_pos", "hinge_1_pos")}


def wrap(angle: np.ndarray) -> np.ndarray:
    """Angles folded into [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


def angle_bins(true: np.ndarray) -> list[tuple[float, float, np.ndarray]]:
    """(from, to, which frames) of each 30-degree bin of the wrapped true angle (radians)."""
    true = wrap(true)
    edges = np.linspace(-np.pi, np.pi, BINS + 1)
    return [(float(low), float(high), (true >= low) & (true < high))
            for low, high in zip(edges[:-1], edges[1:], strict=True)]


def read_positions(model, frames: np.ndarray) -> torch.Tensor:
    """The encoder's positions (N, n, 2), pixels, of frames (N, H, W, 3) uint8."""
    images = torch.as_tensor(frames).permute(0, 3, 1, 2)
    with torch.no_grad():
        return torch.cat([model.encoder(images[i:i + 256].float() / 255.0)
                          for i in range(0, len(images), 256)])


def learned_angles(cell, positions: torch.Tensor, camera: dict | None = None) -> np.ndarray:
    """The angle (radians; the system's last coordinate) the system reads from positions
    (N, n, 2) with ``camera`` (names to floats; None: the learned one)."""
    cam = None if camera is None else {k: torch.tensor(v) for k, v in camera.items()}
    with torch.no_grad():
        q, _ = cell.pixels_to_state(positions, torch.zeros_like(positions), cam)
    return q[:, -1].double().numpy()


def best_camera(cell, positions: torch.Tensor, true: np.ndarray, iterations: int = 200) -> dict:
    """The camera of the system's form whose image of the true coordinates (N, k) is nearest
    the encoder's positions (least squares, L-BFGS from the learned camera), as names to
    floats."""
    names = list(cell.camera)
    values = torch.tensor([cell.camera[k] for k in names], dtype=torch.float64,
                          requires_grad=True)
    q = torch.as_tensor(true, dtype=torch.float64)
    target = positions.to(torch.float64)
    optimizer = torch.optim.LBFGS([values], max_iter=iterations, tolerance_grad=1e-12,
                                  tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        cam = {k: values[i] for i, k in enumerate(names)}
        loss = (cell.to_pixels(q, cam) - target).square().sum(-1).mean()
        loss.backward()
        return loss

    optimizer.step(closure)
    return dict(zip(names, values.detach().tolist(), strict=True))


def pixel_residuals(cell, positions: torch.Tensor, true: np.ndarray, camera: dict) -> dict:
    """Distance (pixels) from the encoder's positions to the image of the true coordinates
    (N, k) through ``camera``: RMS over all frames and points and per 30-degree bin of the true
    angle."""
    cam = {k: torch.tensor(v, dtype=torch.float64) for k, v in camera.items()}
    q = torch.as_tensor(true, dtype=torch.float64)
    with torch.no_grad():
        distance = (cell.to_pixels(q, cam) - positions.to(torch.float64)).norm(dim=-1)
    squared = distance.square().mean(-1).numpy()  # per frame, over its points
    return {"rms_px": float(np.sqrt(squared.mean())),
            "bins_rms_px": [float(np.sqrt(squared[inside].mean())) if inside.any()
                            else None for _, _, inside in angle_bins(true[:, -1])]}


def angle_errors(learned: np.ndarray, true: np.ndarray) -> dict:
    """Overall and per-bin mean, RMS and median absolute value of the wrapped error ``learned -
    true`` (radians); the median is the typical frame's, where a few misread frames (a pole
    the encoder lost) dominate the RMS."""
    error = wrap(learned - true)
    bins = [{"from_rad": low, "to_rad": high, "frames": int(inside.sum()),
             "mean_rad": float(error[inside].mean()),
             "rms_rad": float(np.sqrt((error[inside] ** 2).mean())),
             "median_abs_rad": float(np.median(np.abs(error[inside])))}
            for low, high, inside in angle_bins(true) if inside.any()]
    return {"frames": int(error.size), "mean_rad": float(error.mean()),
            "rms_rad": float(np.sqrt((error ** 2).mean())),
            "median_abs_rad": float(np.median(np.abs(error))),
            "max_abs_rad": float(np.abs(error).max()), "bins": bins}


def main(argv: list[str] | None = None) -> int:
    from pig_control.checkpoint import load_model

    parser = make_parser("benchmarks/dmc_angle_error.py", __doc__.split("\n\n")[0])
    parser.add_argument("--model", required=False, default=None,
                        help="a DMC pendulum or cart-pole checkpoint")
    parser.add_argument("--data", required=False, default=None,
                        help="a rollouts file of the same env (data rollouts), with states")
    parser.add_argument("--out", default=None, metavar="F.json")
    args = parse_benchmark_args(parser, argv, __file__)
    if args.model is None or args.data is None:
        raise UserInputError("--model and --data are required")
    model, _ = load_model(Path(args.model), "cpu")
    domain = None if model.cell is None else model.cell.name.split("_")[0]
    if domain not in STATE_NAMES:
        raise UserInputError(f"{args.model} is not a pendulum or cart-pole model")
    try:
        with np.load(args.data) as data:
            frames, states = data["frames"], data["states"]
            names = [str(n) for n in data["state_names"]]
    except (OSError, ValueError, KeyError) as error:
        raise UserInputError(f"cannot read rollouts with states from {args.data}: "
                             f"{error}") from None
    missing = [name for name in STATE_NAMES[domain] if name not in names]
    if missing:
        raise UserInputError(f"{args.data} stores no {', '.join(missing)} (states: "
                             f"{', '.join(names)}): not rollouts of a {domain} env")
    positions = read_positions(model, frames.reshape(-1, *frames.shape[2:]))
    true = np.stack([states[..., names.index(name)].reshape(-1) for name in STATE_NAMES[domain]],
                    1).astype(np.float64)
    cell = model.cell
    with torch.no_grad():
        seen = cell.in_view(positions).numpy()
    positions, true = positions[torch.as_tensor(seen)], true[seen]
    fitted = best_camera(cell, positions, true)
    angle = true[:, -1]
    result = {"sequences": int(frames.shape[0]), "frames_left_out_cut": int((~seen).sum()),
              "learned_camera": {"camera": cell.camera,
                                 **angle_errors(learned_angles(cell, positions), angle),
                                 "residual": pixel_residuals(cell, positions, true, cell.camera)},
              "best_camera_given_true_angles": {
                  "camera": fitted, **angle_errors(learned_angles(cell, positions, fitted),
                                                   angle),
                  "residual": pixel_residuals(cell, positions, true, fitted)}}
    for label, errors in (("learned camera", result["learned_camera"]),
                          ("best camera given the true angles",
                           result["best_camera_given_true_angles"])):
        print(f"{label}, {errors['frames']} frames: angle error mean {errors['mean_rad']:+.3f}, "
              f"rms {errors['rms_rad']:.3f}, max {errors['max_abs_rad']:.3f} rad; encoder "
              f"positions {errors['residual']['rms_px']:.2f} px RMS from the true angles' image")
        for b in errors["bins"]:
            print(f"  true angle [{b['from_rad']:+.2f}, {b['to_rad']:+.2f}) rad, "
                  f"{b['frames']:5d} frames: mean {b['mean_rad']:+.3f}, rms {b['rms_rad']:.3f}, "
                  f"median |error| {b['median_abs_rad']:.3f}")
    if args.out:
        write_json(args.out, {"provenance": benchmark_provenance(args, [args.model, args.data]),
                              "model": args.model, "data": args.data, "angle_error": result},
                   overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
