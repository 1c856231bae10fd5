"""True physics of the scenes: vectorised NumPy right-hand sides and the explicit Euler integrator.

Conventions
-----------
* Positions ``pos`` and velocities ``vel`` have shape ``(..., n_objects, 2)`` with the last axis
  ``(x, y)`` = (column, row) in pixels; velocities in pixels per scene time unit.
* Every function is vectorised over any number of leading batch dimensions and never loops in
  Python over the batch.
* The integrator is the one of the paper's generators: explicit (semi-implicit, symplectic) Euler
  with ``substeps`` substeps per frame of length ``dt``: first the velocity is updated with the
  acceleration at the current positions, then the positions with the new velocity.
* Walls are elastic: after each substep a position beyond ``[lo, hi]`` is mirrored back into the
  box and the matching velocity component flips sign.

This module is the world's ground truth. The learnable physics cells of ``pig_control`` are
written separately on purpose (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray


def spring_accel(pos: Array, k: float, l: float) -> Array:
    """Accelerations of two unit-mass balls joined by a spring of rest length ``2 l``.

    The force on ball 0 is ``-k (|p0 - p1| - 2 l) (p0 - p1) / |p0 - p1|`` and ball 1 feels the
    opposite force (the paper's law with unit masses).

    Args:
        pos: positions ``(..., 2, 2)`` in pixels.
        k: spring constant (1 / time unit^2, unit masses).
        l: half the rest length in pixels.

    Returns:
        accelerations ``(..., 2, 2)`` in pixels per time unit^2.
    """
    diff = pos[..., 0, :] - pos[..., 1, :]
    dist = np.sqrt(np.sum(diff * diff, axis=-1, keepdims=True))
    # Coincident balls have no defined direction: no force (never met in practice).
    unit = np.divide(diff, dist, out=np.zeros_like(diff), where=dist > 0)
    force = k * (dist - 2.0 * l) * unit
    return np.stack([-force, force], axis=-2)


def gravity_accel(pos: Array, g: float, m: float, softening: float = 0.0) -> Array:
    """Pairwise Newtonian attraction (the paper's law).

    ``a_i = -g m^2 sum_j (p_i - p_j) / |p_i - p_j|^3``.

    Args:
        pos: positions ``(..., n, 2)`` in pixels.
        g: gravitational constant.
        m: mass of every body (only ``g m^2`` matters).
        softening: Plummer softening length ``eps`` in pixels: the denominator becomes
            ``(|p_i - p_j|^2 + eps^2)^(3/2)``. 0 (the paper's law) unless stated otherwise.

    Returns:
        accelerations ``(..., n, 2)``.
    """
    n = pos.shape[-2]
    first, second = np.triu_indices(n, 1)
    diff = pos[..., first, :] - pos[..., second, :]  # (..., pairs, 2): p_i - p_j, i < j
    dist2 = np.sum(diff * diff, axis=-1, keepdims=True) + softening * softening
    pull = diff / (dist2 * np.sqrt(dist2))  # (..., pairs, 2)
    # Incidence matrix: +1 for the first body of a pair, -1 for the second; equal and opposite
    # pair forces, so the total momentum is conserved.
    incidence = np.zeros((n, first.size))
    incidence[first, np.arange(first.size)] = 1.0
    incidence[second, np.arange(first.size)] = -1.0
    acc = np.tensordot(pull, incidence, axes=([-2], [1]))  # (..., 2, n)
    return (-g * m * m) * np.swapaxes(acc, -1, -2)


def free_accel(pos: Array) -> Array:
    """No force: free flight (the bouncing-balls scene)."""
    return np.zeros_like(pos)


def reflect(pos: Array, vel: Array, lo: float, hi: float) -> tuple[Array, Array, Array]:
    """Elastic walls: mirror positions outside ``[lo, hi]`` back in and flip that velocity.

    Returns:
        ``(pos, vel, hit)`` where ``hit`` (shape ``pos.shape[:-2]``) is True where any object
        of that batch element touched a wall.
    """
    below = pos < lo
    above = pos > hi
    out = below | above
    if not out.any():
        return pos, vel, np.zeros(pos.shape[:-2], dtype=bool)
    pos = np.where(below, 2.0 * lo - pos, np.where(above, 2.0 * hi - pos, pos))
    vel = np.where(below, np.abs(vel), np.where(above, -np.abs(vel), vel))
    # A huge overshoot could still leave a coordinate outside: clamp (only for absurd speeds).
    pos = np.clip(pos, lo, hi)
    return pos, vel, out.any(axis=(-2, -1))


def euler_frame(
    pos: Array,
    vel: Array,
    accel: Callable[[Array], Array],
    dt: float,
    substeps: int,
    push: Array | None = None,
    walls: tuple[float, float] | None = None,
) -> tuple[Array, Array, Array]:
    """Advance one frame of length ``dt`` with ``substeps`` explicit Euler substeps.

    Each substep: ``vel += h (accel(pos) + push)``, then ``pos += h vel``, then the walls
    (``h = dt / substeps``). ``push`` is held constant over the frame (zero-order hold).

    Args:
        pos, vel: ``(..., n, 2)`` positions (pixels) and velocities (pixels per time unit).
        accel: the scene's acceleration field, ``pos -> (..., n, 2)``.
        dt: frame duration in time units.
        substeps: Euler substeps per frame.
        push: extra acceleration ``(..., n, 2)`` (the actuation) or None.
        walls: ``(lo, hi)`` bounds on every coordinate, or None for no walls.

    Returns:
        ``(pos, vel, hit)``; ``hit`` is True for batch elements that touched a wall.
    """
    h = dt / substeps
    hit = np.zeros(pos.shape[:-2], dtype=bool)
    for _ in range(substeps):
        a = accel(pos)
        if push is not None:
            a = a + push
        vel = vel + h * a
        pos = pos + h * vel
        if walls is not None:
            pos, vel, touched = reflect(pos, vel, walls[0], walls[1])
            hit = hit | touched
    return pos, vel, hit


def pendulum_frame(
    theta: Array,
    theta_dot: Array,
    torque: Array,
    g: float,
    m: float,
    l: float,
    dt: float,
    max_speed: float,
    substeps: int = 1,
) -> tuple[Array, Array]:
    """Gymnasium Pendulum-v1 dynamics (theta = 0 upright), vectorised.

    ``theta_ddot = 3 g / (2 l) sin(theta) + 3 / (m l^2) torque``; each substep updates the
    angular velocity first, clips it to ``[-max_speed, max_speed]``, then the angle. With
    ``substeps = 1`` this is exactly Gymnasium's update.
    """
    h = dt / substeps
    for _ in range(substeps):
        acc = 3.0 * g / (2.0 * l) * np.sin(theta) + 3.0 / (m * l * l) * torque
        theta_dot = np.clip(theta_dot + acc * h, -max_speed, max_speed)
        theta = theta + theta_dot * h
    return theta, theta_dot


def angle_normalize(x: Array) -> Array:
    """Wrap angles (radians) into ``[-pi, pi)``."""
    return ((x + np.pi) % (2.0 * np.pi)) - np.pi
