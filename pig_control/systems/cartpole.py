"""A cart on a rail with a pole hinged on it, pushed by a force, seen through a learned
affine camera."""

from __future__ import annotations

import math

import torch

from pig_control.systems import camera
from pig_control.systems.base import System
from pig_control.systems.pendulum import angle_normalize
from pig_control.systems.registry import register_system

ORIGIN = ("origin_x", "origin_y")


@register_system
class CartPole(System):
    """The classic cart-pole (Barto, Sutton and Anderson 1983; Gymnasium's ``CartPole``
    equations), two tracked points: the cart and the pole's centre.

    Coordinates: ``x`` (cart position along the rail, metres) and ``theta`` (pole angle from
    upright, rad, positive tilting towards +x). With the force ``F = gain * action[0]`` on
    the cart, ``M = masscart + masspole``, ``t = (F + masspole length theta'^2 sin(theta)) / M``:

    ``theta'' = (gravity sin(theta) - cos(theta) t) /
    (length (4/3 - masspole cos(theta)^2 / M))``, ``x'' = t - masspole length theta'' cos(theta)
    / M``.

    ``length`` is the distance from the hinge to the pole's centre of mass (half a uniform
    pole). Units: gravity is fixed at 9.81 m/s^2 (this fixes the metre) and the cart's mass at 1
    (only mass ratios and gain / mass are identifiable); ``masspole`` and ``length`` are learned.

    Camera: a point ``(u, v)`` of the plane (metres, v up) is seen at
    ``origin + A (u, v)`` pixels; the cart at ``(x, 0)``, the pole's centre at
    ``(x + length sin(theta), length cos(theta))``. Origin and ``A`` are learned (initial guess:
    the image centre, an eighth of the image per metre, v up on screen).

    Task: the cart at the goal position, the pole upright, at rest.
    """

    name = "cartpole"
    coords = ("x", "theta")
    initial_params = {"masspole": 0.1, "length": 0.5}
    fixed_params = {"gravity": 9.81, "masscart": 1.0}
    initial_camera = {"origin_x": 16.0, "origin_y": 16.0, "a_xx": 4.0, "a_xy": 0.0,
                      "a_yx": 0.0, "a_yy": -4.0}
    n_points = 2
    defaults = {"horizon": 30,
                "cost": {"terminal_weight": 1.0, "velocity_weight": 0.1, "action_weight": 1e-3}}
    success_position = 0.1  # metres
    success_angle = 0.2  # rad

    def camera_initial_guess(self):
        centre, scale = self.image_size / 2.0, self.image_size / 8.0
        return {"origin_x": centre, "origin_y": centre, "a_xx": scale, "a_xy": 0.0,
                "a_yx": 0.0, "a_yy": -scale}

    def force(self, action, p):
        return self.gain() * action[:, :1]

    def accel(self, q, qd, force, p):
        theta, theta_dot = q[:, 1:], qd[:, 1:]
        total = p["masscart"] + p["masspole"]
        push = force if force is not None else torch.zeros_like(theta)
        sin, cos = torch.sin(theta), torch.cos(theta)
        temp = (push + p["masspole"] * p["length"] * theta_dot.square() * sin) / total
        theta_acc = (p["gravity"] * sin - cos * temp) / (
            p["length"] * (4.0 / 3.0 - p["masspole"] * cos.square() / total))
        x_acc = temp - p["masspole"] * p["length"] * theta_acc * cos / total
        return torch.cat([x_acc, theta_acc], 1)

    def to_pixels(self, q, cam):
        x, theta = q[:, 0], q[:, 1]
        length = self.physical()["length"]
        cart = torch.stack([x, torch.zeros_like(x)], -1)
        pole = torch.stack([x + length * torch.sin(theta), length * torch.cos(theta)], -1)
        return camera.apply(cam, ORIGIN, torch.stack([cart, pole], 1))

    def from_pixels(self, points, cam):
        plane = camera.invert(cam, ORIGIN, points)  # (B, 2, 2)
        x = plane[:, 0, 0]
        theta = torch.atan2(plane[:, 1, 0] - x, plane[:, 1, 1])
        return torch.stack([x, theta], 1)

    def residuals(self, q, qd, goal, weights):
        speed = math.sqrt(weights.get("velocity_weight", 0.1))
        return torch.cat([q[:, :1] - goal[:, :1], angle_normalize(q[:, 1:] - goal[:, 1:]),
                          speed * qd], 1)

    def is_success(self, q, qd, goal):
        return (((q[:, 0] - goal[:, 0]).abs() < self.success_position)
                & (angle_normalize(q[:, 1] - goal[:, 1]).abs() < self.success_angle))
