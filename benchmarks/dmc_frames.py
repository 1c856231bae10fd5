"""What DMC frames hold for a pixel world model: pendulum-swingup and cartpole-swingup at 64 x 64,
camera 0 (the field's setting), measured with MuJoCo's segmentation rendering (which pixels
show which geom) beside the RGB frames.

    python benchmarks/dmc_frames.py --out benchmarks/results/dmc_frames.json

Pendulum (``--angles`` hinge angles evenly over a turn, at rest):
- rod: pixels of the rod geom, and its mean width = pixels / projected length (px);
- bob: pixels of the mass geom, its centroid; an affine camera ``c + A (sin theta, cos theta)``
  fitted to the centroids by least squares: the ellipse's semi-axes (singular values of A)
  and the fit's residual (px), i.e. how far an affine camera is from MuJoCo's perspective;
  the same for a plane-to-image homography (8 numbers), which perspective allows exactly;
- floor: the foreground (pixels that differ by more than ``--threshold`` in any channel from
  the same frame with the pendulum made invisible) outside the pendulum's own geoms: the
  floor's reflection and shadow; its pixel count and how its centroid moves with the bob's.

Cartpole (``--episodes`` colour-noise exploration episodes through ``pig_control.data
rollouts``' collector, action repeat 2, as a world model's training data would be gathered):
the cart's position range and the fraction of frames where the cart or the pole shows no
pixel, or only part of its pixels (compared with the cart at the rail's centre).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")


def hidden(physics, geoms: list[int]):
    """Context: the geoms drawn fully transparent (no material), restored afterwards."""
    from contextlib import contextmanager

    @contextmanager
    def context():
        model = physics.model
        rgba, mat = model.geom_rgba[geoms].copy(), model.geom_matid[geoms].copy()
        model.geom_rgba[geoms, 3] = 0.0
        model.geom_matid[geoms] = -1
        try:
            yield
        finally:
            model.geom_rgba[geoms], model.geom_matid[geoms] = rgba, mat
    return context()


def geom_ids(physics, names: list[str]) -> list[int]:
    return [physics.model.name2id(name, "geom") for name in names]


def render(physics, size: int, camera: int) -> tuple[np.ndarray, np.ndarray]:
    rgb = physics.render(size, size, camera_id=camera)
    segmentation = physics.render(size, size, camera_id=camera, segmentation=True)[..., 0]
    return rgb, segmentation


def centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return np.array([np.nan, np.nan])
    return np.array([cols.mean() + 0.5, rows.mean() + 0.5])  # x, y in pixel-edge coordinates


def project(physics, point: np.ndarray, size: int, camera: int) -> np.ndarray:
    """World point -> pixel (x, y) through camera ``camera`` (pinhole, MuJoCo's fovy)."""
    from dm_control.mujoco.engine import Camera

    matrix = Camera(physics, size, size, camera).matrix
    u, v, w = matrix @ np.append(point, 1.0)
    return np.array([u / w, v / w])


def fit_homography(s: np.ndarray, c: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Least-squares plane-to-image homography (8 numbers, the direct linear transform) from the
    circle's points ``(sin, cos)`` to pixel points ``(N, 2)``; returns each point's error (px)."""
    ones, zeros = np.ones_like(s), np.zeros_like(s)
    x, y = points[:, 0], points[:, 1]
    rows = np.concatenate([np.stack([s, c, ones, zeros, zeros, zeros, -x * s, -x * c], 1),
                           np.stack([zeros, zeros, zeros, s, c, ones, -y * s, -y * c], 1)])
    h, *_ = np.linalg.lstsq(rows, np.concatenate([x, y]), rcond=None)
    w = h[6] * s + h[7] * c + 1.0
    fitted = np.stack([(h[0] * s + h[1] * c + h[2]) / w, (h[3] * s + h[4] * c + h[5]) / w], 1)
    return np.linalg.norm(fitted - points, axis=1)


def measure_pendulum(angles: int, size: int, camera: int, threshold: int) -> dict:
    from dm_control import suite

    physics = suite.load("pendulum", "swingup", task_kwargs={"random": 0}).physics
    pole, mass = geom_ids(physics, ["pole", "mass"])
    own = geom_ids(physics, ["base", "pole", "mass"])
    thetas = np.linspace(-np.pi, np.pi, angles, endpoint=False)
    rod_pixels, rod_width, bob_pixels, bobs, floor_pixels, floor_centres = [], [], [], [], [], []
    for theta in thetas:
        physics.named.data.qpos["hinge"] = theta
        physics.named.data.qvel["hinge"] = 0.0
        physics.forward()
        rgb, seg = render(physics, size, camera)
        with hidden(physics, own):
            background = physics.render(size, size, camera_id=camera)
        hinge = physics.named.data.xpos["pole"].copy()
        tip = physics.named.data.geom_xpos["mass"].copy()
        length = np.linalg.norm(project(physics, tip, size, camera)
                                - project(physics, hinge, size, camera))
        rod_pixels.append(int((seg == pole).sum()))
        rod_width.append(rod_pixels[-1] / max(length, 1e-9))
        bob_pixels.append(int((seg == mass).sum()))
        bobs.append(centroid(seg == mass))
        foreground = np.abs(rgb.astype(int) - background.astype(int)).max(-1) > threshold
        floor = foreground & ~np.isin(seg, own)
        floor_pixels.append(int(floor.sum()))
        floor_centres.append(centroid(floor))
    bobs, floor_centres = np.array(bobs), np.array(floor_centres)
    seen = ~np.isnan(bobs[:, 0])
    design = np.stack([np.ones_like(thetas), np.sin(thetas), np.cos(thetas)], 1)[seen]
    coef, *_ = np.linalg.lstsq(design, bobs[seen], rcond=None)
    residual = np.linalg.norm(design @ coef - bobs[seen], axis=1)
    matrix = coef[1:].T  # columns: d/d sin, d/d cos
    axes = np.linalg.svd(matrix, compute_uv=False)
    homography_residual = fit_homography(np.sin(thetas[seen]), np.cos(thetas[seen]), bobs[seen])
    both = seen & ~np.isnan(floor_centres[:, 1])
    bob_y, floor_y = bobs[both, 1], floor_centres[both, 1]
    correlation = float(np.corrcoef(bob_y, floor_y)[0, 1]) if both.sum() > 2 else None
    return {
        "angles": angles,
        "rod_pixels": {"mean": float(np.mean(rod_pixels)), "min": int(np.min(rod_pixels)),
                       "max": int(np.max(rod_pixels))},
        "rod_width_px": {"mean": float(np.mean(rod_width)), "max": float(np.max(rod_width))},
        "bob_pixels": {"mean": float(np.mean(bob_pixels)), "min": int(np.min(bob_pixels)),
                       "max": int(np.max(bob_pixels))},
        "affine_camera_fit": {
            "centre_px": coef[0].tolist(), "matrix_px": matrix.tolist(),
            "ellipse_semi_axes_px": axes.tolist(),
            "residual_px": {"rms": float(np.sqrt(np.mean(residual ** 2))),
                            "max": float(residual.max())}},
        "homography_camera_fit_residual_px": {
            "rms": float(np.sqrt(np.mean(homography_residual ** 2))),
            "max": float(homography_residual.max())},
        "floor_reflection_and_shadow": {
            "pixels": {"mean": float(np.mean(floor_pixels)), "max": int(np.max(floor_pixels)),
                       "frames_with_any": float(np.mean(np.array(floor_pixels) > 0))},
            "correlation_of_its_row_with_the_bob_row": correlation,
            "threshold": threshold},
    }


def measure_cartpole(episodes: int, steps: int, size: int, camera: int) -> dict:
    from dm_control import suite

    from pig_control.data.rollouts import collect_rollouts

    data = collect_rollouts("dm_control/cartpole-swingup-v0", episodes=episodes, steps=steps,
                            policy="colored", seed=0, action_repeat=2, size=size, camera=camera,
                            num_envs=1, progress=False)
    states = data["states"].reshape(-1, data["states"].shape[-1])
    physics = suite.load("cartpole", "swingup", task_kwargs={"random": 0}).physics
    cart, pole = geom_ids(physics, ["cart", "pole_1"])
    physics.data.qpos[:] = [0.0, 0.0]
    physics.forward()
    _, seg = render(physics, size, camera)
    full_cart, full_pole = int((seg == cart).sum()), int((seg == pole).sum())
    cart_px, pole_px = [], []
    for state in states:
        physics.data.qpos[:] = state[:2]
        physics.forward()
        _, seg = render(physics, size, camera)
        cart_px.append(int((seg == cart).sum()))
        pole_px.append(int((seg == pole).sum()))
    cart_px, pole_px = np.array(cart_px), np.array(pole_px)
    return {
        "episodes": episodes, "steps": steps, "action_repeat": 2, "policy": "colored",
        "frames": int(states.shape[0]), "env_frames": int(data["env_frames"]),
        "cart_x_m": {"min": float(states[:, 0].min()), "max": float(states[:, 0].max()),
                     "fraction_beyond_1_5": float(np.mean(np.abs(states[:, 0]) > 1.5))},
        "cart_pixels_centred": full_cart, "pole_pixels_upright_centred": full_pole,
        "frames_without_cart": float(np.mean(cart_px == 0)),
        "frames_with_part_of_cart": float(np.mean((cart_px > 0) & (cart_px < 0.9 * full_cart))),
        "frames_without_pole": float(np.mean(pole_px == 0)),
    }


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from pig_control.cli import write_json
    from pig_control.provenance import benchmark_provenance, parse_benchmark_args

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--camera", type=int, default=0)
    parser.add_argument("--angles", type=int, default=72)
    parser.add_argument("--threshold", type=int, default=8,
                        help="RGB difference (0-255) that counts as foreground")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=250,
                        help="control steps per cartpole episode (x 2 env steps)")
    parser.add_argument("--out", default=None, metavar="F.json")
    args = parse_benchmark_args(parser, argv, __file__)
    started = time.perf_counter()
    report = {
        "provenance": benchmark_provenance(args),
        "size": args.size, "camera": args.camera,
        "pendulum": measure_pendulum(args.angles, args.size, args.camera, args.threshold),
        "cartpole": measure_cartpole(args.episodes, args.steps, args.size, args.camera),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(report)
    if args.out:
        write_json(args.out, report, overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
