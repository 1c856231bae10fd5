"""A cart on a rail with a pole hinged on it, pushed by a force, seen through a learned
affine camera."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from pig_control.systems import camera
from pig_control.systems.base import System
from pig_control.systems.pendulum import angle_normalize
from pig_control.systems.registry import register_system

ORIGIN = ("origin_x", "origin_y")
#: Frames between the samples of :meth:`CartPole.guess_from_motion`'s finite differences: a
#: second difference over ``k`` frames divides the encoder's noise by ``k^2``.
GUESS_STRIDE = 3


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

    Camera: a point ``(u, v)`` of the plane of the hinge (metres, v up) is seen at
    ``origin + A (u, v)`` pixels; the pole's tracked point at
    ``(x + pole_marker sin(theta), pole_marker cos(theta))``: ``pole_marker`` (metres from the
    hinge) is where the encoder's point of the pole lies, the centre of its visible part,
    which a body hiding the pole's foot moves outwards from the centre of mass (``length``).
    The cart's tracked point, the centroid of its visible body, is not the hinge: it is seen
    at ``(cart_scale x + cart_u, cart_v)``. ``cart_u``, ``cart_v`` (metres) place the centroid
    off the hinge (DMC's cart-pole: 1 px above it), and ``cart_scale`` (about 1) is how much
    faster it crosses the image than the hinge's plane does: the body's visible face lies
    nearer a perspective camera (DMC's: 2.5 % faster, which without this term reads as a pole
    angle off by 0.04 rad per metre of cart travel). Origin, ``A``, ``pole_marker`` and the
    cart's three values are learned (initial guess: the image centre, an eighth of the image
    per metre, v up on screen, the marker at the centre of mass, the cart at the hinge; or
    :meth:`guess_from_motion`'s).

    Task: the cart at the goal position, the pole upright, at rest.
    """

    name = "cartpole"
    coords = ("x", "theta")
    initial_params = {"masspole": 0.1, "length": 0.5}
    fixed_params = {"gravity": 9.81, "masscart": 1.0}
    initial_camera = {"origin_x": 16.0, "origin_y": 16.0, "a_xx": 4.0, "a_xy": 0.0,
                      "a_yx": 0.0, "a_yy": -4.0, "pole_marker": 0.5, "cart_scale": 1.0,
                      "cart_u": 0.0, "cart_v": 0.0}
    n_points = 2
    defaults = {"horizon": 30,
                "cost": {"terminal_weight": 1.0, "velocity_weight": 0.1, "action_weight": 1e-3}}
    success_position = 0.1  # metres
    success_angle = 0.2  # rad

    def camera_initial_guess(self):
        centre, scale = self.image_size / 2.0, self.image_size / 8.0
        return {"origin_x": centre, "origin_y": centre, "a_xx": scale, "a_xy": 0.0,
                "a_yx": 0.0, "a_yy": -scale, "pole_marker": self.initial_params["length"],
                "cart_scale": 1.0, "cart_u": 0.0, "cart_v": 0.0}

    def guess_from_motion(self, positions, actions):
        """Camera, ``length`` and gain from the encoded motion (the trajectory fit then refines
        them, with ``masspole``):

        1. the rail is the cart's principal direction ``e`` in the image, the origin the cart's
           mean position; ``psi`` is the pole's image angle from the rail's normal ``n``;
        2. with the cart's position ``s`` along the rail (pixels) and differences over
           :data:`GUESS_STRIDE` frames, ``psi'' = a sin psi + c cos psi s''`` by least squares:
           the pole's equation for a light pole (``theta'' = 3 / (4 length) (gravity sin theta
           - cos theta x'')``). ``a < 0`` means ``n`` points down (upright is ``-n``); either
           way ``c < 0``, ``length = 3 gravity / (4 |a|)`` and the pixels per metre
           ``k = 3 / (4 length |c|)``;
        3. the cart's ``s'' = k gain u / (masscart + masspole)`` by least squares gives the gain
           (``< 0``: the push moves the cart along ``-e``, so ``e`` is reversed and the fit
           redone).

        None without actions, with too few frames, or when the motion does not fit that
        form (no swinging, a push that does not move the cart)."""
        stride = GUESS_STRIDE
        if actions is None or positions.shape[1] < 2 * stride + 1 or not self.action_dim:
            return None
        reach = float((positions[..., 1, :] - positions[..., 0, :]).norm(dim=-1).median())
        seen = visible(positions, reach, self.image_size)  # the camera is not known yet
        cart, pole = positions[..., 0, :].double(), positions[..., 1, :].double()
        if int(seen.sum()) < 10:
            return None
        origin = cart[seen].mean(0)
        direction = torch.linalg.svd(cart[seen] - origin, full_matrices=False).Vh[0]
        u = actions[..., 0].double()
        p = {name: float(value.detach()) for name, value in self.physical().items()}
        for rail in (direction, -direction):  # the rail's sign: the one the push moves along
            normal = torch.stack([rail[1], -rail[0]])  # the rail turned by -90 degrees
            fit = _fit_cart_pole(cart, pole, u, seen, origin, rail, normal, self.dt, stride)
            if fit is None:
                return None
            a, c, slope = fit
            if a == 0 or not c < 0:  # no swing, or the pole does not lag the cart
                return None
            length = 3.0 * p["gravity"] / (4.0 * abs(a))
            scale = 3.0 / (4.0 * length * abs(c))
            gain = slope * (p["masscart"] + p["masspole"]) / scale
            if gain > 0:
                break
        else:
            return None
        up = normal if a > 0 else -normal
        marker = float((pole - cart)[seen].norm(dim=-1).median()) / scale
        return {"camera": {"origin_x": float(origin[0]), "origin_y": float(origin[1]),
                           "a_xx": float(scale * rail[0]), "a_xy": float(scale * up[0]),
                           "a_yx": float(scale * rail[1]), "a_yy": float(scale * up[1]),
                           "pole_marker": marker},
                "params": {"length": length}, "gain": gain}

    def in_view(self, positions: Tensor) -> Tensor:
        """Which frames show the whole cart-pole, from encoded points ``(..., 2, 2)``: bool
        ``(...)``: :func:`visible` with the pole's image length from the camera."""
        return visible(positions, self.image_reach(), self.image_size)

    def image_reach(self) -> float:
        """Pixels from the cart's point to the pole's tracked point (the camera's scale along
        the rail times ``pole_marker``)."""
        cam = self.camera
        return abs(cam["pole_marker"]) * math.hypot(cam["a_xx"], cam["a_yx"])

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
        marker = cam["pole_marker"]
        cart = torch.stack([cam["cart_scale"] * x + cam["cart_u"],
                            cam["cart_v"] + torch.zeros_like(x)], -1)
        pole = torch.stack([x + marker * torch.sin(theta), marker * torch.cos(theta)], -1)
        return camera.apply(cam, ORIGIN, torch.stack([cart, pole], 1))

    def _jacobian(self, q, cam) -> Tensor:
        """d(pixels)/d(x, theta): (B, 4, 2), rows cart x, cart y, pole x, pole y."""
        theta, marker = q[:, 1], cam["pole_marker"]
        along = camera.linear(cam, torch.stack([torch.ones_like(theta),
                                                torch.zeros_like(theta)], -1))
        swing = camera.linear(cam, torch.stack([marker * torch.cos(theta),
                                                -marker * torch.sin(theta)], -1))
        zero = torch.zeros_like(along)
        return torch.stack([torch.cat([cam["cart_scale"] * along, along], -1),
                            torch.cat([zero, swing], -1)], -1)

    def velocity_to_pixels(self, q, qd, cam):
        """The Jacobian times the rates (closed form: the generic autodiff one would cost more
        than the planning at every control step)."""
        return (self._jacobian(q, cam) @ qd.unsqueeze(-1)).reshape(-1, 2, 2)

    def velocity_from_pixels(self, q, vel, cam):
        jac = self._jacobian(q, cam)
        normal = jac.transpose(1, 2) @ jac
        normal = normal + 1e-9 * torch.eye(2, dtype=q.dtype, device=q.device)
        rhs = jac.transpose(1, 2) @ vel.reshape(-1, 4, 1)
        return torch.linalg.solve(normal, rhs)[..., 0]

    def from_pixels(self, points, cam):
        plane = camera.invert(cam, ORIGIN, points)  # (B, 2, 2)
        x = (plane[:, 0, 0] - cam["cart_u"]) / cam["cart_scale"]
        theta = torch.atan2(plane[:, 1, 0] - x, plane[:, 1, 1])
        return torch.stack([x, theta], 1)

    def residuals(self, q, qd, goal, weights):
        speed = math.sqrt(weights.get("velocity_weight", 0.1))
        return torch.cat([q[:, :1] - goal[:, :1], angle_normalize(q[:, 1:] - goal[:, 1:]),
                          speed * qd], 1)

    def is_success(self, q, qd, goal):
        return (((q[:, 0] - goal[:, 0]).abs() < self.success_position)
                & (angle_normalize(q[:, 1] - goal[:, 1]).abs() < self.success_angle))


