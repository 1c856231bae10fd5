"""CMA-ES over action sequences, using the ``cma`` package with batched ask/tell."""

from __future__ import annotations

import contextlib

import cma
import numpy as np
import torch
from torch import Tensor

from agents.base import Bound, Callback, Cost, Dynamics, Planner

try:  # optional: numpy's multi-threaded BLAS makes cma's small eigendecompositions ~50x slower
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
    ThreadpoolController = None


class CMAESPlanner(Planner):
    """Covariance matrix adaptation over the flattened (H * d) action sequence.

    A fresh ``cma.CMAEvolutionStrategy`` is started every plan at the warm start (the shifted
    previous plan, or the midpoint), with per-coordinate step sizes proportional to the width
    of the bounds and the bounds enforced by cma's boundary transformation. Each iteration
    asks for the whole population, evaluates it in one batched rollout and tells the costs.
    The final mean (cma's ``xfavorite``) is returned, or with ``return_best`` the cheapest
    sequence evaluated. cma draws its samples from a numpy Generator seeded from the planner's
    torch Generator, never from numpy's global RNG. Where ``threadpoolctl`` is installed,
    numpy's BLAS runs single-threaded inside :meth:`plan` (its threads only add overhead for
    cma's small matrices on a busy CPU).

    This is the slowest sampling planner per iteration: cma's Python bookkeeping costs about
    2 ms an iteration and 5 ms per plan to set up, whatever the model.

    Args:
        dynamics, cost, action_dim, horizon, low, high, seed, callback, device, dtype, threads:
            see :class:`agents.base.Planner`.
        population: candidates per iteration (cma's ``popsize``).
        iterations: ask/tell rounds per plan (fewer if cma's own stopping rules fire).
        init_std: initial step size, as a fraction of the half-width of the bounds.
        diagonal: if True, adapt only a diagonal covariance (cheaper for long sequences).
        return_best: return the cheapest evaluated sequence instead of the final mean.
    """

    def __init__(self, dynamics: Dynamics, cost: Cost, action_dim: int, horizon: int,
                 low: Bound = -1.0, high: Bound = 1.0, *,
                 population: int = 32, iterations: int = 8, init_std: float = 0.2,
                 diagonal: bool = False, return_best: bool = False,
                 seed: int = 0, callback: Callback | None = None,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 threads: int | None = 1) -> None:
        super().__init__(dynamics, cost, action_dim, horizon, low, high, seed=seed,
                         callback=callback, device=device, dtype=dtype, threads=threads)
        if population < 2 or iterations < 1 or init_std <= 0:
            raise ValueError(f"need population >= 2, iterations >= 1, init_std > 0; got "
                             f"{population}, {iterations}, {init_std}")
        self.population, self.iterations = population, iterations
        self.init_std, self.diagonal = init_std, diagonal
        self.return_best = return_best
        n = self.horizon
        self._lower = self.low.double().cpu().numpy().tolist() * n
        self._upper = self.high.double().cpu().numpy().tolist() * n
        self._stds = self.half_range.double().cpu().numpy().tolist() * n
        self._blas = ThreadpoolController() if ThreadpoolController is not None else None

    def _optimize(self, state: Tensor) -> Tensor:
        limit = (self._blas.limit(limits=1, user_api="blas") if self._blas is not None
                 else contextlib.nullcontext())
        with limit:
            return self._cma(state)

    def _cma(self, state: Tensor) -> Tensor:
        shape = (self.horizon, self.action_dim)
        seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator))
        rng = np.random.default_rng(seed)
        options = {
            "popsize": self.population,
            "bounds": [self._lower, self._upper],
            "CMA_stds": self._stds,
            "CMA_diagonal": self.diagonal,
            "randn": lambda *size: rng.standard_normal(size),
            "seed": float("nan"),  # never seed numpy's global RNG
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            "maxiter": self.iterations,
        }
        x0 = self.warm_start().double().cpu().numpy().ravel()
        es = cma.CMAEvolutionStrategy(x0, self.init_std, options)
        for it in range(self.iterations):
            solutions = es.ask()
            candidates = torch.as_tensor(np.stack(solutions), dtype=self.dtype,
                                         device=self.device).reshape(-1, *shape)
            costs = self.evaluate(state, self.clip(candidates))
            es.tell(solutions, costs.double().cpu().tolist())
            self._report(it, es.result.fbest, costs)
            if es.stop():
                break
        self.last_cost = float(es.result.fbest)
        x = es.result.xbest if self.return_best else es.result.xfavorite
        return torch.as_tensor(x, dtype=self.dtype, device=self.device).reshape(shape)
