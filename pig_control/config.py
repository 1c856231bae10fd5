"""Run configuration: one YAML file per scene, validated on load, overridable as ``key=value``.

A configuration is a tree of pydantic models (:class:`Config`). Validation names the key for
every problem: unknown or mistyped keys, values out of range, and keys that contradict each
other (``model.physics`` against ``model.n_objects``, the training phases against
``training.steps``, ...). It runs when a config is loaded, before any data is read or any model
is built. ``section.key=value`` overrides from the command line are parsed as YAML scalars
(``training.lr=3e-4``, ``model.localizer=dense``).

:func:`training_memory_bytes` estimates the memory one training step needs, and
:func:`check_training_memory` refuses a config whose estimate exceeds the machine's memory
(``train`` calls it before any work).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from pig_control.errors import UserInputError

CONFIG_DIR = Path(__file__).parent / "configs"

#: Objects the equations of a shipped ball system are written for (absent: any number); a
#: system that is not a ball system tracks exactly its class's ``n_points``.
OBJECTS_OF_BALLS = {"spring": 2}
#: The least number of objects a shipped ball system's equations need.
MIN_OBJECTS_OF_BALLS = {"gravity": 2}
#: Frames of the shortest trajectory chunk the physics fit can use: a position, a velocity and
#: an acceleration (pig_control/identify.py starts its horizon there).
MIN_IDENTIFY_FRAMES = 3


def _number_from_text(value):
    """YAML 1.1 reads ``3e-4`` (no dot) as text: accept text that is a number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


#: A finite float; integers and numeric text are accepted (YAML writes both).
Number = Annotated[float, BeforeValidator(_number_from_text)]
PositiveInt = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]


