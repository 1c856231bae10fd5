"""Gauss-Newton planning (real-time iteration): linearise, solve a box-constrained least squares,
line-search, shift.

For a least-squares cost the planner needs no samples: around the current plan it linearises
the dynamics (finite differences of the one-step model, every time step and every direction in
ONE batched call), builds the linear map from action changes to residual changes, solves the
damped Gauss-Newton step inside the action bounds (a small active-set solve in float64) and
rolls out a handful of step lengths in one batch. On a nearly linear task (a spring, a double
integrator) one such iteration per control step, warm-started from the shifted previous plan
and its predicted trajectory, converges to the optimum within a few control steps: the
real-time iteration scheme of nonlinear MPC (Diehl et al., 2005).

The cost must be a sum of squares of per-step residuals: besides ``cost(states, actions)`` it
exposes ``cost.residuals(states (B, H, *S), actions (B, H, d)) -> (B, H, m)`` with
``cost(states, actions) == residuals.square().sum((1, 2))``, where the residuals of step t depend
only on ``states[:, t]`` and ``actions[:, t]``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from agents.base import (
    Bound,
    Callback,
    Cost,
    Dynamics,
    Planner,
    colored_noise_filter,
    compiled,
    rollout,
    sample_colored_noise,
)


class GaussNewtonPlanner(Planner):
    """Damped Gauss-Newton on the action sequence with finite-difference linearisation.

    Each iteration, around the nominal plan U (H, d) and its predicted states X (H, *S):

    1. linearise: ``x_t = f(x_{t-1}, u_t)`` is differenced in every state and action direction at
       every t in one batched call of the dynamics (H (1 + S + d) rows), giving A_t, B_t and the
       defect ``c_t = f(x_{t-1}, u_t) - X_t`` (nonzero when the start state differs from the one
       the warm start predicted, e.g. a learned model's estimate);
    2. propagate ``dx_t = A_t dx_{t-1} + B_t du_t + c_t`` into a dense map from ``du`` (H d) to the
       residuals, whose Jacobians are differenced the same way (one batched residual call);
    3. solve ``min |r + J du|^2 + lam |du|^2`` subject to the bounds (active set, float64), with
       Levenberg-Marquardt damping ``lam = damping * mean(diag J'J)``;
    4. evaluate ``U + alpha du`` for every ``alpha`` in ``step_sizes`` (0 included: the nominal
       itself) in ONE batched rollout and keep the cheapest; within a plan the damping grows
       tenfold when no step helps (every plan starts from ``damping`` again).

    Without ``samples`` the result is deterministic (``seed`` is then unused).

    Args:
        dynamics, cost, action_dim, horizon, low, high, seed, callback, device, dtype, threads:
            see :class:`agents.base.Planner`. ``cost`` must have a ``residuals`` method (see the
            module docstring).
        iterations: Gauss-Newton iterations per plan (one rollout each).
        first_iterations: iterations of a plan without a warm start (the first of an episode,
            or after a reset), which starts from the default actions (None: ``iterations``).
            More here costs one control step, not every step.
        damping: initial Levenberg-Marquardt factor (relative to the mean curvature).
        step_sizes: step lengths tried in each line search; 0 (keep the nominal) is always added.
        fd_step: relative finite-difference step: ``fd_step * (1 + |x|)`` for a state
            component x, ``fd_step * half_range`` for an action component.
        active_set_iterations: at most this many active-set passes per solve (each fixes or
            releases one variable).
        samples: random sequences added to every line-search batch (0: pure Gauss-Newton):
            the full step plus coloured noise of standard deviation ``sample_std`` (fraction
            of the half-width of the bounds) and spectral exponent ``beta``; they let the
            plan leave a poor local minimum (walls, rotation) at almost no extra time, since
            they share the rollout.
        sample_std: see ``samples``.
        beta: see ``samples`` (0 white, 2 smooth).
    """

    def __init__(self, dynamics: Dynamics, cost: Cost, action_dim: int, horizon: int,
                 low: Bound = -1.0, high: Bound = 1.0, *,
                 iterations: int = 1, first_iterations: int | None = None,
                 damping: float = 1e-4,
                 step_sizes: tuple[float, ...] = (1.0, 0.5, 0.25),
                 fd_step: float = 1e-3, active_set_iterations: int = 100,
                 samples: int = 0, sample_std: float = 0.3, beta: float = 2.0,
                 seed: int = 0, callback: Callback | None = None,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 threads: int | None = 1) -> None:
        super().__init__(dynamics, cost, action_dim, horizon, low, high, seed=seed,
                         callback=callback, device=device, dtype=dtype, threads=threads)
        if not callable(getattr(cost, "residuals", None)):
            raise TypeError("the Gauss-Newton planner needs a least-squares cost with a "
                            "residuals(states, actions) -> (B, H, m) method")
        if first_iterations is not None and first_iterations < 1:
            raise ValueError(f"need first_iterations >= 1, got {first_iterations}")
        if iterations < 1 or damping < 0 or fd_step <= 0 or active_set_iterations < 1:
            raise ValueError("need iterations >= 1, damping >= 0, fd_step > 0, "
                             f"active_set_iterations >= 1; got {iterations}, {damping}, "
                             f"{fd_step}, {active_set_iterations}")
        steps = sorted({float(a) for a in step_sizes} - {0.0}, reverse=True)
        if not steps or any(a < 0 for a in steps):
            raise ValueError(f"step_sizes must hold positive step lengths, got {step_sizes}")
        self.iterations, self.damping, self.fd_step = iterations, float(damping), float(fd_step)
        self.first_iterations = int(first_iterations or iterations)
        self.active_set_iterations = active_set_iterations
        if samples < 0 or sample_std < 0 or beta < 0:
            raise ValueError(f"need samples >= 0, sample_std >= 0, beta >= 0; got {samples}, "
                             f"{sample_std}, {beta}")
        self.samples, self.sample_std, self.beta = int(samples), float(sample_std), float(beta)
        self._filter = colored_noise_filter(self.horizon, self.beta, dtype, self.device)
        self.alphas = torch.tensor([0.0, *steps], dtype=dtype, device=self.device)
        self._lm = self.damping
        self._states: Tensor | None = None  # predicted states of the warm start, (H, *S)

    # ------------------------------------------------------------------ the iteration
    def _optimize(self, state: Tensor) -> Tensor:
        plan = self.warm_start()
        states = self._states
        iterations = self.iterations
        if states is None:  # no predicted trajectory yet: roll the warm start out once
            states = rollout(self.dynamics, state.unsqueeze(0), plan.unsqueeze(0))[0]
            iterations = self.first_iterations
        best_cost = float("inf")
        self._lm = self.damping  # damping adapts within a plan, never across plans
        for it in range(iterations):
            step = self._gauss_newton_step(state, plan, states)
            candidates = plan + self.alphas[:, None, None] * step
            if self.samples:
                noise = sample_colored_noise((self.samples, self.action_dim), self._filter,
                                             self.horizon, self.generator).transpose(1, 2)
                noisy = plan + step + (self.sample_std * self.half_range) * noise
                candidates = torch.cat([candidates, noisy])
            candidates = self.clip(candidates)
            predicted = rollout(self.dynamics, state.unsqueeze(0), candidates)
            costs = self.cost(predicted, candidates)
            i = int(torch.argmin(costs))
            best_cost = float(costs[i])
            plan, states = candidates[i], predicted[i]
            # Levenberg-Marquardt: trust the model less after a failed step
            if i == 0:
                self._lm = min(max(self._lm, 1e-6) * 10.0, 1e6)
            self._report(it, best_cost, costs, actions=plan)
        self._states = states
        self.last_cost = best_cost
        return plan

    def _gauss_newton_step(self, state: Tensor, plan: Tensor, states: Tensor) -> Tensor:
        """The bounded Gauss-Newton step du (H, d) around ``plan`` with predicted ``states``.

        The model and the cost are called as torch functions (two batched calls); the small
        dense algebra around them runs in NumPy float64, whose per-operation overhead is a
        fraction of torch's on matrices of this size.
        """
        horizon, d = self.horizon, self.action_dim
        shape = state.shape
        s_dim = state.numel()
        x = states.detach().reshape(horizon, s_dim).double().cpu().numpy()
        u = plan.detach().double().cpu().numpy()  # (H, d)
        prev = np.concatenate([state.detach().reshape(1, s_dim).double().cpu().numpy(),
                               x[:-1]])  # input state of every step

        # 1. dynamics: base, action and state perturbations of every step, one batched call
        rows = 1 + d + s_dim
        h_s = self.fd_step * (1.0 + np.abs(prev))  # (H, S)
        h_u = self.fd_step * self._numpy(self.half_range)  # (d,)
        in_s = np.repeat(prev[:, None, :], rows, 1)  # (H, 1+d+S, S)
        in_s[:, 1 + d:] += h_s[:, None, :] * np.eye(s_dim)
        in_u = np.repeat(u[:, None, :], rows, 1)  # (H, 1+d+S, d)
        in_u[:, 1:1 + d] += h_u * np.eye(d)
        out = self._numpy(self.dynamics(self._torch(in_s.reshape(horizon * rows, *shape)),
                                        self._torch(in_u.reshape(-1, d))))
        out = out.reshape(horizon, rows, s_dim)
        base = out[:, 0]  # f(prev_t, u_t), (H, S)
        b_mat = ((out[:, 1:1 + d] - base[:, None]) / h_u[:, None]).transpose(0, 2, 1)
        a_mat = ((out[:, 1 + d:] - base[:, None]) / h_s[:, :, None]).transpose(0, 2, 1)
        nominal = np.concatenate([x[:-1], base[-1:]])  # the last state comes from base
        defect = base - nominal  # (H, S)

        # 2. dx_t = A_t dx_{t-1} + B_t du_t + c_t, as dx_t = M_t [du; 1]
        n = horizon * d
        steps = np.arange(horizon)
        drive = np.zeros((horizon, s_dim, horizon, d))
        drive[steps, :, steps] = b_mat  # B_t in the columns of u_t
        drive = np.concatenate([drive.reshape(horizon, s_dim, n), defect[:, :, None]], 2)
        sens = np.empty((horizon, s_dim, n + 1))
        sens[0] = drive[0]
        for t in range(1, horizon):
            sens[t] = drive[t] + a_mat[t] @ sens[t - 1]
        # residual Jacobians: perturb one state / action component at every step at once
        h_x = self.fd_step * (1.0 + np.abs(nominal).max(0))  # (S,)
        dev_s = np.zeros((rows, s_dim))
        dev_s[1 + d:] = h_x * np.eye(s_dim)
        dev_u = np.zeros((rows, d))
        dev_u[1:1 + d] = h_u * np.eye(d)
        res_states = nominal[None] + dev_s[:, None, :]  # (rows, H, S)
        res = self._numpy(self.cost.residuals(self._torch(res_states.reshape(rows, horizon,
                                                                              *shape)),
                                              self._torch(u[None] + dev_u[:, None, :])))
        r = res[0]  # (H, m)
        r_u = ((res[1:1 + d] - r) / h_u[:, None, None]).transpose(1, 2, 0)  # (H, m, d)
        r_x = ((res[1 + d:] - r) / h_x[:, None, None]).transpose(1, 2, 0)  # (H, m, S)
        jac = r_x @ sens  # (H, m, n + 1)
        r0 = r.reshape(-1) + jac[:, :, n].reshape(-1)
        jac = jac[:, :, :n].reshape(horizon, -1, horizon, d)
        jac[steps, :, steps] += r_u  # the direct effect of u_t on the residuals of step t
        jac = jac.reshape(r0.shape[0], n)

        # 3. min |r0 + J du|^2 + lam |du|^2 inside the bounds
        hess = jac.T @ jac
        grad = jac.T @ r0
        hess[np.diag_indices(n)] += self._lm * float(hess.diagonal().mean()) + 1e-12
        lo = np.tile(self._numpy(self.low), horizon) - u.reshape(-1)
        hi = np.tile(self._numpy(self.high), horizon) - u.reshape(-1)
        step = _box_qp(hess, grad, lo, hi, self.active_set_iterations)
        return self._torch(step.reshape(horizon, d))

    def _torch(self, array: np.ndarray) -> Tensor:
        return torch.from_numpy(array).to(device=self.device, dtype=self.dtype)

    @staticmethod
    def _numpy(tensor: Tensor) -> np.ndarray:
        return tensor.detach().double().cpu().numpy()

    # ------------------------------------------------------------------ warm start
    def shift(self, steps: int = 1) -> None:
        super().shift(steps)
        if self._states is not None and steps > 0:
            if steps >= self.horizon:
                self._states = None
            else:  # the freed tail repeats the last predicted state; the next
                # linearisation replaces it with the prediction of the padded action
                tail = self._states[-1:].expand(steps, *self._states.shape[1:])
                self._states = torch.cat([self._states[steps:], tail])

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._states = None
        self._lm = self.damping


def _box_qp(hess: np.ndarray, grad: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            iterations: int) -> np.ndarray:
    """Minimise ``0.5 x' H x + g' x`` subject to ``lo <= x <= hi`` (H positive definite,
    ``lo <= 0 <= hi``).

    Primal active set (Nocedal & Wright, Algorithm 16.3, for box constraints): starting from the
    feasible ``x = 0``, each pass minimises over the free variables with the fixed ones held at
    their bounds and moves towards that minimiser as far as the box allows; a variable that
    blocks the move is fixed at its bound, and once the minimiser is reached the fixed variable
    whose gradient points most into the box is released. Every pass lowers the objective or
    changes the set by one, so it cannot cycle, and it stops at the exact optimum (the KKT
    conditions) unless ``iterations`` passes run out, leaving a feasible point no worse than
    ``x = 0``. The first guess of the fixed set: the variables already at a bound (``x = 0``
    there) that the gradient pushes against it; in MPC these are mostly the saturated actions
    of the last plan, which saves passes.
    """
    n = grad.shape[0]
    x = np.minimum(np.maximum(np.zeros(n), lo), hi)
    at_lo = (x <= lo) & (grad > 0.0)
    at_hi = (x >= hi) & (grad < 0.0)
    for _ in range(iterations):
        free = ~(at_lo | at_hi)
        idx = np.flatnonzero(free)
        step = np.zeros(n)
        if idx.size:
            rows = hess[idx]
            step[idx] = np.linalg.solve(rows[:, idx], -(grad[idx] + rows @ x))
        # the longest move towards the free minimiser that stays in the box
        alpha, blocking = 1.0, -1
        for i in idx:
            if step[i] < 0.0 and x[i] + step[i] < lo[i]:
                limit = (lo[i] - x[i]) / step[i]
            elif step[i] > 0.0 and x[i] + step[i] > hi[i]:
                limit = (hi[i] - x[i]) / step[i]
            else:
                continue
            if limit < alpha:
                alpha, blocking = limit, i
        x = x + alpha * step
        if blocking >= 0:  # fix the variable that stopped the move
            if step[blocking] < 0.0:
                x[blocking], at_lo[blocking] = lo[blocking], True
            else:
                x[blocking], at_hi[blocking] = hi[blocking], True
            continue
        # at the minimiser over the free variables: release the fixed one pulled hardest inwards
        g = grad + hess @ x
        pull = np.where(at_lo, -g, np.where(at_hi, g, 0.0))
        worst = int(np.argmax(pull))
        if pull[worst] <= 0.0:
            break
        at_lo[worst] = False
        at_hi[worst] = False
    return np.minimum(np.maximum(x, lo), hi)


#: The same function compiled: about 6x faster on the planners' 40-variable problems.
_box_qp = compiled(_box_qp) or _box_qp
