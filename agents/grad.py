"""Gradient-based planning: Adam on the action sequence through the differentiable dynamics."""

from __future__ import annotations

import torch
from torch import Tensor

from agents.base import Bound, Callback, Cost, Dynamics, Planner


class GradPlanner(Planner):
    """Optimise several action sequences at once by backpropagating the cost through the model.

    Actions are kept inside the bounds by a tanh reparametrisation,
    ``action = mid + half_range * tanh(z)``, and Adam updates the free variables z. The
    ``restarts`` sequences are optimised together as one batch: restart 0 starts from the warm
    start (the shifted previous plan, or the midpoint), the others from random points. The
    cheapest sequence seen at any iteration is returned.

    Gradients are taken with ``torch.autograd.grad`` with respect to z only, so the parameters
    of a learned dynamics model never receive ``.grad`` from planning.

    Args:
        dynamics, cost, action_dim, horizon, low, high, seed, callback, device, dtype, threads:
            see :class:`agents.base.Planner`. The dynamics and cost must be differentiable.
        restarts: sequences optimised in parallel (R >= 1); one of them is the warm start.
        iterations: Adam steps per plan.
        lr: Adam learning rate, in units of the unconstrained variable z.
        init_std: standard deviation of z for the random restarts (z = 0 is the midpoint;
            |z| = 1 is 76 % of the way to a bound).
    """

    no_grad = False

    def __init__(self, dynamics: Dynamics, cost: Cost, action_dim: int, horizon: int,
                 low: Bound = -1.0, high: Bound = 1.0, *,
                 restarts: int = 4, iterations: int = 20, lr: float = 0.1,
                 init_std: float = 0.5,
                 seed: int = 0, callback: Callback | None = None,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 threads: int | None = 1) -> None:
        super().__init__(dynamics, cost, action_dim, horizon, low, high, seed=seed,
                         callback=callback, device=device, dtype=dtype, threads=threads)
        if restarts < 1 or iterations < 1 or lr <= 0:
            raise ValueError(f"need restarts >= 1, iterations >= 1, lr > 0; got {restarts}, "
                             f"{iterations}, {lr}")
        self.restarts, self.iterations, self.lr, self.init_std = restarts, iterations, lr, init_std

    def _to_actions(self, z: Tensor) -> Tensor:
        return self.mid + self.half_range * torch.tanh(z)

    def _optimize(self, state: Tensor) -> Tensor:
        state = state.detach()
        z = torch.randn(self.restarts, self.horizon, self.action_dim, generator=self.generator,
                        dtype=self.dtype, device=self.device) * self.init_std
        unit = (self.warm_start() - self.mid) / self.half_range
        z[0] = torch.atanh(unit.clamp(-0.999, 0.999))
        z.requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=self.lr)
        best_seq, best_cost = self.mid.expand(self.horizon, self.action_dim), float("inf")
        for it in range(self.iterations + 1):
            last = it == self.iterations  # the last pass only scores the final step
            with torch.set_grad_enabled(not last):
                actions = self._to_actions(z)
                costs = self.evaluate(state, actions)
                total = costs.sum()  # restarts are independent: one backward serves all
            i = int(torch.argmin(costs.detach()))
            if float(costs[i].detach()) < best_cost:
                best_cost, best_seq = float(costs[i].detach()), actions[i].detach()
            if last:
                break
            (z.grad,) = torch.autograd.grad(total, [z])
            optimizer.step()
            self._report(it, best_cost, costs.detach(), actions=best_seq)
        self.last_cost = best_cost
        return best_seq
