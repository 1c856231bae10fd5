"""System identification on encoded trajectories: fit the physical parameters by maximum
likelihood over whole sequences of encoder positions (single shooting).

Each trajectory chunk gets its own free initial state (positions and velocities at its first
frame); the physics cell rolls it forward over the whole chunk, and the squared distance to the
encoder's positions at every frame is minimised over the initial states and the physical
parameters together. Noise in the encoded positions then only enters as observation noise, so
the parameters come out unbiased; estimating velocities from a few noisy frames first (the
paper's way) biases them (a few hundredths of a pixel of encoder error shift the spring
constant by several per cent).

The fitted horizon grows from a few frames to whole chunks (:func:`fit_horizon`). Over a short
horizon the loss is nearly quadratic in the parameters; over a long one it has a local minimum
wherever a wrong oscillation frequency or a collapsed spring fits part of the chunk, and a fit
started from arbitrary parameters can lock onto one (docs/guide/training.md).
"""

from __future__ import annotations

import torch

from pig_control.systems import System

#: Chunk error (px^2) beyond which the fit's loss grows only logarithmically.
ROBUST_SCALE = 1.0
#: Frames the fitted horizon starts from: an initial position, velocity and one acceleration.
FIRST_HORIZON = 3


def fit_horizon(step: int, warmup: int, length: int) -> int:
    """Frames of each chunk fitted at dynamics step ``step``: grows linearly from
    :data:`FIRST_HORIZON` to the chunk ``length`` over ``warmup`` steps (0: whole chunks)."""
    if warmup <= 0 or step >= warmup:
        return length
    return min(length, FIRST_HORIZON + (length - FIRST_HORIZON) * step // warmup)


#: The fit's arithmetic: float64 whatever the device, so that a GPU fit and a CPU fit agree.
FIT_DTYPE = torch.float64


class TrajectoryFit:
    """Per-chunk initial states and their optimiser.

    The rollouts and the loss run in float64 (:data:`FIT_DTYPE`): the loss sums squared errors
    of about 1e-2 px^2 per frame over whole chunks, where float32's rounding (and a GPU's other
    order of summation) is no longer small against the differences between parameter values
    the fit must tell apart. The physical parameters stay float32; their gradients arrive
    through float64 rollouts.

    Args:
        positions: encoder positions (C, T, n, 2) of C chunks of T frames, pixels.
        actions: actions (C, T - 1, d) applied between frames, or None.
        dt: time units per frame (for the initial velocity guess).
        lr: Adam learning rate of the initial states (pixels, pixels per time unit).
    """

    def __init__(self, positions: torch.Tensor, actions: torch.Tensor | None, dt: float,
                 lr: float = 0.05):
        positions = positions.to(FIT_DTYPE)
        actions = None if actions is None else actions.to(FIT_DTYPE)
        self.positions, self.actions = positions, actions
        self.start_positions = positions[:, 0].clone().requires_grad_(True)
        self.start_velocities = ((positions[:, 1] - positions[:, 0]) / dt).requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.start_positions, self.start_velocities], lr=lr)

    def loss(self, cell: System, horizon: int | None = None) -> torch.Tensor:
        """Robust mean over chunks of each chunk's mean squared position error e (px^2, summed
        over objects) over its first ``horizon`` frames (None: all): log(1 + e / s) s with
        s = 1 px^2, which is e for a chunk that fits and grows only logarithmically for one
        stuck in another basin (a bounce, an overlap), so such chunks cannot pull the
        parameters away."""
        horizon = self.positions.shape[1] if horizon is None else horizon
        pos, vel = self.start_positions, self.start_velocities
        error = (pos - self.positions[:, 0]).pow(2).sum((-2, -1))
        for t in range(1, horizon):
            action = None if self.actions is None else self.actions[:, t - 1]
            pos, vel = cell(pos, vel, action)
            error = error + (pos - self.positions[:, t]).pow(2).sum((-2, -1))
        per_chunk = error / horizon
        return (torch.log1p(per_chunk / ROBUST_SCALE) * ROBUST_SCALE).mean()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        self.optimizer.step()

    def state_dict(self) -> dict:
        return {"start_positions": self.start_positions.detach().clone(),
                "start_velocities": self.start_velocities.detach().clone(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():  # copy_ converts a checkpoint's float32 states
            self.start_positions.copy_(state["start_positions"])
            self.start_velocities.copy_(state["start_velocities"])
        self.optimizer.load_state_dict(state["optimizer"])


def away_from_walls(chunks: torch.Tensor, low: float, high: float,
                    clearance: float = 1.0) -> torch.Tensor:
    """Which chunks (C, T, n, 2) stay at least ``clearance`` pixels inside the walls at
    [low, high] in every frame: a bounce makes the fit's loss non-smooth in the initial state,
    so chunks with one are left out of it (bool (C,))."""
    inside = (chunks > low + clearance) & (chunks < high - clearance)
    return inside.flatten(1).all(1)


def fittable_chunks(cell: System, chunks: torch.Tensor, actions: torch.Tensor | None):
    """The chunks (C, T, n, 2) (and their actions) that :func:`away_from_walls` keeps, at the
    system's current (learned) walls, and whose frames the system sees whole
    (:meth:`System.in_view`); all of them when none would be kept."""
    keep = cell.in_view(chunks).all(1)
    camera = cell.camera
    if getattr(cell, "walls", False) and "wall_low" in camera:
        keep = keep & away_from_walls(chunks, camera["wall_low"], camera["wall_high"])
    if keep.all() or not keep.any():
        return chunks, actions
    return chunks[keep], None if actions is None else actions[keep]


def initial_camera(cell: System, positions: torch.Tensor,
                   actions: torch.Tensor | None = None) -> None:
    """Replace the system's camera by its guess from encoded positions ``(..., n, 2)``
    (:meth:`System.camera_guess`), where it has one; then, for sequences ``(N, T, n, 2)``
    with their actions ``(N, T - 1, d)``, apply :meth:`System.guess_from_motion`."""
    guess = cell.camera_guess(positions.detach().reshape(-1, cell.n_points, 2))
    if guess:
        cell.set_camera(guess)
    if positions.dim() != 4:
        return
    motion = cell.guess_from_motion(positions.detach(),
                                    None if actions is None else actions.detach())
    if not motion:
        return
    if motion.get("camera"):
        cell.set_camera(motion["camera"])
    for name, value in (motion.get("params") or {}).items():
        cell.set_param(name, value)
    if motion.get("gain") is not None and cell.action_dim:
        cell.set_gain(motion["gain"])


def chunk_sequences(positions: torch.Tensor, actions: torch.Tensor | None, length: int):
    """Cut (N, T, ...) sequences into non-overlapping chunks of ``length`` frames (the last
    frames of each sequence that do not fill a chunk are dropped). Actions (N, T', d) follow."""
    n, total = positions.shape[:2]
    length = min(length, total)
    count = total // length
    chunks = positions[:, : count * length].reshape(n * count, length, *positions.shape[2:])
    if actions is None:
        return chunks, None
    pieces = [actions[:, i * length: i * length + length - 1] for i in range(count)]
    return chunks, torch.stack(pieces, 1).flatten(0, 1)