class _Section(BaseModel):
    """Strict types (no text for numbers, no 0/1 for booleans), unknown keys refused, NaN and
    infinity refused, values re-checked when assigned."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False,
                              validate_assignment=True)


class DataConfig(_Section):
    """Which frames the model sees and how a training window is split.

    Attributes:
        path: the ``.npz`` dataset (``data generate`` or ``data rollouts``); None = generate the
            scene's default dataset into ``data/<scene>.npz`` on first use.
        input_steps: frames the encoder and velocity estimator see (the paper's L; at least 2:
            a velocity needs two frames).
        pred_steps: frames predicted by the physics cell and compared in the loss.
        extrap_steps: further frames predicted only at evaluation.
        train: sequences to generate when ``path`` is None (validation / test: a tenth; at
            most 100,000: 3.7 GB of 32 px frames).
    """

    path: str | None = None
    input_steps: Annotated[int, Field(ge=2, le=1000)] = 4
    pred_steps: Annotated[int, Field(ge=1, le=1000)] = 6
    extrap_steps: Annotated[int, Field(ge=0, le=100_000)] = 20
    train: Annotated[int, Field(ge=1, le=100_000)] = 5000


class ModelConfig(_Section):
    """Architecture of the PIG model.

    Attributes:
        physics: the system (pig_control.systems, docs/systems.md) whose equations the model
            learns: ``free`` (bouncing), ``spring`` (exactly 2 objects), ``gravity`` (2 or
            more), ``pendulum``, ``cartpole``, a user's ``module:Class`` or
            ``path/to/file.py:Class`` (a system other than the balls tracks exactly its
            ``n_points`` objects); or ``blackbox`` (a recurrent network instead of equations:
            the paper's baseline).
        n_objects: objects the encoder must find.
        image_size: frame height = width, pixels.
        dt: scene time units per frame.
        substeps: Euler substeps per frame inside the physics cell (the paper: 5).
        localizer: ``centroid`` (the mask's centre of mass: light, coordinate-exact), ``colour``
            (one object told apart by a colour score learned from the frames, or two of one
            colour, a body and a thin rod, told apart by thickness:
            pig_control/model/encoder.py) or ``dense``
            (the paper's 200-200-2 network on mask x image, tanh to [0, size]).
        colour_split: side of the square (pixels) whose morphological opening keeps the body
            and drops the rod (``colour`` localizer with two objects; wider than the rod,
            narrower than the body).
        unet_channels: base channels of the encoder's U-Net (the paper: 8 below 40 px, else 16).
        template_size: side of each object's learned template, pixels (the paper: size / 2; at
            most ``image_size``).
        walls: elastic walls inside a ball system, at learned positions.
        wall_margin: initial guess of the walls' distance from the border (where an object's
            centre turns back), pixels (less than half of ``image_size``).
        action_dim: size of the action entering the physics cell (0: unactuated).
        actuated_objects: objects the action pushes, two action components each; empty with
            ``action_dim`` > 0: learn which object each pair of components pushes (the
            encoder's object order is arbitrary, so a model learned from video needs this).
        velocity_hidden: hidden units of the velocity estimator (the paper: 100).
        velocity_correction: add the paper's MLP to the velocity estimator's physics fit.
        blackbox_hidden: hidden units of the recurrent baseline.
    """

    physics: Annotated[str, Field(min_length=1)] = "spring"
    n_objects: Annotated[int, Field(ge=1, le=64)] = 2
    image_size: Annotated[int, Field(ge=8, le=1024)] = 32
    dt: Annotated[Number, Field(gt=0)] = 0.3
    substeps: Annotated[int, Field(ge=1, le=1000)] = 5
    localizer: Literal["centroid", "dense", "colour"] = "centroid"
    colour_split: Annotated[int, Field(ge=2, le=64)] = 3
    unet_channels: Annotated[int, Field(ge=1, le=512)] = 8
    template_size: PositiveInt = 16
    walls: bool = False
    wall_margin: Annotated[Number, Field(ge=0)] = 2.0
    action_dim: Annotated[int, Field(ge=0, le=64)] = 0
    actuated_objects: list[Count] = Field(default_factory=list)
    velocity_hidden: Annotated[int, Field(ge=1, le=100_000)] = 100
    velocity_correction: bool = True
    blackbox_hidden: Annotated[int, Field(ge=1, le=10_000)] = 100

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        balls = self._check_system()
        if self.localizer == "colour" and self.n_objects not in (1, 2):
            raise ValueError(f"config key 'model.localizer' colour finds one or two objects; "
                             f"'model.n_objects' is {self.n_objects}")
        if self.colour_split % 2 == 0:
            raise ValueError(f"config key 'model.colour_split' must be odd (a square centred on "
                             f"each pixel), got {self.colour_split}")
        if self.template_size > self.image_size:
            raise ValueError(f"config key 'model.template_size' ({self.template_size}) must not "
                             f"exceed 'model.image_size' ({self.image_size})")
        if self.wall_margin >= self.image_size / 2:
            raise ValueError(f"config key 'model.wall_margin' ({self.wall_margin}) must be less "
                             f"than half of 'model.image_size' ({self.image_size})")
        if balls and self.action_dim % 2:
            raise ValueError("config key 'model.action_dim' must be even: each pushed object "
                             "takes two action components")
        if self.actuated_objects and len(self.actuated_objects) * 2 != self.action_dim:
            raise ValueError("config keys 'model.action_dim' and 'model.actuated_objects' "
                             "disagree: each actuated object takes two action components "
                             "(leave actuated_objects empty to learn which object each pair "
                             "pushes)")
        if any(i >= self.n_objects for i in self.actuated_objects):
            raise ValueError(f"config key 'model.actuated_objects' names an object that does not "
                             f"exist (model.n_objects = {self.n_objects})")
        if len(set(self.actuated_objects)) != len(self.actuated_objects):
            raise ValueError("config key 'model.actuated_objects' names an object twice")
        return self

    def _check_system(self) -> bool:
        """``physics`` names a system that tracks ``n_objects`` objects; True for a ball system
        (any number of objects, two action components each)."""
        if self.physics == "blackbox":
            return False
        from pig_control.systems import resolve_system
        from pig_control.systems.balls import Balls

        try:
            system = resolve_system(self.physics)
        except UserInputError as error:
            raise ValueError(f"config key 'model.physics': {error}") from None
        balls = issubclass(system, Balls)
        needed = OBJECTS_OF_BALLS.get(self.physics) if balls else system.n_points
        if needed is not None and self.n_objects != needed:
            raise ValueError(f"config keys 'model.physics' and 'model.n_objects' disagree: the "
                             f"{self.physics} system moves exactly {needed} object(s), not "
                             f"{self.n_objects}")
        least = MIN_OBJECTS_OF_BALLS.get(self.physics, 1) if balls else 1
        if self.n_objects < least:
            raise ValueError(f"config keys 'model.physics' and 'model.n_objects' disagree: the "
                             f"{self.physics} system needs at least {least} objects, not "
                             f"{self.n_objects}")
        return balls


class TrainingConfig(_Section):
    """Optimisation.

    Attributes:
        steps: total optimiser steps.
        autoencoder_steps: phase 1, the first steps: only the encoder and decoder, on single
            frames (0: the paper's joint training from the start).
        dynamics_steps: phase 2, the next steps: the encoder is frozen, every training frame is
            encoded once, and the velocity estimator and physics cell are fitted in position
            space (cheap: no images). The remaining steps train everything jointly (phase 3).
            ``autoencoder_steps + dynamics_steps`` is at most ``steps``.
        batch_size: sequences per step.
        autoencoder_frames: frames per autoencoder step.
        identify_sequences: training sequences whose encoded trajectories the physical
            parameters are fitted to in phase 2 (pig_control/identify.py); at most
            ``encode_sequences``.
        identify_frames: frames per fitted trajectory chunk (at least 3; sequences shorter than
            this are fitted whole).
        identify_warmup: dynamics steps over which the fitted horizon grows from 3 frames to
            whole chunks (pig_control/identify.py: a fit over whole chunks from the start can
            lock onto a wrong oscillation frequency or a collapsed spring; 0 = whole chunks).
        encode_sequences: training sequences encoded for phase 2; the velocity estimator
            learns from windows of all of them, the trajectory fit uses the first
            ``identify_sequences``.
        optimizer: ``adam`` or ``rmsprop`` (the paper).
        lr: learning rate of the networks (positive).
        appearance_lr: learning rate of the decoder's templates, contents and background and
            the encoder's object colours (None: ``lr``; 0: frozen at their initial values).
        physics_lr: learning rate of the physical log-parameters (None: ``lr``; 0: frozen at
            their initial values).
        lr_decay_at: fraction of ``steps`` after which the learning rates are divided by
            ``lr_decay`` (the paper: 0.75 and 5).
        lr_decay: the divisor (at least 1).
        autoencoder_keep_best: at the end of the autoencoder phase, go back to the encoder and
            decoder that drew the validation frames best, checked every ``log_every`` steps
            (up to 256 frames of the validation sequences). The autoencoder's loss can spike
            for a few dozen steps (on the digits from 1.2 to 20 within 50 steps), and the
            phase can end inside a spike, which phase 2 would then freeze
            (docs/guide/training.md).
        alpha: weight of the reconstruction (autoencoder) loss.
        latent_weight: weight of the position-space prediction loss (predicted positions
            against the encoder's positions of the same future frames; 0 in the paper).
        segmentation_weight: weight of the encoder's segmentation loss (centroid localizer only;
            see pig_control/model/encoder.py).
        balance_weight: weight, inside the segmentation loss, of the prior that every object
            owns an equal share of each frame's foreground.
        clip: element-wise gradient clip (the paper: 1.0; 0 = off).
        clip_physics: clip the physical parameters' gradients in the dynamics phase too (the
            paper's clip). Off in the configs of the scenes with parameters to learn and in the
            digits' control config: the trajectory fit's gradient oscillates, and the clipped
            oscillation has another fixed point, a few per cent off the truth
            (docs/guide/training.md).
        log_every: steps between CSV rows.
        checkpoint_every: steps between checkpoints.
        valid_sequences: validation sequences scored at every checkpoint (0: none).
    """

    steps: PositiveInt = 3000
    autoencoder_steps: Count = 500
    dynamics_steps: Count = 0
    batch_size: PositiveInt = 32
    autoencoder_frames: PositiveInt = 64
    identify_sequences: PositiveInt = 1000
    identify_frames: Annotated[int, Field(ge=MIN_IDENTIFY_FRAMES)] = 20
    identify_warmup: Count = 500
    encode_sequences: PositiveInt = 2000
    optimizer: Literal["adam", "rmsprop"] = "adam"
    lr: Annotated[Number, Field(gt=0)] = 1e-3
    appearance_lr: Annotated[Number, Field(ge=0)] | None = 1e-2
    physics_lr: Annotated[Number, Field(ge=0)] | None = 1e-2
    lr_decay_at: Annotated[Number, Field(ge=0, le=1)] = 0.75
    lr_decay: Annotated[Number, Field(ge=1)] = 5.0
    autoencoder_keep_best: bool = False
    alpha: Annotated[Number, Field(ge=0)] = 3.0
    latent_weight: Annotated[Number, Field(ge=0)] = 1.0
    segmentation_weight: Annotated[Number, Field(ge=0)] = 1.0
    balance_weight: Annotated[Number, Field(ge=0)] = 10.0
    clip: Annotated[Number, Field(ge=0)] = 1.0
    clip_physics: bool = True
    log_every: PositiveInt = 25
    checkpoint_every: PositiveInt = 250
    valid_sequences: Count = 100

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        if self.autoencoder_steps + self.dynamics_steps > self.steps:
            raise ValueError(f"config keys 'training.autoencoder_steps' "
                             f"({self.autoencoder_steps}) + 'training.dynamics_steps' "
                             f"({self.dynamics_steps}) must be at most 'training.steps' "
                             f"({self.steps})")
        if self.identify_sequences > self.encode_sequences:
            raise ValueError(f"config key 'training.identify_sequences' "
                             f"({self.identify_sequences}) must not exceed "
                             f"'training.encode_sequences' ({self.encode_sequences})")
        return self

    def rate(self, which: Literal["appearance", "physics"]) -> float:
        """The learning rate of the appearance or physics parameters: their own key, or ``lr``
        where it is None (0 stays 0: frozen)."""
        own = self.appearance_lr if which == "appearance" else self.physics_lr
        return self.lr if own is None else own


class Config(_Section):
    """A whole run: the scene, its data, the model, the optimisation and the seed."""

    scene: Annotated[str, Field(min_length=1)] = "spring"
    seed: Annotated[int, Field(ge=0, lt=2**63 - 1)] = 0
    device: Literal["cpu", "cuda"] = "cpu"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    def to_dict(self) -> dict:
        """Plain nested dict (YAML / checkpoint metadata)."""
        return self.model_dump()


def _describe(error: dict) -> str:
    """One pydantic error as a sentence naming the config key."""
    where = ".".join(str(part) for part in error["loc"]) or "top level"
    kind, value = error["type"], error.get("input")
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    if kind == "extra_forbidden":
        return f"unknown config key '{where}'"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"config section '{where}' must be a mapping, got {shown}"
    return f"config key '{where}': {error['msg'][0].lower()}{error['msg'][1:]}, got {shown}"


def _known_keys(error: dict) -> str:
    """The known keys of the section an unknown key was found in."""
    section: type[BaseModel] = Config
    for part in error["loc"][:-1]:
        annotation = section.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        section = annotation
    return ", ".join(sorted(section.model_fields))


def config_from_dict(raw: dict) -> Config:
    """Validate a nested dict (from YAML or checkpoint metadata) into a :class:`Config`.

    Raises:
        UserInputError: one line naming every bad key (unknown, mistyped, out of range, or
            contradicting another key).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserInputError(f"a config must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        first = problems[0]
        message = "; ".join(_describe(p) for p in problems)
        if first["type"] == "extra_forbidden" and len(problems) == 1:
            message += f" (known: {_known_keys(first)})"
        raise UserInputError(message) from None


def validate(config: Config) -> None:
    """Check ``config`` again (after it was built in code): raise naming the key."""
    config_from_dict(config.to_dict())


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings to the nested dict ``raw`` (values parsed as YAML)."""
    for item in overrides:
        if "=" not in item:
            raise UserInputError(f"override '{item}' is not of the form key=value")
        dotted, text = item.split("=", 1)
        keys = dotted.strip().split(".")
        if not all(keys):
            raise UserInputError(f"override '{item}': empty key")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            reason = str(error).splitlines()[0]
            raise UserInputError(f"override '{item}': cannot parse value ({reason})") from None
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise UserInputError(f"override '{item}': '{key}' is not a section")
        node[keys[-1]] = value
    return raw


def resolve_config_path(name_or_path: str | os.PathLike) -> Path:
    """A config file path, or the name of a shipped config (``spring``, ``spring_paper``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{Path(str(name_or_path)).stem}.yaml"
    if path.suffix in ("", ".yaml", ".yml") and shipped.is_file() and not path.exists():
        return shipped
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise UserInputError(f"config file '{name_or_path}' not found (shipped configs: {known})")


def load_config(name_or_path: str | os.PathLike, overrides: list[str] | None = None) -> Config:
    """Read, override and validate a YAML config."""
    path = resolve_config_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0]
        raise UserInputError(f"config file '{path}' is not valid YAML: {reason}") from None
    if raw is not None and not isinstance(raw, dict):
        raise UserInputError(f"config file '{path}' must hold a mapping of sections")
    return config_from_dict(apply_overrides(raw or {}, list(overrides or [])))


# ---- the memory guard ---------------------------------------------------------------------
#: Bytes per pixel of one frame through the encoder and decoder with gradients kept for the
#: backward pass: per U-Net base channel, and per object mask (background included). Fitted to
#: the peak resident memory of single steps on CPU (``benchmarks/training_memory.py``: 32 px,
#: 4 to 16 channels, 2 and 3 objects; 64 px, 16 channels; the estimates against the measured
#: peaks are in ``benchmarks/results/training_memory.json``).
BYTES_PER_PIXEL_PER_CHANNEL = 80
BYTES_PER_PIXEL_PER_OBJECT = 110
#: A joint-phase frame also carries the dynamics and the segmentation of a few frames.
JOINT_FRAME_FACTOR = 1.25
#: A validation frame keeps no gradients.
VALIDATION_FRAME_FACTOR = 0.5


def training_memory_bytes(config: Config) -> int:
    """Estimated peak bytes of one training step of ``config``: the largest of an autoencoder
    step, a joint step and a validation pass, for the phases the config runs."""
    m, t, d = config.model, config.training, config.data
    per_frame = m.image_size ** 2 * (BYTES_PER_PIXEL_PER_CHANNEL * m.unet_channels
                                     + BYTES_PER_PIXEL_PER_OBJECT * (m.n_objects + 1))
    window = d.input_steps + d.pred_steps
    frames = [VALIDATION_FRAME_FACTOR * t.valid_sequences * window]
    if t.autoencoder_steps:
        frames.append(t.autoencoder_frames)
    if t.autoencoder_steps + t.dynamics_steps < t.steps:
        frames.append(JOINT_FRAME_FACTOR * t.batch_size * window)
    return math.ceil(per_frame * max(frames))


def machine_memory_bytes(device: str = "cpu") -> int | None:
    """Total memory of the device training runs on (bytes), or None where it cannot be read."""
    if device == "cuda":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_properties(0).total_memory
        return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_training_memory(config: Config, limit_bytes: int | None = None) -> int:
    """Refuse ``config`` if one training step would need more memory than ``limit_bytes``
    (default: the device's total memory). Returns the estimate in bytes.

    Raises:
        UserInputError: the estimate exceeds the limit; the message names the keys to lower.
    """
    need = training_memory_bytes(config)
    limit = machine_memory_bytes(config.device) if limit_bytes is None else limit_bytes
    if limit is not None and need > limit:
        t = config.training
        raise UserInputError(
            f"this config needs about {need / 2**30:.1f} GiB per training step but the "
            f"{config.device} has {limit / 2**30:.1f} GiB: lower training.autoencoder_frames "
            f"({t.autoencoder_frames}), training.batch_size ({t.batch_size}), "
            f"training.valid_sequences ({t.valid_sequences}) or model.image_size / "
            f"model.unet_channels")
    return need
