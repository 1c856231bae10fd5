"""The contract every planner shares: dynamics, cost, rollout, bounds, warm start, timing.

A planner searches over open-loop action sequences of a fixed length ``horizon`` (H) for the
one that minimises a cost of the predicted trajectory. It knows the world only through two
functions supplied by the caller, so any model fits (true physics, a learned PIG cell, a
black-box network):

``dynamics(state, action) -> next_state``
    One control step. ``state``: Tensor (B, *S), ``action``: Tensor (B, d); returns (B, *S).
    Batched over the leading axis B, written with torch operations (differentiable for the
    gradient planner), and free of in-place writes to its inputs.

``cost(states, actions) -> costs``
    The cost of whole predicted trajectories (lower is better). ``states``: Tensor
    (B, H, *S), where ``states[:, t]`` is the state reached after applying ``actions[:, t]``
    (the start state itself is not included); ``actions``: Tensor (B, H, d); returns (B,).
    Per-step weights, a terminal weight, discounting or penalties are all expressed here,
    for example ``(w[None, :] * per_step).sum(1)`` with ``w[-1]`` large for a terminal term.

Warm start (as in mbrl-lib): the planner remembers its last solution. After a control step the
caller executes ``plan[0]`` and calls :meth:`Planner.shift`, which moves the remembered solution
one step forward and fills the freed last step with the default action (midpoint of the
bounds). :meth:`Planner.plan` itself never shifts: calling it twice on the same state refines
the same plan.
"""

from __future__ import annotations

import abc
import contextlib
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; callers fall back
    numba = None

Dynamics = Callable[[Tensor, Tensor], Tensor]
"""``dynamics(state (B, *S), action (B, d)) -> next_state (B, *S)``."""

Cost = Callable[[Tensor, Tensor], Tensor]
"""``cost(states (B, H, *S), actions (B, H, d)) -> costs (B,)``; lower is better."""

Callback = Callable[[int, dict[str, Any]], None]
"""``callback(iteration, info)``, called once per optimisation iteration (0-based)."""

Bound = float | Tensor


def compiled(function: Callable) -> Callable | None:
    """``function`` compiled to machine code with ``numba.njit`` (None without numba): for the
    plain NumPy loops of the planners' hot paths. Cached on disk where numba can write its
    cache, else compiled afresh in every process (a read-only install with no writable home
    raises at decoration)."""
    if numba is None:  # pragma: no cover - numba is a dependency
        return None
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except (RuntimeError, OSError):  # pragma: no cover - depends on the file system
        return numba.njit(nogil=True)(function)


def rollout(dynamics: Dynamics, state: Tensor, actions: Tensor) -> Tensor:
    """Predict the trajectories of a batch of action sequences from one or many start states.

    Args:
        dynamics: one-step model ``dynamics(state (B, *S), action (B, d)) -> (B, *S)``.
        state: start state(s), Tensor (B, *S) or (1, *S); a leading 1 is broadcast to B
            without copying.
        actions: Tensor (B, H, d), the action sequences, one control step per entry.

    Returns:
        Tensor (B, H, *S): ``states[:, t]`` is the state after applying ``actions[:, t]``.

    A dynamics object with its own ``rollout(state, actions)`` method (same arguments and
    result) is trusted with the whole horizon, e.g. to run it in one compiled loop.
    """
    own = getattr(dynamics, "rollout", None)
    if callable(own):
        return own(state, actions)
    batch, horizon = actions.shape[0], actions.shape[1]
    s = state.expand(batch, *state.shape[1:]) if state.shape[0] == 1 else state
    states = []
    for t in range(horizon):
        s = dynamics(s, actions[:, t])
        states.append(s)
    return torch.stack(states, dim=1)


