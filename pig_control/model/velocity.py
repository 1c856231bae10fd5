"""Velocity estimator: positions of the input frames -> velocity at the last input frame."""

from __future__ import annotations

import torch
from torch import nn


def endpoint_derivative_weights(n: int, degree: int = 2) -> torch.Tensor:
    """Weights w (n,) such that sum_j w_j p_j is the slope at the last node of the least-squares
    polynomial of ``degree`` through the samples p_j at nodes t_j = j - (n - 1) (in frames).

    ``degree = n - 1`` gives the exact backward finite difference (n = 4: (11 p0 - 18 p-1 +
    9 p-2 - 2 p-3) / 6), which amplifies position noise; degree 2 follows constant accelerations
    while averaging noise."""
    degree = min(degree, n - 1)
    nodes = torch.arange(n, dtype=torch.float64) - (n - 1)
    design = nodes[:, None] ** torch.arange(degree + 1, dtype=torch.float64)[None, :]  # (j, k)
    return torch.linalg.pinv(design)[1].float()


class VelocityEstimator(nn.Module):
    """Per object, a learned linear differentiator (initialised as the slope of a least-squares
    quadratic through the input positions) plus a learned correction, an MLP (hidden-tanh,
    hidden-tanh, 2) over the input positions (the paper's network).

    Starting from the polynomial slope, the estimator is already accurate for smooth motion; the
    linear weights learn the best trade-off between bias and noise, and the MLP what a linear
    filter cannot (bounces, strong forces).

    Args:
        input_steps: frames L it sees (at least 2).
        dt: time units per frame.
        hidden: hidden units (the paper: 100).

    Shapes: positions (B, L, n, 2) in pixels -> velocities (B, n, 2) in pixels per time unit.
    """

    def __init__(self, input_steps: int, dt: float, hidden: int = 100):
        super().__init__()
        self.dt = dt
        self.weights = nn.Parameter(endpoint_derivative_weights(input_steps))
        self.net = nn.Sequential(
            nn.Linear(2 * input_steps, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        difference = torch.einsum("t,btnc->bnc", self.weights, positions) / self.dt
        relative = positions - positions[:, -1:]  # (B, L, n, 2)
        features = relative.permute(0, 2, 1, 3).flatten(2)  # (B, n, 2L)
        return difference + self.net(features / 10.0) * 10.0 / self.dt
