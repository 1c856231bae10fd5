"""Improved CEM (iCEM, Pinneri et al. 2020): coloured noise, kept elites, shrinking population."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from agents.base import (
    Bound,
    Callback,
    Cost,
    Dynamics,
    Planner,
    check_population,
    colored_noise_filter,
    sample_colored_noise,
)


class ICEMPlanner(Planner):
    """iCEM: CEM with temporally correlated samples and memory of good sequences.

    Differences to plain CEM (Pinneri et al., "Sample-efficient cross-entropy method for
    real-time planning", CoRL 2020):

    - samples are coloured noise with power spectrum ``1 / f ** beta`` along time, so
      sequences are smooth for beta > 0 (beta = 0 is white noise, i.e. plain CEM);
    - a fraction ``keep_elites`` of the elites is carried into the next iteration, and, shifted
      one step, into the first iteration of the next control step (together with the shifted
      best sequence);
    - the population shrinks by ``decay`` each iteration (never below 2 * elites);
    - the mean is added as a candidate in the last iteration, and the best sequence ever
      evaluated in this plan is executed (not the mean).

    Args:
        dynamics, cost, action_dim, horizon, low, high, seed, callback, device, dtype, threads:
            see :class:`agents.base.Planner`.
        population: candidates in the first iteration (N); iteration i samples
            ``max(N * decay ** -i, 2 * elites)``.
        elites: number of cheapest candidates the Gaussian is refitted to (K).
        iterations: refits per plan.
        beta: spectral exponent of the coloured noise (0 white, 1 pink, 2 red); >= 0.
        decay: population decay factor per iteration (gamma), >= 1.
        keep_elites: fraction of the K elites carried over (xi), in [0, 1].
        alpha: smoothing (momentum) of the refit in [0, 1).
        init_std: initial standard deviation, as a fraction of the half-width of the bounds.
        min_std: floor of the standard deviation, same units as ``init_std``.
    """

    def __init__(self, dynamics: Dynamics, cost: Cost, action_dim: int, horizon: int,
                 low: Bound = -1.0, high: Bound = 1.0, *,
                 population: int = 200, elites: int = 20, iterations: int = 4,
                 beta: float = 2.0, decay: float = 1.25, keep_elites: float = 0.3,
                 alpha: float = 0.1, init_std: float = 0.5, min_std: float = 0.01,
                 seed: int = 0, callback: Callback | None = None,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 threads: int | None = 1) -> None:
        super().__init__(dynamics, cost, action_dim, horizon, low, high, seed=seed,
                         callback=callback, device=device, dtype=dtype, threads=threads)
        check_population(population, elites, iterations)
        if beta < 0 or decay < 1 or not 0 <= keep_elites <= 1 or not 0 <= alpha < 1:
            raise ValueError("need beta >= 0, decay >= 1, 0 <= keep_elites <= 1, "
                             f"0 <= alpha < 1; got {beta}, {decay}, {keep_elites}, {alpha}")
        self.population, self.elites, self.iterations = population, elites, iterations
        self.beta, self.decay, self.keep_elites = beta, decay, keep_elites
        self.alpha, self.init_std, self.min_std = alpha, init_std, min_std
        self.n_keep = math.ceil(keep_elites * elites)
        self.sizes = [max(int(population * decay ** -i), 2 * elites) for i in range(iterations)]
        self._filter = colored_noise_filter(self.horizon, beta, self.dtype, self.device)
        self._mean: Tensor | None = None  # warm start of the Gaussian mean, (H, d)
        self._kept: Tensor | None = None  # elites carried to the next step, (n_keep, H, d)

    def _optimize(self, state: Tensor) -> Tensor:
        mean = self._mean if self._mean is not None else self.warm_start()
        std = (self.init_std * self.half_range).expand_as(mean).clone()
        min_std = self.min_std * self.half_range
        best_seq, best_cost = mean, float("inf")
        kept = self._carried_over()
        for it, size in enumerate(self.sizes):
            noise = sample_colored_noise((size, self.action_dim), self._filter, self.horizon,
                                         self.generator).transpose(1, 2)
            parts = [self.clip(mean + std * noise)]
            if kept is not None:
                parts.append(kept)
            if it == self.iterations - 1:
                parts.append(mean.unsqueeze(0))
            candidates = torch.cat(parts) if len(parts) > 1 else parts[0]
            costs = self.evaluate(state, candidates)
            elite_costs, idx = torch.topk(costs, self.elites, largest=False, sorted=True)
            elite = candidates[idx]
            if float(elite_costs[0]) < best_cost:
                best_cost, best_seq = float(elite_costs[0]), elite[0]
            mean = self.alpha * mean + (1.0 - self.alpha) * elite.mean(0)
            std = self.alpha * std + (1.0 - self.alpha) * elite.std(0, unbiased=False)
            std = torch.maximum(std, min_std)
            kept = elite[: self.n_keep] if self.n_keep > 0 else None
            self._report(it, best_cost, costs, mean=mean, std=std, population=len(candidates))
        self._mean, self._kept = mean, kept
        self.last_cost = best_cost
        return best_seq

    def _carried_over(self) -> Tensor | None:
        """Shifted elites and best sequence of the previous step (None at the first plan)."""
        parts = [p for p in (self._solution, self._kept) if p is not None]
        if not parts or self.n_keep == 0:
            return None
        return torch.cat([p.reshape(-1, self.horizon, self.action_dim) for p in parts])

    def shift(self, steps: int = 1) -> None:
        super().shift(steps)
        if self._mean is not None and steps > 0:
            self._mean = self._shift_seq(self._mean, steps)
        if self._kept is not None and steps > 0:
            self._kept = self._shift_seq(self._kept, steps)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._mean, self._kept = None, None
