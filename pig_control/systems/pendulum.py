"""A damped pendulum driven by a torque, seen through a learned affine camera."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pig_control.systems import camera
from pig_control.systems.base import System
from pig_control.systems.registry import register_system

PIVOT = ("pivot_x", "pivot_y")


def angle_normalize(x: Tensor) -> Tensor:
    """Wrap angles (radians) into [-pi, pi)."""
    return torch.remainder(x + math.pi, 2.0 * math.pi) - math.pi


@register_system
class Pendulum(System):
    """A rigid pendulum around a fixed pivot, one tracked point on it.

    Coordinates: ``theta`` (rad, 0 = the direction the camera's matrix maps ``(0, 1)`` to;
    with the initial guess, upright on screen, positive counter-clockwise).
    Equation of motion (Gymnasium's pendulum plus a viscous damping):
    ``theta'' = 3 g / (2 l) sin(theta) - damping theta' + 3 / (m l^2) u`` with the torque
    ``u = gain * action[0]``. Only ``3 g / (2 l)``, ``damping`` and ``3 gain / (m l^2)`` are
    identifiable from video; g, m, l are kept apart so that each can be edited.

    Camera: the tracked point at ``pivot + A (sin theta, cos theta)`` pixels, with the pivot
    (``pivot_x``, ``pivot_y``) and ``A`` (:mod:`pig_control.systems.camera`) learned: the matrix
    holds the point's distance from the pivot in pixels (scale), the image orientation and a
    tilted view's foreshortening. Initial guess: the pivot at the image centre and a quarter of
    the image as the radius; :meth:`camera_guess` replaces it by a circle fitted to the encoded
    positions.

    Task: upright at rest (Gymnasium's cost: angle^2 + 0.1 speed^2 + 0.001 torque^2).
    """

    name = "pendulum"
    coords = ("theta",)
    initial_params = {"g": 1.0, "m": 1.0, "l": 1.0, "damping": 0.1}
    initial_camera = {"pivot_x": 16.0, "pivot_y": 16.0, "a_xx": -8.0, "a_xy": 0.0,
                      "a_yx": 0.0, "a_yy": -8.0}
    n_points = 1
    defaults = {"horizon": 20,
                "cost": {"terminal_weight": 1.0, "velocity_weight": 0.1, "action_weight": 1e-3}}
    success_angle = 0.3  # rad
    success_speed = 1.5  # rad per time unit

    def camera_initial_guess(self):
        centre, radius = self.image_size / 2.0, self.image_size / 4.0
        return {"pivot_x": centre, "pivot_y": centre, "a_xx": -radius, "a_xy": 0.0,
                "a_yx": 0.0, "a_yy": -radius}

    def camera_guess(self, positions):
        cx, cy, radius = camera.circle_fit(positions[..., 0, :])
        return {"pivot_x": cx, "pivot_y": cy, "a_xx": -radius, "a_xy": 0.0, "a_yx": 0.0,
                "a_yy": -radius}

    def upgrade_state(self, state, prefix):
        """Checkpoints written before systems existed: no damping (their cells had none; it
        enters at 1e-6 per time unit, negligible but learnable) and the pivot at the image
        centre (their cells' assumption); the scale keeps the initial guess (their cells took
        the radius from each state): ``python -m pig_control.recalibrate`` fits it."""
        key = prefix + "log_params"
        if key in state and state[key].shape == (3,):
            state[key] = torch.cat([state[key], state[key].new_tensor([math.log(1e-6)])])
        super().upgrade_state(state, prefix)

    def force(self, action, p):
        return self.gain() * action[:, :1]

    def accel(self, q, qd, force, p):
        acc = 3.0 * p["g"] / (2.0 * p["l"]) * torch.sin(q) - p["damping"] * qd
        if force is not None:
            acc = acc + 3.0 / (p["m"] * p["l"] ** 2) * force
        return acc

    def to_pixels(self, q, cam):
        unit = torch.stack([torch.sin(q[:, 0]), torch.cos(q[:, 0])], -1)
        return camera.apply(cam, PIVOT, unit).unsqueeze(1)

    def from_pixels(self, points, cam):
        unit = camera.invert(cam, PIVOT, points[:, 0])
        return torch.atan2(unit[:, 0], unit[:, 1]).unsqueeze(1)

    def velocity_to_pixels(self, q, qd, cam):
        tangent = torch.stack([torch.cos(q[:, 0]), -torch.sin(q[:, 0])], -1) * qd
        return camera.linear(cam, tangent).unsqueeze(1)

    def velocity_from_pixels(self, q, vel, cam):
        tangent = torch.stack([torch.cos(q[:, 0]), -torch.sin(q[:, 0])], -1)
        seen = camera.linear(cam, tangent)  # pixels per radian
        return ((seen * vel[:, 0]).sum(-1) / seen.square().sum(-1).clamp_min(1e-12))[:, None]

    def residuals(self, q, qd, goal, weights):
        speed = math.sqrt(weights.get("velocity_weight", 0.1))
        parts = [angle_normalize(q - goal), speed * qd]
        energy = weights.get("energy_weight", 0.0)
        if energy:
            margin = weights.get("energy_margin", 0.0)
            parts.append(math.sqrt(energy) * self.energy_gap(q, qd, goal, margin))
        return torch.cat(parts, 1)

    def energy_gap(self, q: Tensor, qd: Tensor, goal: Tensor, margin: float = 0.0) -> Tensor:
        """``(E - E_target) / w`` (B, 1), dimensionless: the swing-up's energy shaping.

        Per unit inertia the pendulum's energy is ``E = qd^2 / 2 + w cos(theta - goal)`` with
        ``w = 3 g / (2 l)`` (time units^-2); at rest at the goal (upright) ``E = w``, hanging
        at rest ``E = -w``, so the gap is ``(E - w) / w``: -2 hanging, 0 on every orbit that
        reaches the goal. A residual on it rewards pumping energy while the angle's residual
        still says "far", and leaves the state at rest at the goal unpenalised.

        ``margin`` (dimensionless, >= 0) raises the target away from the goal:
        ``E_target = w (1 + margin (1 - cos(theta - goal)) / 2)``, i.e. ``margin * w`` more
        hanging, none at the goal. A model that underestimates the swing's losses then still
        arrives over the top rather than short of it (and brakes there, where the target falls
        back to ``w``); at rest at the goal the gap stays 0."""
        with torch.no_grad():
            p = self.physical()
            w = float(3.0 * p["g"] / (2.0 * p["l"]))
        away = 1.0 - torch.cos(q - goal)  # 0 at the goal, 2 opposite it
        energy = 0.5 * qd.square() + w * torch.cos(q - goal)
        return (energy - w * (1.0 + 0.5 * margin * away)) / w

    def action_residuals(self, action, weight):
        return math.sqrt(weight) * self.gain().detach() * action

    def is_success(self, q, qd, goal):
        return ((angle_normalize(q - goal).abs() < self.success_angle)
                & (qd.abs() < self.success_speed))[:, 0]


@register_system
class PerspectivePendulum(Pendulum):
    """The :class:`Pendulum` seen through a projective camera: a plane-to-image homography.

    A camera that looks at the swing plane at an angle and from close by (the DeepMind Control
    Suite's) foreshortens the near half of the circle less than the far half: the tracked point
    traces an ellipse that the affine camera fits only to about 1.4 px. The homography adds two
    perspective terms ``h_x``, ``h_y`` (per unit of the plane's coordinates, dimensionless):
    the point is seen at ``(pivot + A u) / (1 + h_x u_x + h_y u_y)`` pixels with
    ``u = (sin theta, cos theta)``; with ``h = 0`` it is the affine camera. Everything else
    (equation, cost, parameters) is the pendulum's.
    """

    name = "pendulum_perspective"
    initial_camera = {**Pendulum.initial_camera, "h_x": 0.0, "h_y": 0.0}

    def camera_initial_guess(self):
        return {**super().camera_initial_guess(), "h_x": 0.0, "h_y": 0.0}

    def camera_guess(self, positions):
        return {**super().camera_guess(positions), "h_x": 0.0, "h_y": 0.0}

    def guess_from_motion(self, positions, actions):
        """Camera, ``3 g / (2 l)``, damping and gain from the encoded motion (the trajectory fit
        then refines them all, the perspective terms included):

        1. an ellipse (a conic) through all positions: its centre is the pivot and its shape a
           matrix ``A0`` with ``p = pivot + A0 (sin psi, cos psi)`` for some angle ``psi``;
        2. ``psi`` of every frame, unwrapped along each sequence, its first and second
           differences;
        3. the equation ``psi'' = alpha sin psi + beta cos psi - damping psi' + b u`` fitted by
           least squares. ``b < 0`` means the camera mirrors the swing (the model's angle turns
           against the torque): ``A0`` is mirrored and the fit redone. Then the upright, where
           gravity's torque vanishes and turns over, is at ``psi = -atan2(beta, alpha)``;
           ``A`` rotates ``A0`` so that ``theta = 0`` is there.

        None without actions, with fewer than 3 frames per sequence, or when the positions do
        not trace an ellipse."""
        if actions is None or positions.shape[1] < 3 or not self.action_dim:
            return None
        p = positions[..., 0, :].double()  # (N, T, 2)
        ellipse = _fit_ellipse(p.reshape(-1, 2))
        if ellipse is None:
            return None
        centre, shape = ellipse
        u = actions[..., 0].double()
        for mirror in (1.0, -1.0):
            matrix = shape @ torch.diag(torch.tensor([mirror, 1.0], dtype=torch.float64))
            fit = _fit_swing(p, u, centre, matrix, self.dt)
            if fit[3] > 0:
                break
        alpha, beta, damping, b = fit
        offset = math.atan2(beta, alpha)
        c, s = math.cos(offset), math.sin(offset)
        a = matrix @ torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
        strength = math.hypot(alpha, beta)
        if not (strength > 0 and b > 0):
            return None
        names = ("a_xx", "a_xy", "a_yx", "a_yy")
        camera_values = {"pivot_x": float(centre[0]), "pivot_y": float(centre[1]),
                         **dict(zip(names, a.reshape(-1).tolist(), strict=True)),
                         "h_x": 0.0, "h_y": 0.0}
        fixed = self.params
        scale = fixed["m"] * fixed["l"] ** 2 / 3.0
        return {"camera": camera_values,
                "params": {"g": 2.0 * fixed["l"] * strength / 3.0,
                           "damping": min(max(damping, 1e-3), 10.0 / self.dt)},
                "gain": b * scale}

    @staticmethod
    def _depth(cam, unit: Tensor) -> Tensor:
        return 1.0 + cam["h_x"] * unit[..., 0] + cam["h_y"] * unit[..., 1]

    def to_pixels(self, q, cam):
        unit = torch.stack([torch.sin(q[:, 0]), torch.cos(q[:, 0])], -1)
        return (camera.apply(cam, PIVOT, unit) / self._depth(cam, unit)[:, None]).unsqueeze(1)

    def from_pixels(self, points, cam):
        # (pivot + A u) = p (1 + h . u)  <=>  (A - p h^T) u = p - pivot: a 2 x 2 solve
        p = points[:, 0]
        dx, dy = p[:, 0] - cam["pivot_x"], p[:, 1] - cam["pivot_y"]
        m00 = cam["a_xx"] - p[:, 0] * cam["h_x"]
        m01 = cam["a_xy"] - p[:, 0] * cam["h_y"]
        m10 = cam["a_yx"] - p[:, 1] * cam["h_x"]
        m11 = cam["a_yy"] - p[:, 1] * cam["h_y"]
        det = m00 * m11 - m01 * m10
        ux, uy = (m11 * dx - m01 * dy) / det, (m00 * dy - m10 * dx) / det
        return torch.atan2(ux, uy).unsqueeze(1)

    def _pixels_per_radian(self, q, cam) -> Tensor:
        """d(pixels)/d(theta) (B, 2) at ``q``: ``(A u' - p (h . u')) / depth``."""
        unit = torch.stack([torch.sin(q[:, 0]), torch.cos(q[:, 0])], -1)
        tangent = torch.stack([torch.cos(q[:, 0]), -torch.sin(q[:, 0])], -1)
        depth = self._depth(cam, unit)
        seen = camera.apply(cam, PIVOT, unit) / depth[:, None]
        slope = cam["h_x"] * tangent[:, 0] + cam["h_y"] * tangent[:, 1]
        return (camera.linear(cam, tangent) - seen * slope[:, None]) / depth[:, None]

    def velocity_to_pixels(self, q, qd, cam):
        return (self._pixels_per_radian(q, cam) * qd).unsqueeze(1)

    def velocity_from_pixels(self, q, vel, cam):
        seen = self._pixels_per_radian(q, cam)
        return ((seen * vel[:, 0]).sum(-1) / seen.square().sum(-1).clamp_min(1e-12))[:, None]


def _fit_ellipse(points: Tensor) -> tuple[Tensor, Tensor] | None:
    """(centre (2,), A0 (2, 2) symmetric) of the least-squares conic through points (N, 2)
    (float64): ``p - centre = A0 w`` with ``|w| = 1`` on the ellipse; None if the conic is not
    an ellipse. The points are centred and scaled first (a well-conditioned fit)."""
    mean, spread = points.mean(0), points.std(0).mean().clamp_min(1e-9)
    x, y = ((points - mean) / spread).unbind(-1)
    design = torch.stack([x * x, x * y, y * y, x, y, torch.ones_like(x)], -1)
    conic = torch.linalg.svd(design, full_matrices=False).Vh[-1]
    quad = torch.stack([torch.stack([conic[0], conic[1] / 2]),
                        torch.stack([conic[1] / 2, conic[2]])])
    linear = conic[3:5]
    try:
        centre = torch.linalg.solve(quad, -linear / 2)
    except RuntimeError:
        return None
    level = centre @ quad @ centre - conic[5]
    form = quad / level  # (p - c)' form (p - c) = 1
    values, vectors = torch.linalg.eigh(form)
    if not bool((values > 0).all()):
        return None
    root = vectors @ torch.diag(values.rsqrt()) @ vectors.T  # form^(-1/2)
    return mean + spread * centre, spread * root


def _fit_swing(p: Tensor, u: Tensor, centre: Tensor, matrix: Tensor, dt: float):
    """(alpha, beta, damping, b): least squares of ``psi'' = alpha sin psi + beta cos psi -
    damping psi' + b u`` over sequences ``p`` (N, T, 2) seen as ``centre + matrix (sin psi,
    cos psi)``, actions ``u`` (N, T - 1) held between frames (the second difference at frame
    t is driven by the action applied after it)."""
    w = torch.linalg.solve(matrix, (p - centre).reshape(-1, 2).T)
    psi = torch.atan2(w[0], w[1]).reshape(p.shape[:2])
    jumps = torch.diff(psi, dim=1)
    psi = psi[:, :1] + torch.cat([torch.zeros_like(psi[:, :1]),
                                  torch.cumsum(jumps - 2 * math.pi * torch.round(
                                      jumps / (2 * math.pi)), 1)], 1)
    rate = (psi[:, 2:] - psi[:, :-2]) / (2 * dt)  # central: its noise is uncorrelated with
    # the second difference's (a backward rate's is not, which biases the damping)
    accel = (psi[:, 2:] - 2 * psi[:, 1:-1] + psi[:, :-2]) / dt ** 2
    now = psi[:, 1:-1]
    design = torch.stack([torch.sin(now), torch.cos(now), -rate, u[:, 1:]], -1).reshape(-1, 4)
    solution = torch.linalg.lstsq(design, accel.reshape(-1, 1)).solution[:, 0]
    return tuple(float(v) for v in solution)