def colored_noise_filter(horizon: int, beta: float, dtype: torch.dtype = torch.float32,
                         device: torch.device | str | None = None) -> Tensor:
    """Frequency-domain amplitudes that turn white noise into unit-variance 1/f^beta noise.

    Multiply complex white noise of shape (..., horizon // 2 + 1) by the returned filter and
    take ``torch.fft.irfft(n=horizon)``: each time sample then has variance 1 and the power
    spectrum falls as ``f ** -beta`` (beta = 0: white; 1: pink; 2: red/Brownian-like). The
    zero frequency gets the amplitude of the lowest non-zero one so its power stays finite.

    Args:
        horizon: number of time samples (H), at least 1.
        beta: spectral exponent, >= 0.
        dtype: floating dtype of the result.
        device: device of the result.

    Returns:
        Tensor (horizon // 2 + 1,): amplitude per rfft frequency, already normalised.
    """
    freqs = torch.fft.rfftfreq(horizon, dtype=torch.float64)
    if horizon > 1:
        freqs[0] = freqs[1]
    else:
        freqs[0] = 1.0
    amp = freqs ** (-beta / 2.0)
    # Variance of one time sample of irfft(amp * (a + i b)), a, b ~ N(0, 1), with the DC (and,
    # for even H, the Nyquist) bin kept real: (amp_0^2 + 4 sum_mid amp_k^2 + amp_nyq^2) / H^2.
    edge = amp[0] ** 2
    middle = amp[1:]
    if horizon % 2 == 0 and horizon > 1:
        edge = edge + middle[-1] ** 2
        middle = middle[:-1]
    var = (edge + 4.0 * (middle ** 2).sum()) / horizon ** 2
    return (amp / var.sqrt()).to(dtype=dtype, device=device)


def sample_colored_noise(shape: tuple[int, ...], filt: Tensor, horizon: int,
                         generator: torch.Generator) -> Tensor:
    """Sample unit-variance coloured noise, correlated along the time axis.

    Args:
        shape: leading shape of the result, e.g. (N, d); time is appended last.
        filt: amplitudes from :func:`colored_noise_filter` for this horizon.
        horizon: number of time samples H.
        generator: the random source.

    Returns:
        Tensor (*shape, horizon) with unit-variance entries, coloured along the last axis.
    """
    n_freq = filt.shape[0]
    spec = torch.randn((*shape, n_freq, 2), generator=generator, dtype=filt.dtype,
                       device=filt.device)
    spec[..., 0, 1] = 0.0  # the DC bin of a real signal is real
    if horizon % 2 == 0:
        spec[..., -1, 1] = 0.0  # and so is the Nyquist bin
    return torch.fft.irfft(torch.view_as_complex(spec) * filt, n=horizon)


def check_population(population: int, elites: int, iterations: int) -> None:
    """The argument checks every sampling planner with elites shares (ValueError if bad)."""
    if not 1 <= elites <= population:
        raise ValueError(f"need 1 <= elites <= population, got {elites}, {population}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")


