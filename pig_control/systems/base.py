"""The :class:`System` base class: what a world model believes about the physics it watches.

A system is described once, as one small subclass: its generalized coordinates, its equations
of motion with named unknown positive parameters, how the coordinates place each tracked point
in the image (with the camera geometry as learned parameters), how an action enters, and the
task cost in its coordinates. The base class owns everything else: the log-parametrisation of
the parameters, the learned camera and actuation gain, the integration with substeps, the
mapping between the pixel state that the encoder and the planners see and the coordinates, the
planner's cost, and the oracle (the system built with the true values).

State layouts:

- Pixels (what the encoder finds and the planners plan on): positions and velocities
  ``(B, n_points, 2)`` each, x = column, y = row, pixels and pixels per time unit; packed for
  the planners as ``(B, n_points, 4)`` = x, y, vx, vy.
- Coordinates ``q`` and their rates ``qd``: ``(B, len(coords))`` in the system's own units
  (radians, metres; the ball systems use pixels, ``(B, n, 2)``).

A subclass writes :meth:`accel`, :meth:`to_pixels` and :meth:`from_pixels`, and usually
:meth:`residuals`; everything else has a default. docs/systems.md walks through one.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from pig_control.errors import UserInputError


class System(nn.Module):
    """Base class of every system; a subclass is a physics cell of a PIG world model.

    Class attributes a subclass sets:

    - ``name``: the registry name (``python -m pig_control.train ... model.physics=NAME``).
    - ``coords``: names of the generalized coordinates, e.g. ``("theta",)``.
    - ``initial_params``: the unknown physical parameters and their initial guesses (all
      positive; learned as logarithms).
    - ``fixed_params``: constants of the equations that fix the units (e.g. gravity in m/s^2
      for a system in metres); the oracle may set them, training never changes them.
    - ``initial_camera``: learned camera geometry (pixels), e.g. pivot and scale, with its
      initial guesses; :meth:`camera_guess` may refine the guess from encoded positions.
    - ``n_points``: image points the encoder finds (one per tracked object).
    - ``defaults``: control defaults: ``horizon`` (control steps), ``cost`` (weights of
      :meth:`residuals` and ``action_weight``), optionally ``filter``, ``refine_iterations``,
      ``planner_options`` (see :mod:`pig_control.control.agent`).

    Args:
        dt: time units per frame (the frame interval a user of a camera knows).
        substeps: semi-implicit Euler substeps per frame (velocity first, then position).
        action_dim: size of the action (0: unactuated).
        image_size: frame side in pixels (for the camera's initial guess).
        n_points: image points, where a subclass takes it as an argument (default: the class's
            :attr:`n_points`).
    """

    name: ClassVar[str] = ""
    coords: ClassVar[tuple[str, ...]] = ()
    initial_params: ClassVar[dict[str, float]] = {}
    fixed_params: ClassVar[dict[str, float]] = {}
    initial_camera: ClassVar[dict[str, float]] = {}
    n_points: ClassVar[int] = 1
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, dt: float, substeps: int = 1, action_dim: int = 0,
                 image_size: int = 32, n_points: int | None = None):
        super().__init__()
        if not dt > 0 or int(substeps) < 1 or int(action_dim) < 0:
            raise UserInputError(f"system '{self.name}': dt must be positive, substeps at least "
                                 f"1 and action_dim at least 0 (got {dt}, {substeps}, "
                                 f"{action_dim})")
        self.dt, self.substeps, self.action_dim = float(dt), int(substeps), int(action_dim)
        self.image_size = int(image_size)
        self.n_points = int(n_points or self.n_points)
        self.n_objects = self.n_points  # the name the model's other parts use
        self.fixed = dict(self.fixed_params)
        guesses = [math.log(self.initial_params[k]) for k in self.param_names]
        self.log_params = nn.Parameter(torch.tensor(guesses, dtype=torch.float32))
        camera = self.camera_initial_guess()
        self._camera_names = tuple(camera)
        self.camera_params = nn.Parameter(
            torch.tensor([float(camera[k]) for k in self.camera_names], dtype=torch.float32))
        self.log_gain = None
        if self.action_dim:
            self.log_gain = nn.Parameter(torch.zeros(self.gain_shape()))

    # ------------------------------------------------------------------ what a subclass writes
    def accel(self, q: Tensor, qd: Tensor, force: Tensor | None, p: dict[str, Tensor]) -> Tensor:
        """Accelerations ``q''`` like ``q``, per time unit squared: the equations of motion.

        Args:
            q, qd: coordinates and their rates.
            force: :meth:`force` of the action, or None (no action).
            p: the physical parameters (and fixed constants) by name, positive tensors.
        """
        raise NotImplementedError

    def to_pixels(self, q: Tensor, cam: dict[str, Tensor]) -> Tensor:
        """Coordinates -> image points ``(B, n_points, 2)`` in pixels, with the camera ``cam``."""
        raise NotImplementedError

    def from_pixels(self, points: Tensor, cam: dict[str, Tensor]) -> Tensor:
        """Image points ``(B, n_points, 2)`` -> coordinates: the (least-squares) inverse of
        :meth:`to_pixels`."""
        raise NotImplementedError

    def residuals(self, q: Tensor, qd: Tensor, goal: Tensor,
                  weights: dict[str, float]) -> Tensor:
        """Task residuals ``(B, r)`` of the state from the goal coordinates ``goal`` (1, ...):
        the planner's per-step cost is their sum of squares (plus the action's). Default:
        coordinates to the goal and rates to zero, the rates weighted by
        ``sqrt(velocity_weight)``."""
        speed = math.sqrt(weights.get("velocity_weight", 1.0))
        return torch.cat([(q - goal).flatten(1), speed * qd.flatten(1)], 1)

    def is_success(self, q: Tensor, qd: Tensor, goal: Tensor) -> Tensor:
        """Whether states ``(B, ...)`` meet the task (bool ``(B,)``); default: every residual of
        :meth:`residuals` (unit weights) below 1."""
        return self.residuals(q, qd, goal, {}).abs().max(1).values < 1.0

    # ------------------------------------------------------------------ optional hooks
    def action_residuals(self, action: Tensor, weight: float) -> Tensor:
        """Residuals ``(..., r)`` of the action ``(..., d)`` in the cost: ``sqrt(weight)``
        times the action (override to weigh the force instead)."""
        return math.sqrt(weight) * action

    def force(self, action: Tensor, p: dict[str, Tensor]) -> Tensor:
        """The action ``(B, d)`` as the generalized force that :meth:`accel` takes: the learned
        gain times the action (the gain has :meth:`gain_shape`)."""
        return self.gain() * action

    def gain_shape(self) -> tuple[int, ...]:
        """Shape of the learned actuation gain (default: one scalar)."""
        return ()

    def constrain(self, q: Tensor, qd: Tensor, cam: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Applied after every substep: contacts such as walls (default: none)."""
        return q, qd

    def camera_initial_guess(self) -> dict[str, float]:
        """Initial camera values (default: :attr:`initial_camera`); may depend on
        :attr:`image_size`."""
        return dict(self.initial_camera)

    def camera_guess(self, positions: Tensor) -> dict[str, float] | None:
        """A better initial camera from encoded positions ``(..., n_points, 2)`` (pixels) of
        training frames, or None (keep the current values). Called once before fitting."""
        return None

    def guess_from_motion(self, positions: Tensor, actions: Tensor | None
                          ) -> dict[str, dict[str, float] | float] | None:
        """A starting point for the fit from encoded sequences ``(N, T, n_points, 2)`` (pixels,
        one frame every :attr:`dt`) and the actions ``(N, T - 1, d)`` between them, or None
        (default: keep :meth:`camera_guess`'s). A dict may hold ``"camera"`` and ``"params"``
        (values by name) and ``"gain"``; it is applied after :meth:`camera_guess`. A system
        whose camera's handedness or the zero of its coordinates cannot be told from positions
        alone (which way a pushed pendulum turns) reads them here from the motion."""
        return None

    def in_view(self, positions: Tensor) -> Tensor:
        """Which frames show every tracked point whole, from encoded positions
        ``(..., n_points, 2)``: bool ``(...)`` (default: all). The trajectory fit leaves out
        chunks with a frame that does not: an object cut by the image border has its centroid
        pulled inwards, which no physics explains."""
        return torch.ones(positions.shape[:-2], dtype=torch.bool, device=positions.device)

    def rest_goal(self, positions: Tensor) -> Tensor:
        """The goal positions ``(n_points, 2)`` moved to the nearest state the physics can hold
        at rest (default: unchanged)."""
        return positions

    def velocity_to_pixels(self, q: Tensor, qd: Tensor, cam: dict[str, Tensor]) -> Tensor:
        """Rates -> pixel velocities ``(B, n_points, 2)``: the Jacobian of :meth:`to_pixels`
        times ``qd`` (forward-mode autodiff; override with a closed form for speed)."""
        return torch.func.jvp(lambda x: self.to_pixels(x, cam), (q,), (qd,))[1]

    def velocity_from_pixels(self, q: Tensor, vel: Tensor, cam: dict[str, Tensor]) -> Tensor:
        """Pixel velocities -> rates: the least-squares solution of ``J qd = vel`` with ``J``
        the Jacobian of :meth:`to_pixels` at ``q`` ((B, nq) coordinates)."""
        batch, nq = q.shape
        columns = []
        for i in range(nq):
            tangent = torch.zeros_like(q)
            tangent[:, i] = 1.0
            columns.append(self.velocity_to_pixels(q, tangent, cam).reshape(batch, -1))
        jac = torch.stack(columns, -1)  # (B, 2 n_points, nq)
        normal = jac.transpose(1, 2) @ jac
        normal = normal + 1e-9 * torch.eye(nq, dtype=q.dtype, device=q.device)
        rhs = jac.transpose(1, 2) @ vel.reshape(batch, -1, 1)
        return torch.linalg.solve(normal, rhs)[..., 0]

    # ------------------------------------------------------------------ owned by the base
    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.initial_params)

    @property
    def camera_names(self) -> tuple[str, ...]:
        return self._camera_names

    @property
    def params(self) -> dict[str, float]:
        """The current physical parameters as plain floats."""
        values = torch.exp(self.log_params.detach()).tolist()
        return dict(zip(self.param_names, values, strict=True))

    @property
    def camera(self) -> dict[str, float]:
        """The current camera geometry as plain floats (pixels)."""
        return dict(zip(self.camera_names, self.camera_params.detach().tolist(), strict=True))

    def physical(self) -> dict[str, Tensor]:
        """Parameters (differentiable, positive) and fixed constants by name."""
        values = torch.exp(self.log_params)
        p = {name: values[i] for i, name in enumerate(self.param_names)}
        return {**{k: values.new_tensor(v) for k, v in self.fixed.items()}, **p}

    def camera_values(self) -> dict[str, Tensor]:
        """The camera geometry by name (differentiable)."""
        return {name: self.camera_params[i] for i, name in enumerate(self.camera_names)}

    def gain(self) -> Tensor:
        """The learned actuation gain (positive)."""
        if self.log_gain is None:
            raise UserInputError(f"system '{self.name}' was built without actions")
        return torch.exp(self.log_gain)

    def set_param(self, name: str, value: float, allow_zero: bool = False) -> None:
        """Overwrite one physical parameter (zero-data adaptation) or fixed constant.

        ``allow_zero``: accept 0 for a parameter (the oracle of a world without that term,
        e.g. no damping): stored as log 0 = -inf, exactly off and no longer learnable."""
        if name in self.fixed:
            if not value > 0:
                raise ValueError(f"constant '{name}' must be positive, got {value}")
            self.fixed[name] = float(value)
            return
        if name not in self.param_names:
            raise ValueError(f"unknown parameter '{name}' (this system has: "
                             f"{', '.join(self.param_names) or 'none'})")
        if not (value > 0 or (allow_zero and value == 0)) or not math.isfinite(value):
            raise ValueError(f"parameter '{name}' must be positive, got {value}")
        with torch.no_grad():
            self.log_params[self.param_names.index(name)] = math.log(value) if value else -math.inf

    def set_camera(self, values: dict[str, float]) -> None:
        """Overwrite camera values by name (pixels)."""
        unknown = set(values) - set(self.camera_names)
        if unknown:
            raise ValueError(f"unknown camera value(s) {sorted(unknown)} (this system has: "
                             f"{', '.join(self.camera_names) or 'none'})")
        with torch.no_grad():
            for name, value in values.items():
                self.camera_params[self.camera_names.index(name)] = float(value)

    def set_gain(self, gain: float) -> None:
        """Overwrite the actuation gain (every entry)."""
        with torch.no_grad():
            self.gain()  # raises without actions
            self.log_gain.fill_(math.log(gain))

    def step(self, q: Tensor, qd: Tensor, action: Tensor | None = None,
             cam: dict[str, Tensor] | None = None,
             p: dict[str, Tensor | float] | None = None) -> tuple[Tensor, Tensor]:
        """One frame of the equations of motion: ``substeps`` semi-implicit Euler steps (rates
        first, then coordinates, then :meth:`constrain`); the action is held over the frame.
        ``p``: the parameters to use instead of :meth:`physical` (e.g. an oracle's, frozen as
        floats)."""
        p = self.physical() if p is None else p
        cam = self.camera_values() if cam is None else cam
        force = None
        if self.action_dim and action is not None:
            force = self.force(action, p)
        h = self.dt / self.substeps
        for _ in range(self.substeps):
            qd = qd + h * self.accel(q, qd, force, p)
            q = q + h * qd
            q, qd = self.constrain(q, qd, cam)
        return q, qd

    def pixels_to_state(self, pos: Tensor, vel: Tensor,
                        cam: dict[str, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """Pixel positions and velocities ``(B, n_points, 2)`` -> ``(q, qd)``."""
        cam = self.camera_values() if cam is None else cam
        q = self.from_pixels(pos, cam)
        return q, self.velocity_from_pixels(q, vel, cam)

    def state_to_pixels(self, q: Tensor, qd: Tensor,
                        cam: dict[str, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """``(q, qd)`` -> pixel positions and velocities ``(B, n_points, 2)``."""
        cam = self.camera_values() if cam is None else cam
        return self.to_pixels(q, cam), self.velocity_to_pixels(q, qd, cam)

    def forward(self, pos: Tensor, vel: Tensor, action: Tensor | None = None):
        """One frame in pixels (the physics cell's contract): positions and velocities
        ``(B, n_points, 2)`` -> the same one frame later, through the coordinates."""
        cam = self.camera_values()
        q, qd = self.pixels_to_state(pos, vel, cam)
        q, qd = self.step(q, qd, action, cam)
        return self.state_to_pixels(q, qd, cam)

    def unpack(self, states: Tensor) -> tuple[Tensor, Tensor]:
        """Packed pixel states ``(..., n_points, 4)`` -> ``(q, qd)`` flattened over the
        leading dimensions."""
        flat = states.reshape(-1, self.n_points, 4)
        return self.pixels_to_state(flat[..., :2], flat[..., 2:])

    def goal_coords(self, goal_positions: Tensor) -> Tensor:
        """Goal points ``(n_points, 2)`` in pixels -> goal coordinates ``(1, ...)``."""
        return self.from_pixels(goal_positions.reshape(1, self.n_points, 2),
                                self.camera_values()).detach()

    def make_cost(self, goal_positions: Tensor, **weights: float):
        """The planner's trajectory cost towards goal points ``(n_points, 2)`` (pixels):
        :class:`pig_control.systems.cost.ResidualCost` over :meth:`residuals`."""
        from pig_control.systems.cost import ResidualCost

        return ResidualCost(self, goal_positions, **weights)

    @classmethod
    def from_model_config(cls, config) -> System:
        """Build from the model section of a run configuration
        (:class:`pig_control.config.ModelConfig`): frame interval, substeps, action size and
        image size; ``config.n_objects`` must equal :attr:`n_points`."""
        if config.n_objects != cls.n_points:
            raise UserInputError(f"system '{cls.name}' tracks {cls.n_points} image point(s) but "
                                 f"config key 'model.n_objects' is {config.n_objects}")
        return cls(dt=config.dt, substeps=config.substeps, action_dim=config.action_dim,
                   image_size=config.image_size)

    def upgrade_state(self, state: dict, prefix: str) -> None:
        """Fill in, in place, what a checkpoint written before systems existed lacks: the
        camera (the current values: the initial guess from the configuration). Subclasses add
        their own mappings."""
        state.setdefault(prefix + "camera_params", self.camera_params.detach().clone())

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.upgrade_state(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @classmethod
    def oracle(cls, params: dict[str, float], camera: dict[str, float] | None = None,
               gain: float | None = None, **build: Any) -> System:
        """The system with the TRUE values (the planners' upper bound): ``params`` by name
        (unknown parameters and fixed constants), ``camera`` values, actuation ``gain``;
        ``build``: the constructor's arguments."""
        system = cls(**build)
        for name, value in params.items():
            system.set_param(name, value, allow_zero=True)
        if camera:
            system.set_camera(camera)
        if gain is not None and system.action_dim:
            system.set_gain(gain)
        return system.eval()
