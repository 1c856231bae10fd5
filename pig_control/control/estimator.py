"""State estimation from encoded positions: a Kalman filter that predicts with the world model.

The encoder measures positions only, a few hundredths of a pixel to a few tenths from the
truth. A planner that settles a spring within 1 px/time unit needs the velocities far better
than differencing a few frames gives, and a fit over a fixed window of frames breaks down when
the window holds a bounce off a wall (its Gauss-Newton fit is non-smooth there).
:class:`StateFilter` instead carries the state from step to step: it predicts with the same
dynamics the planner uses (the model's physics cell, walls and actuation included, so bounces
need no special care) and corrects the prediction with each new measurement.

Every coordinate (x or y of every object) gets the same noise model, a position measured with
standard deviation ``position_noise`` and an unmodelled acceleration of white noise with
standard deviation ``accel_noise`` (the model's errors: a parameter or gain off by a percent),
so one 2x2 covariance of (position, velocity) serves all coordinates: the filter costs one call
of the dynamics and a few scalar operations per step.
"""

from __future__ import annotations

import torch
from torch import Tensor


class StateFilter:
    """Kalman filter over packed states (n, 4) = x, y, vx, vy (pixels, pixels per time unit).

    Predict: ``x- = dynamics(x, action)`` (the world model), covariance ``P- = F P F' + Q``
    with ``F = [[1, dt], [0, 1]]`` and ``Q = q [[dt^3 / 3, dt^2 / 2], [dt^2 / 2, dt]]``,
    ``q = accel_noise^2`` (white acceleration noise). Update with the measured positions z:
    ``K = P- [1, 0]' / (P-_00 + position_noise^2)``, positions ``+= K_0 (z - p-)``,
    velocities ``+= K_1 (z - p-)``. After a reset the state is the measured positions at rest
    with a velocity standard deviation of ``initial_speed`` (the filter learns the velocity
    over the next few frames).

    Args:
        dynamics: ``dynamics(state (B, n, 4), action (B, d) or None) -> (B, n, 4)``.
        dt: time units between two measurements (one control step).
        position_noise: standard deviation of the encoder's positions, pixels.
        accel_noise: standard deviation of the unmodelled acceleration, pixels / time^2.
        initial_speed: standard deviation of the velocity at a reset, pixels / time unit.
    """

    def __init__(self, dynamics, dt: float, position_noise: float = 0.1,
                 accel_noise: float = 0.3, initial_speed: float = 10.0):
        if dt <= 0 or position_noise <= 0 or accel_noise < 0 or initial_speed <= 0:
            raise ValueError("need dt > 0, position_noise > 0, accel_noise >= 0 and "
                             f"initial_speed > 0; got {dt}, {position_noise}, {accel_noise}, "
                             f"{initial_speed}")
        self.dynamics = dynamics
        self.r = position_noise**2
        self.initial_variance = initial_speed**2
        q = accel_noise**2
        self.transition = torch.tensor([[1.0, dt], [0.0, 1.0]], dtype=torch.float64)
        self.process = q * torch.tensor([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]],
                                        dtype=torch.float64)
        self.state: Tensor | None = None
        self.covariance: Tensor | None = None

    def reset(self, positions: Tensor) -> Tensor:
        """Start from measured positions (n, 2), at rest; returns the state (n, 4)."""
        self.state = torch.cat([positions, torch.zeros_like(positions)], -1)
        self.covariance = torch.diag(torch.tensor([self.r, self.initial_variance],
                                                  dtype=torch.float64))
        return self.state

    def step(self, positions: Tensor | None, action: Tensor | None) -> Tensor:
        """Predict over the step driven by ``action`` (d,), correct with the positions (n, 2)
        measured after it (None: nothing measured, e.g. the object left the image: the
        prediction stands and its uncertainty grows); returns the state (n, 4)."""
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        batch_action = None if action is None else action.reshape(1, -1)
        predicted = self.dynamics(self.state.unsqueeze(0), batch_action)[0]
        f = self.transition
        cov = f @ self.covariance @ f.T + self.process
        if positions is None:
            self.state, self.covariance = predicted, cov
            return self.state
        gain = cov[:, 0] / (cov[0, 0] + self.r)  # (position, velocity) gain
        self.covariance = cov - gain[:, None] * cov[0:1, :]
        innovation = positions - predicted[:, :2]
        self.state = torch.cat([predicted[:, :2] + float(gain[0]) * innovation,
                                predicted[:, 2:] + float(gain[1]) * innovation], -1)
        return self.state
