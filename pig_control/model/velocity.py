"""Velocity estimator: positions of the input frames -> velocity at the last input frame."""

from __future__ import annotations

import torch
from torch import nn


class VelocityEstimator(nn.Module):
    """Per object, an MLP (hidden-tanh, hidden-tanh, 2) over the input positions.

    The network sees positions relative to the last input frame and adds a correction to the
    last finite difference, so it starts as a sensible estimator and learns the rest.

    Args:
        input_steps: frames L it sees.
        dt: time units per frame.
        hidden: hidden units (the paper: 100).

    Shapes: positions (B, L, n, 2) in pixels -> velocities (B, n, 2) in pixels per time unit.
    """

    def __init__(self, input_steps: int, dt: float, hidden: int = 100):
        super().__init__()
        self.dt = dt
        self.net = nn.Sequential(
            nn.Linear(2 * input_steps, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        relative = positions - positions[:, -1:]  # (B, L, n, 2)
        difference = (positions[:, -1] - positions[:, -2]) / self.dt
        features = relative.permute(0, 2, 1, 3).flatten(2)  # (B, n, 2L)
        return difference + self.net(features / 10.0) * 10.0 / self.dt
