"""Receding-horizon control: plan, execute the first action, shift the plan, repeat."""

from __future__ import annotations

import time

import torch
from torch import Tensor

from agents.base import Planner


class MPCController:
    """Model-predictive controller around any :class:`agents.base.Planner`.

    Every call of :meth:`act` plans a whole sequence from the current state, returns its first
    action and shifts the planner's warm start one step, so the next plan starts from the
    rest of this one.

    Args:
        planner: the planner; its dynamics and cost define the model and the task.

    Attributes:
        last_plan: Tensor (H, d), the sequence planned at the last :meth:`act` (before shifting).
        last_step_ms: wall-clock milliseconds of the last :meth:`act` call.
    """

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self.last_plan: Tensor | None = None
        self.last_step_ms = float("nan")

    def act(self, state: Tensor) -> Tensor:
        """Plan from ``state`` (Tensor or array (*S)) and return the first action, Tensor (d,)."""
        start = time.perf_counter()
        self.last_plan = self.planner.plan(torch.as_tensor(state))
        self.planner.shift(1)
        self.last_step_ms = (time.perf_counter() - start) * 1000.0
        return self.last_plan[0].clone()

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode: clear the warm start (and reseed the planner if ``seed``)."""
        self.planner.reset(seed)
        self.last_plan = None