class Planner(abc.ABC):
    """Base class: optimise an open-loop action sequence of length ``horizon``.

    Subclasses implement :meth:`_optimize` (read it top to bottom: sample, evaluate, refit)
    and may extend :meth:`shift` / :meth:`reset` for extra warm-start state.

    Args:
        dynamics: one-step model, see the module docstring.
        cost: trajectory cost, see the module docstring.
        action_dim: d, number of action components.
        horizon: H, number of control steps planned ahead.
        low: lower action bound, a float or a Tensor (d,), in action units.
        high: upper action bound, a float or a Tensor (d,), in action units; > low.
        seed: seed of the planner's own ``torch.Generator`` (no global RNG is touched).
        callback: optional ``callback(iteration, info)`` called once per optimisation
            iteration; ``info`` holds at least ``best_cost`` (float, best cost seen so far in
            this plan) and ``mean_cost`` (float, mean cost of this iteration's candidates).
        device: device for all planner tensors.
        dtype: floating dtype for all planner tensors.
        threads: torch intra-op threads while planning (the previous setting is restored
            afterwards). Planning tensors are tiny, so on a busy CPU more threads add
            synchronisation, not speed. None leaves torch's setting alone.

    Attributes:
        last_plan_ms: wall-clock milliseconds of the last :meth:`plan` call.
        last_cost: predicted cost of the sequence returned by the last plan, when the
            planner evaluated it (None otherwise).
    """

    #: Whether :meth:`_optimize` runs under ``torch.no_grad()`` (sampling planners).
    no_grad: bool = True

    def __init__(
        self,
        dynamics: Dynamics,
        cost: Cost,
        action_dim: int,
        horizon: int,
        low: Bound = -1.0,
        high: Bound = 1.0,
        seed: int = 0,
        callback: Callback | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        threads: int | None = 1,
    ) -> None:
        if int(action_dim) < 1:
            raise ValueError(f"action_dim must be >= 1, got {action_dim}")
        if int(horizon) < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.dynamics = dynamics
        self.cost = cost
        self.action_dim = int(action_dim)
        self.horizon = int(horizon)
        self.device = torch.device(device)
        self.dtype = dtype
        self.low = self._bound(low, "low")
        self.high = self._bound(high, "high")
        if not bool((self.high > self.low).all()):
            raise ValueError(f"need high > low for every action component, got low={low}, "
                             f"high={high}")
        if threads is not None and int(threads) < 1:
            raise ValueError(f"threads must be >= 1 or None, got {threads}")
        self.threads = threads
        self.callback = callback
        self.seed = int(seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(self.seed)
        self.last_plan_ms = float("nan")
        self.last_cost: float | None = None
        self._solution: Tensor | None = None  # warm start: the last plan, (H, d)

    # ----------------------------------------------------------------------------- helpers
    def _bound(self, value: Bound, name: str) -> Tensor:
        b = torch.as_tensor(value, dtype=self.dtype, device=self.device)
        if b.dim() == 0:
            b = b.expand(self.action_dim)
        if b.shape != (self.action_dim,):
            raise ValueError(f"{name} must be a float or have shape ({self.action_dim},), "
                             f"got shape {tuple(b.shape)}")
        return b.clone()

    @property
    def mid(self) -> Tensor:
        """Midpoint of the bounds, Tensor (d,): the default action."""
        return (self.low + self.high) / 2.0

    @property
    def half_range(self) -> Tensor:
        """Half the width of the bounds, Tensor (d,), in action units."""
        return (self.high - self.low) / 2.0

    def clip(self, actions: Tensor) -> Tensor:
        """Clamp actions (..., d) into [low, high] component-wise."""
        return torch.maximum(torch.minimum(actions, self.high), self.low)

    def evaluate(self, state: Tensor, actions: Tensor) -> Tensor:
        """Cost of a batch of sequences in ONE rollout: state (*S), actions (B, H, d) -> (B,)."""
        return self.cost(rollout(self.dynamics, state.unsqueeze(0), actions), actions)

    def warm_start(self) -> Tensor:
        """The sequence to start from, Tensor (H, d): the shifted last plan, else the midpoint."""
        if self._solution is None:
            return self.mid.expand(self.horizon, self.action_dim).clone()
        return self._solution.clone()

    def _report(self, iteration: int, best_cost: float | Tensor, costs: Tensor,
                **extra: Any) -> None:
        if self.callback is not None:
            info = {"best_cost": float(best_cost), "mean_cost": float(costs.mean()), **extra}
            self.callback(iteration, info)

    # ----------------------------------------------------------------------------- public API
    def plan(self, state: Tensor) -> Tensor:
        """Optimise the action sequence from ``state``.

        Args:
            state: the current state, Tensor (*S) (array-likes are converted).

        Returns:
            Tensor (H, d): the planned actions, every entry within [low, high]. The result is
            also remembered as the warm start of the next call (see :meth:`shift`).
        """
        start = time.perf_counter()
        state = torch.as_tensor(state, dtype=self.dtype, device=self.device)
        previous_threads = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            with torch.no_grad() if self.no_grad else contextlib.nullcontext():
                actions = self._optimize(state)
        finally:
            torch.set_num_threads(previous_threads)
        actions = self.clip(actions.detach())
        self._solution = actions
        self.last_plan_ms = (time.perf_counter() - start) * 1000.0
        return actions.clone()

    def shift(self, steps: int = 1) -> None:
        """Move the warm start ``steps`` control steps forward (after executing them).

        The freed tail is filled with the default action (midpoint of the bounds).
        """
        if self._solution is None or steps <= 0:
            return
        self._solution = self._shift_seq(self._solution, steps)

    def _shift_seq(self, seq: Tensor, steps: int) -> Tensor:
        """Shift sequences (..., H, d) ``steps`` forward in time, padding with the midpoint."""
        steps = min(steps, self.horizon)
        out = torch.empty_like(seq)
        out[..., : self.horizon - steps, :] = seq[..., steps:, :]
        out[..., self.horizon - steps:, :] = self.mid
        return out

    def reset(self, seed: int | None = None) -> None:
        """Forget the warm start (start of a new episode); reseed the generator if ``seed``."""
        self._solution = None
        self.last_cost = None
        if seed is not None:
            self.seed = int(seed)
            self.generator.manual_seed(self.seed)

    @abc.abstractmethod
    def _optimize(self, state: Tensor) -> Tensor:
        """Return the best sequence (H, d) found from ``state`` (*S); bounds are applied after."""

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(action_dim={self.action_dim}, horizon={self.horizon}, "
                f"seed={self.seed})")
