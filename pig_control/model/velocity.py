"""Velocity estimator: positions of the input frames -> state (positions, velocities) at the
last input frame."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], tuple]


class VelocityEstimator(nn.Module):
    """Fit the physics to the input frames, then add a learned correction.

    The state at the first input frame (positions and velocities of every object) is found by a
    few Gauss-Newton iterations so that the physics cell, rolled forward over the L input frames,
    passes closest to the encoded positions (least squares, Jacobian by batched finite
    differences). Rolled to the last input frame, that state is the estimate: it uses the known
    forces, so it is exact for noise-free trajectories however curved, and it averages position
    noise over all L frames. The paper's MLP (hidden-tanh, hidden-tanh, 2 per object, on all
    objects' positions relative to this one) adds a learned correction for what the fit misses;
    it starts at zero.

    Args:
        input_steps: frames L it sees (at least 2).
        n_objects: objects in the scene.
        dt: time units per frame.
        hidden: hidden units of the MLP (the paper: 100).
        iterations: Gauss-Newton iterations.
        correction: add the learned MLP correction (off: the physics fit alone; better where
            training windows hold bounces the MLP cannot learn from four frames).

    Shapes: positions (B, L, n, 2) in pixels; actions (B, L - 1, d) applied between the input
    frames, or None -> positions (B, n, 2) and velocities (B, n, 2) (pixels per time unit) at the
    last input frame.
    """

    def __init__(self, input_steps: int, n_objects: int, dt: float, hidden: int = 100,
                 iterations: int = 3, correction: bool = True):
        super().__init__()
        self.dt, self.iterations = dt, iterations
        self.net = None
        if not correction:
            return
        self.net = nn.Sequential(
            nn.Linear(2 * input_steps * n_objects, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _rollout(self, step: Step, state: torch.Tensor, n: int, frames: int, actions):
        """States (B, 4n) at the first frame -> positions (B, frames, n, 2) and the last state."""
        pos, vel = state[:, : 2 * n].view(-1, n, 2), state[:, 2 * n:].view(-1, n, 2)
        out = [pos]
        for t in range(frames - 1):
            pos, vel = step(pos, vel, None if actions is None else actions[:, t])
            out.append(pos)
        return torch.stack(out, 1), (pos, vel)

    def fit(self, positions: torch.Tensor, step: Step, actions=None):
        """Gauss-Newton fit of the first frame's state; returns the state at the last frame."""
        b, frames, n, _ = positions.shape
        state = torch.cat([positions[:, 0].flatten(1),
                           ((positions[:, 1] - positions[:, 0]) / self.dt).flatten(1)], 1)
        unknowns = state.shape[1]
        eps = 1e-2
        probe = torch.cat([state.new_zeros(1, unknowns), eps * torch.eye(unknowns,
                          dtype=state.dtype, device=state.device)])  # (1 + u, u)
        repeated_actions = None
        if actions is not None:
            repeated_actions = actions.repeat_interleave(unknowns + 1, 0)
        target = positions.flatten(1)
        for _ in range(self.iterations):
            trial = (state[:, None, :] + probe[None]).flatten(0, 1)  # (B * (1 + u), u)
            predicted, _ = self._rollout(step, trial, n, frames, repeated_actions)
            predicted = predicted.flatten(1).view(b, unknowns + 1, -1)
            residual = predicted[:, 0] - target  # (B, 2nL)
            jacobian = (predicted[:, 1:] - predicted[:, :1]).transpose(1, 2) / eps  # (B, 2nL, u)
            normal = jacobian.transpose(1, 2) @ jacobian
            normal = normal + 1e-6 * torch.eye(unknowns, dtype=state.dtype, device=state.device)
            gradient = (jacobian.transpose(1, 2) @ residual.unsqueeze(-1)).squeeze(-1)
            state = state - torch.linalg.solve(normal, gradient)
        _, last = self._rollout(step, state, n, frames, actions)
        return last

    def forward(self, positions: torch.Tensor, step: Step, actions=None):
        pos, vel = self.fit(positions, step, actions)
        if self.net is None:
            return pos, vel
        # object i sees every object's trajectory relative to its own last position
        relative = positions.unsqueeze(2) - positions[:, -1].unsqueeze(1).unsqueeze(3)
        features = relative.permute(0, 2, 1, 3, 4).flatten(2)  # (B, n, L * n * 2)
        return pos, vel + self.net(features / 10.0) * 10.0 / self.dt
