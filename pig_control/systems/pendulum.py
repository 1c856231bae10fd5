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
            parts.append(math.sqrt(energy) * self.energy_gap(q, qd, goal))
        return torch.cat(parts, 1)

    def energy_gap(self, q: Tensor, qd: Tensor, goal: Tensor) -> Tensor:
        """``(E - E_goal) / E_scale`` (B, 1), dimensionless: the swing-up's energy shaping.

        Per unit inertia the pendulum's energy is ``E = qd^2 / 2 + w cos(theta - goal)`` with
        ``w = 3 g / (2 l)`` (time units^-2); at rest at the goal (upright) ``E = w``, hanging
        at rest ``E = -w``, so the gap is ``(E - w) / w``: -2 hanging, 0 on every orbit that
        reaches the goal. A residual on it rewards pumping energy while the angle's residual
        still says "far", and leaves the state at rest at the goal unpenalised."""
        with torch.no_grad():
            p = self.physical()
            w = float(3.0 * p["g"] / (2.0 * p["l"]))
        energy = 0.5 * qd.square() + w * torch.cos(q - goal)
        return (energy - w) / w

    def action_residuals(self, action, weight):
        return math.sqrt(weight) * self.gain().detach() * action

    def is_success(self, q, qd, goal):
        return ((angle_normalize(q - goal).abs() < self.success_angle)
                & (qd.abs() < self.success_speed))[:, 0]

