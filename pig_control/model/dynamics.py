"""Latent dynamics behind one interface: ``initial(input positions) -> state``,
``step(state, action) -> state``; ``state[0]`` is always the positions (B, n, 2) in pixels.

:class:`PhysicsDynamics` is PIG's: a velocity estimator and a physics cell, state = (positions,
velocities) in the learned physical coordinates. :class:`RecurrentDynamics` is the paper's
black-box baseline: a GRU over positions, state = (positions, hidden).
"""

from __future__ import annotations

import torch
from torch import nn

from pig_control.model.velocity import VelocityEstimator
from pig_control.systems import System

State = tuple[torch.Tensor, torch.Tensor]


class PhysicsDynamics(nn.Module):
    """Velocity estimator + physics cell.

    Args:
        cell: the :class:`~pig_control.systems.System` (the physics cell).
        input_steps: frames the velocity estimator sees.
        hidden: hidden units of the velocity estimator.
    """

    def __init__(self, cell: System, input_steps: int, hidden: int = 100,
                 correction: bool = True):
        super().__init__()
        self.cell = cell
        self.velocity = VelocityEstimator(input_steps, cell.n_objects, cell.dt, hidden,
                                          correction=correction)

    def initial(self, positions: torch.Tensor, actions: torch.Tensor | None = None) -> State:
        """Positions (B, L, n, 2) of the input frames (and the actions (B, L - 1, d) applied
        between them, if known) -> (positions, velocities) at the last input frame."""
        return self.velocity(positions, self.cell, actions)

    def step(self, state: State, action: torch.Tensor | None = None) -> State:
        return self.cell(state[0], state[1], action)


class RecurrentDynamics(nn.Module):
    """Black-box baseline: a GRU cell reads the input positions and then predicts each next
    position as the current one plus a learned displacement.

    Args:
        n_objects: objects in the state.
        hidden: GRU units.
        action_dim: size of the action fed at every step (0: none).
    """

    def __init__(self, n_objects: int, hidden: int = 100, action_dim: int = 0):
        super().__init__()
        self.action_dim = action_dim
        self.gru = nn.GRUCell(2 * n_objects + action_dim, hidden)
        self.out = nn.Linear(hidden, 2 * n_objects)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.scale = 10.0  # positions enter and displacements leave in units of 10 px

    def _cell(self, pos, hidden, action):
        x = pos.flatten(1) / self.scale
        if self.action_dim:
            if action is None:
                action = x.new_zeros(x.shape[0], self.action_dim)
            x = torch.cat([x, action], 1)
        return self.gru(x, hidden)

    def initial(self, positions: torch.Tensor, actions: torch.Tensor | None = None) -> State:
        b = positions.shape[0]
        hidden = positions.new_zeros(b, self.gru.hidden_size)
        for t in range(positions.shape[1]):
            hidden = self._cell(positions[:, t], hidden, None)
        return positions[:, -1], hidden

    def step(self, state: State, action: torch.Tensor | None = None) -> State:
        pos, hidden = state
        hidden = self._cell(pos, hidden, action)
        pos = pos + self.out(hidden).view_as(pos) * self.scale
        return pos, hidden
