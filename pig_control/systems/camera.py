"""Affine camera geometry shared by systems that see a plane: a 2 x 2 matrix and an origin.

A point ``w`` of the system's plane (its own units) is seen at ``origin + A w`` pixels, with
``A = [[a_xx, a_xy], [a_yx, a_yy]]``: scale, orientation (rotation, mirror) and the foreshortening
of a plane seen at an angle. All six numbers are learned.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Camera value names of the matrix, row-major.
MATRIX = ("a_xx", "a_xy", "a_yx", "a_yy")


def apply(cam: dict[str, Tensor], origin: tuple[str, str], w: Tensor) -> Tensor:
    """Plane points ``(..., 2)`` -> pixels ``(..., 2)``."""
    x = cam[origin[0]] + cam["a_xx"] * w[..., 0] + cam["a_xy"] * w[..., 1]
    y = cam[origin[1]] + cam["a_yx"] * w[..., 0] + cam["a_yy"] * w[..., 1]
    return torch.stack([x, y], -1)


def linear(cam: dict[str, Tensor], w: Tensor) -> Tensor:
    """Plane vectors ``(..., 2)`` -> pixel vectors (no origin): velocities."""
    return torch.stack([cam["a_xx"] * w[..., 0] + cam["a_xy"] * w[..., 1],
                        cam["a_yx"] * w[..., 0] + cam["a_yy"] * w[..., 1]], -1)


def invert(cam: dict[str, Tensor], origin: tuple[str, str], points: Tensor) -> Tensor:
    """Pixels ``(..., 2)`` -> plane points ``(..., 2)``: the inverse of :func:`apply`."""
    dx, dy = points[..., 0] - cam[origin[0]], points[..., 1] - cam[origin[1]]
    det = cam["a_xx"] * cam["a_yy"] - cam["a_xy"] * cam["a_yx"]
    return torch.stack([cam["a_yy"] * dx - cam["a_xy"] * dy,
                        cam["a_xx"] * dy - cam["a_yx"] * dx], -1) / det


def circle_fit(points: Tensor) -> tuple[float, float, float]:
    """Least-squares circle through points ``(N, 2)`` (pixels): centre x, centre y, radius.

    The algebraic fit ``x^2 + y^2 + D x + E y + F = 0`` (linear in D, E, F), which finds the
    centre from a partial arc too (a pendulum that mostly hangs).
    """
    p = points.reshape(-1, 2).double()
    design = torch.cat([p, torch.ones_like(p[:, :1])], 1)
    target = -(p * p).sum(1, keepdim=True)
    d, e, f = torch.linalg.lstsq(design, target).solution[:, 0].tolist()
    cx, cy = -d / 2.0, -e / 2.0
    return cx, cy, max(cx * cx + cy * cy - f, 1e-6) ** 0.5