def visible(positions: Tensor, reach: float, size: int) -> Tensor:
    """Which frames show the whole cart-pole, from encoded points ``(..., 2, 2)`` (cart, pole)
    in a ``size`` px image: bool ``(...)``. A body or rod cut by the image border pulls its
    centroid inwards, so a frame counts when the cart's point lies at least half the pole's
    image length ``reach`` (pixels) inside every border (the cart is about as wide) and the
    pole's far end, twice the arm from the cart (the tracked point is the middle of its
    visible part), at least a pixel inside. The pole's point must also lie at least half of
    ``reach`` from the cart's: a frame without the system gives both points at the image's
    centre, which the border tests alone would pass."""
    cart, arm = positions[..., 0, :], positions[..., 1, :] - positions[..., 0, :]
    tip = cart + 2.0 * arm
    return (((cart > 0.5 * reach) & (cart < size - 0.5 * reach)).all(-1)
            & ((tip > 1.0) & (tip < size - 1.0)).all(-1)
            & (arm.norm(dim=-1) >= 0.5 * reach))


def _fit_cart_pole(cart: Tensor, pole: Tensor, u: Tensor, seen: Tensor, origin: Tensor,
                   rail: Tensor, normal: Tensor, dt: float, stride: int):
    """(a, c, slope) of :meth:`CartPole.guess_from_motion`: least squares of
    ``psi'' = a sin psi + c cos psi s''`` and ``s'' = slope u`` over sequences of cart and
    pole points (N, T, 2) (float64), actions ``u`` (N, T - 1), on the differences whose frames
    are all ``seen`` (N, T); None if too few samples."""
    arm = pole - cart
    psi = torch.atan2(arm @ rail, arm @ normal)  # 0 along the normal, positive towards rail
    psi = psi[:, :1] + torch.cumsum(torch.cat([torch.zeros_like(psi[:, :1]), angle_normalize(
        torch.diff(psi, dim=1))], 1), 1)  # unwrapped along each sequence
    along = (cart - origin) @ rail
    k = stride

    def second(z: Tensor) -> Tensor:  # central second difference over k frames, per time^2
        return (z[:, 2 * k:] - 2.0 * z[:, k:-k] + z[:, : -2 * k]) / (k * dt) ** 2

    middle = psi[:, k:-k]
    psi_acc, cart_acc = second(psi), second(along)
    # the actions held over the 2k frame intervals of each difference, weighted as a second
    # difference weighs a piecewise-constant acceleration: (k - |offset of the interval's
    # middle|) / k^2, a triangle that sums to 1
    weights = [(k - abs(i + 0.5 - k)) / k**2 for i in range(2 * k)]
    window = sum(w * u[:, i: i + cart_acc.shape[1]] for i, w in enumerate(weights))
    frames = seen.to(torch.float64).unsqueeze(0)  # every frame of a difference must be seen
    usable = -F.max_pool1d(-frames, 2 * k + 1, stride=1)[0] > 0.5  # (N, T - 2k)
    if int(usable.sum()) < 10:
        return None
    design = torch.stack([torch.sin(middle), torch.cos(middle) * cart_acc], -1)[usable]
    a, c = torch.linalg.lstsq(design, psi_acc[usable].unsqueeze(1)).solution[:, 0].tolist()
    flat_u, flat_acc = window[usable], cart_acc[usable]
    slope = float((flat_u * flat_acc).sum() / flat_u.square().sum().clamp_min(1e-12))
    return a, c, slope

