"""Velocity estimator: positions of the input frames -> velocity at the last input frame."""

from __future__ import annotations

import torch
from torch import nn


def centre_slope_weights(n: int) -> torch.Tensor:
    """Weights of the slope of the least-squares line through n equally spaced samples (per
    frame): the velocity at the middle of the window, with the least noise."""
    nodes = torch.arange(n, dtype=torch.float32) - (n - 1) / 2
    return nodes / (nodes**2).sum()


class VelocityEstimator(nn.Module):
    """Velocity at the last input frame from the positions of the L input frames.

    Three parts, each learned, each starting from what physics says:

    1. the slope of the least-squares line through each object's positions, which is the
       velocity at the middle of the window and averages out position noise (a learnable linear
       filter over the L frames, initialised as that slope);
    2. plus the acceleration the physics cell gives at the window's mean positions, times the
       time from the middle of the window to its end: the velocity carried forward by the
       known forces;
    3. plus the paper's MLP (hidden-tanh, hidden-tanh, 2) on all objects' positions relative to
       this object, for what the first two miss (bounces, actions during the input frames).

    Args:
        input_steps: frames L it sees (at least 2).
        n_objects: objects in the scene.
        dt: time units per frame.
        hidden: hidden units of the MLP (the paper: 100).

    Shapes: positions (B, L, n, 2) in pixels -> velocities (B, n, 2) in pixels per time unit.
    """

    def __init__(self, input_steps: int, n_objects: int, dt: float, hidden: int = 100):
        super().__init__()
        self.dt = dt
        self.lag = (input_steps - 1) / 2 * dt  # window middle -> last frame, time units
        self.weights = nn.Parameter(centre_slope_weights(input_steps))
        self.net = nn.Sequential(
            nn.Linear(2 * input_steps * n_objects, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, positions: torch.Tensor, acceleration=None) -> torch.Tensor:
        """``acceleration(positions (B, n, 2), velocities (B, n, 2)) -> (B, n, 2)``, optional."""
        velocity = torch.einsum("t,btnc->bnc", self.weights, positions) / self.dt
        if acceleration is not None:
            velocity = velocity + acceleration(positions.mean(1), velocity) * self.lag
        # object i sees every object's trajectory relative to its own last position
        relative = positions.unsqueeze(2) - positions[:, -1].unsqueeze(1).unsqueeze(3)
        features = relative.permute(0, 2, 1, 3, 4).flatten(2)  # (B, n, L * n * 2)
        return velocity + self.net(features / 10.0) * 10.0 / self.dt
