"""Model-predictive path integral control (MPPI, Williams et al. 2016/2017)."""

from __future__ import annotations

import torch
from torch import Tensor

from agents.base import (
    Bound,
    Callback,
    Cost,
    Dynamics,
    Planner,
    colored_noise_filter,
    sample_colored_noise,
)


class MPPIPlanner(Planner):
    """MPPI: move the nominal sequence by an exponentially weighted average of perturbations.

    Each iteration perturbs the nominal sequence U with Gaussian noise (std ``noise_std``),
    clips to the bounds, scores all candidates in one rollout and updates
    ``U <- U + sum_k w_k eps_k`` with ``w = softmax(-(S - min S) / temperature)``, where
    ``eps_k`` is the perturbation actually applied after clipping and ``S_k`` is the cost plus
    the optional control term ``control_cost * sum_t U_t . eps_kt / noise_std^2`` (Williams'
    information-theoretic term, gamma = lambda (1 - alpha); 0 leaves the cost's optimum
    unchanged). U is warm-started from the shifted previous plan.

    Args:
        dynamics, cost, action_dim, horizon, low, high, seed, callback, device, dtype, threads:
            see :class:`agents.base.Planner`.
        population: perturbed sequences per iteration (K).
        iterations: weighted updates per plan (classic MPPI uses 1 per control step).
        temperature: lambda > 0, in the units of the cost: costs larger than the best by a few
            lambdas get almost no weight. Pick it on the scale of the cost differences.
        noise_std: perturbation standard deviation, fraction of the half-width of the bounds.
        noise_beta: smoothing of the perturbations along time: spectral exponent of coloured
            noise (0 = white noise as in the paper; 1-2 gives smooth sequences).
        control_cost: weight gamma of the control term above (0 disables it).
    """

    def __init__(self, dynamics: Dynamics, cost: Cost, action_dim: int, horizon: int,
                 low: Bound = -1.0, high: Bound = 1.0, *,
                 population: int = 256, iterations: int = 3, temperature: float = 1.0,
                 noise_std: float = 0.3, noise_beta: float = 0.0, control_cost: float = 0.0,
                 seed: int = 0, callback: Callback | None = None,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 threads: int | None = 1) -> None:
        super().__init__(dynamics, cost, action_dim, horizon, low, high, seed=seed,
                         callback=callback, device=device, dtype=dtype, threads=threads)
        if population < 1 or iterations < 1 or temperature <= 0 or noise_std <= 0:
            raise ValueError("need population >= 1, iterations >= 1, temperature > 0, "
                             f"noise_std > 0; got {population}, {iterations}, {temperature}, "
                             f"{noise_std}")
        if noise_beta < 0:
            raise ValueError(f"noise_beta must be >= 0, got {noise_beta}")
        self.population, self.iterations = population, iterations
        self.temperature, self.noise_std = temperature, noise_std
        self.noise_beta, self.control_cost = noise_beta, control_cost
        self._filter = (colored_noise_filter(self.horizon, noise_beta, self.dtype, self.device)
                        if noise_beta > 0 else None)
        self._noise = torch.empty(population, self.horizon, self.action_dim, dtype=self.dtype,
                                  device=self.device)

    def _sample_noise(self) -> Tensor:
        if self._filter is None:
            return torch.randn(self._noise.shape, generator=self.generator, out=self._noise)
        return sample_colored_noise((self.population, self.action_dim), self._filter,
                                    self.horizon, self.generator).transpose(1, 2)

    def _optimize(self, state: Tensor) -> Tensor:
        nominal = self.warm_start()
        std = self.noise_std * self.half_range
        best_cost = float("inf")
        for it in range(self.iterations):
            candidates = self.clip(nominal + std * self._sample_noise())
            eps = candidates - nominal
            costs = self.evaluate(state, candidates)
            scores = costs
            if self.control_cost:
                scores = costs + self.control_cost * (nominal * eps / std**2).sum((1, 2))
            weights = torch.softmax(-scores / self.temperature, dim=0)  # stable: max-shifted
            nominal = nominal + torch.einsum("k,khd->hd", weights, eps)
            best_cost = min(best_cost, float(costs.min()))
            self._report(it, best_cost, costs, nominal=nominal, weights=weights)
        return nominal
