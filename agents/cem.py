"""Cross-entropy method (CEM) over action sequences: sample, evaluate, refit, shift."""

from __future__ import annotations

import torch
from torch import Tensor

from agents.base import Bound, Callback, Cost, Dynamics, Planner, check_population


class CEMPlanner(Planner):
    """CEM with a diagonal Gaussian over the (H, d) action sequence.

    Each iteration samples ``population`` sequences from N(mean, std^2) clipped to the bounds,
    evaluates them in one batched rollout, and refits mean and std to the ``elites`` cheapest,
    smoothed by ``alpha``: ``mean <- alpha * mean + (1 - alpha) * elite_mean`` (same for std).
    The returned plan is the final mean. The mean starts from the shifted previous plan.

    Args:
        dynamics, cost, action_dim, horizon, low, high, seed, callback, device, dtype, threads:
            see :class:`agents.base.Planner`.
        population: candidate sequences per iteration (N).
        elites: number of cheapest candidates the Gaussian is refitted to (K <= N).
        iterations: refits per plan.
        alpha: smoothing (momentum) of the refit in [0, 1); 0 = plain CEM.
        init_std: initial standard deviation, as a fraction of the half-width of the bounds.
        min_std: floor of the standard deviation, same units as ``init_std``.
    """

    def __init__(self, dynamics: Dynamics, cost: Cost, action_dim: int, horizon: int,
                 low: Bound = -1.0, high: Bound = 1.0, *,
                 population: int = 200, elites: int = 20, iterations: int = 5,
                 alpha: float = 0.1, init_std: float = 0.5, min_std: float = 0.01,
                 seed: int = 0, callback: Callback | None = None,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 threads: int | None = 1) -> None:
        super().__init__(dynamics, cost, action_dim, horizon, low, high, seed=seed,
                         callback=callback, device=device, dtype=dtype, threads=threads)
        check_population(population, elites, iterations)
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        self.population, self.elites, self.iterations = population, elites, iterations
        self.alpha, self.init_std, self.min_std = alpha, init_std, min_std
        self._noise = torch.empty(population, self.horizon, self.action_dim, dtype=self.dtype,
                                  device=self.device)

    def _optimize(self, state: Tensor) -> Tensor:
        mean = self.warm_start()
        std = (self.init_std * self.half_range).expand_as(mean).clone()
        min_std = self.min_std * self.half_range
        best_cost = float("inf")
        for it in range(self.iterations):
            torch.randn(self._noise.shape, generator=self.generator, out=self._noise)
            candidates = self.clip(mean + std * self._noise)
            costs = self.evaluate(state, candidates)
            elite_costs, idx = torch.topk(costs, self.elites, largest=False, sorted=False)
            elite = candidates[idx]
            mean = self.alpha * mean + (1.0 - self.alpha) * elite.mean(0)
            std = self.alpha * std + (1.0 - self.alpha) * elite.std(0, unbiased=False)
            std = torch.maximum(std, min_std)
            best_cost = min(best_cost, float(elite_costs.min()))
            self._report(it, best_cost, costs, mean=mean, std=std)
        return mean
