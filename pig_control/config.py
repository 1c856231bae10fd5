"""Run configuration: one YAML file per scene, validated on load, overridable as ``key=value``.

A configuration is a tree of dataclasses (:class:`Config`); unknown or mistyped keys are an error
that names the key. ``section.key=value`` overrides from the command line are parsed as YAML
scalars (``training.lr=3e-4``, ``model.localizer=dense``).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pig_control.errors import UserInputError

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass
class DataConfig:
    """Which frames the model sees and how a training window is split.

    Attributes:
        path: the ``.npz`` dataset (``data generate`` or ``data rollouts``); None = generate the
            scene's default dataset into ``data/<scene>.npz`` on first use.
        input_steps: frames the encoder and velocity estimator see (the paper's L).
        pred_steps: frames predicted by the physics cell and compared in the loss.
        extrap_steps: further frames predicted only at evaluation.
        train: sequences to generate when ``path`` is None (validation / test: a tenth).
    """

    path: str | None = None
    input_steps: int = 4
    pred_steps: int = 6
    extrap_steps: int = 20
    train: int = 5000


@dataclass
class ModelConfig:
    """Architecture of the PIG model.

    Attributes:
        physics: the system (pig_control.systems, docs/systems.md) whose equations the model
            learns: ``free`` (bouncing), ``spring``, ``gravity``, ``pendulum``, ``cartpole``,
            a user's ``module:Class`` or ``path/to/file.py:Class``; or ``blackbox`` (a recurrent
            network instead of equations: the paper's baseline).
        n_objects: objects the encoder must find.
        image_size: frame height = width, pixels.
        dt: scene time units per frame.
        substeps: Euler substeps per frame inside the physics cell (the paper: 5).
        localizer: ``centroid`` (the mask's centre of mass: light, coordinate-exact) or ``dense``
            (the paper's 200-200-2 network on mask x image, tanh to [0, size]).
        unet_channels: base channels of the encoder's U-Net (the paper: 8 below 40 px, else 16).
        template_size: side of each object's learned template, pixels (the paper: size / 2).
        walls: elastic walls inside a ball system, at learned positions.
        wall_margin: initial guess of the walls' distance from the border (where an object's
            centre turns back), pixels.
        action_dim: size of the action entering the physics cell (0: unactuated).
        actuated_objects: objects the action pushes, two action components each; empty with
            ``action_dim`` > 0: learn which object each pair of components pushes (the
            encoder's object order is arbitrary, so a model learned from video needs this).
        velocity_hidden: hidden units of the velocity estimator (the paper: 100).
        velocity_correction: add the paper's MLP to the velocity estimator's physics fit.
        blackbox_hidden: hidden units of the recurrent baseline.
    """

    physics: str = "spring"
    n_objects: int = 2
    image_size: int = 32
    dt: float = 0.3
    substeps: int = 5
    localizer: str = "centroid"
    unet_channels: int = 8
    template_size: int = 16
    walls: bool = False
    wall_margin: float = 2.0
    action_dim: int = 0
    actuated_objects: list[int] = field(default_factory=list)
    velocity_hidden: int = 100
    velocity_correction: bool = True
    blackbox_hidden: int = 100


@dataclass
class TrainingConfig:
    """Optimisation.

    Attributes:
        steps: total optimiser steps.
        autoencoder_steps: phase 1, the first steps: only the encoder and decoder, on single
            frames (0: the paper's joint training from the start).
        dynamics_steps: phase 2, the next steps: the encoder is frozen, every training frame is
            encoded once, and the velocity estimator and physics cell are fitted in position
            space (cheap: no images). The remaining steps train everything jointly (phase 3).
        batch_size: sequences per step.
        autoencoder_frames: frames per autoencoder step.
        identify_sequences: training sequences whose encoded trajectories the physical
            parameters are fitted to in phase 2 (pig_control/identify.py).
        identify_frames: frames per fitted trajectory chunk.
        identify_warmup: dynamics steps over which the fitted horizon grows from 3 frames to
            whole chunks (pig_control/identify.py: a fit over whole chunks from the start can
            lock onto a wrong oscillation frequency or a collapsed spring; 0 = whole chunks).
        encode_sequences: training sequences encoded for phase 2; the velocity estimator
            learns from windows of all of them, the trajectory fit uses the first
            ``identify_sequences``.
        optimizer: ``adam`` or ``rmsprop`` (the paper).
        lr: learning rate of the networks.
        appearance_lr: learning rate of the decoder's templates, contents and background and
            the encoder's object colours (None: ``lr``).
        physics_lr: learning rate of the physical log-parameters (None: ``lr``).
        lr_decay_at: fraction of ``steps`` after which the learning rates are divided by
            ``lr_decay`` (the paper: 0.75 and 5).
        lr_decay: the divisor.
        alpha: weight of the reconstruction (autoencoder) loss.
        latent_weight: weight of the position-space prediction loss (predicted positions
            against the encoder's positions of the same future frames; 0 in the paper).
        segmentation_weight: weight of the encoder's segmentation loss (centroid localizer only;
            see pig_control/model/encoder.py).
        balance_weight: weight, inside the segmentation loss, of the prior that every object
            owns an equal share of each frame's foreground.
        clip: element-wise gradient clip (the paper: 1.0; 0 = off).
        clip_physics: clip the physical parameters' gradients in the dynamics phase too (the
            paper's clip, and how the shipped control models were trained). Off in the scene
            configs: the trajectory fit's gradient oscillates and the clipped oscillation has
            another fixed point (g settled 4 % low; the digits' k went to 32.8).
        log_every: steps between CSV rows.
        checkpoint_every: steps between checkpoints.
        valid_sequences: validation sequences scored at every checkpoint.
    """

    steps: int = 3000
    autoencoder_steps: int = 500
    dynamics_steps: int = 0
    batch_size: int = 32
    autoencoder_frames: int = 64
    identify_sequences: int = 1000
    identify_frames: int = 20
    identify_warmup: int = 500
    encode_sequences: int = 2000
    optimizer: str = "adam"
    lr: float = 1e-3
    appearance_lr: float | None = 1e-2
    physics_lr: float | None = 1e-2
    lr_decay_at: float = 0.75
    lr_decay: float = 5.0
    alpha: float = 3.0
    latent_weight: float = 1.0
    segmentation_weight: float = 1.0
    balance_weight: float = 10.0
    clip: float = 1.0
    clip_physics: bool = True
    log_every: int = 25
    checkpoint_every: int = 250
    valid_sequences: int = 100


@dataclass
class Config:
    """A whole run: the scene, its data, the model, the optimisation and the seed."""

    scene: str = "spring"
    seed: int = 0
    device: str = "cpu"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_dict(self) -> dict:
        """Plain nested dict (YAML / checkpoint metadata)."""
        return dataclasses.asdict(self)


def _check_type(value, annotation, where: str):
    """Return ``value`` converted to ``annotation`` or raise naming ``where``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is typing.Any:
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_type(value, inner[0], where)
    if origin is list:
        if not isinstance(value, list):
            raise UserInputError(f"config key '{where}' must be a list, got {value!r}")
        return [_check_type(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if annotation is bool:
        if not isinstance(value, bool):
            raise UserInputError(f"config key '{where}' must be true or false, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as text
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserInputError(f"config key '{where}' must be a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserInputError(f"config key '{where}' must be an integer, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise UserInputError(f"config key '{where}' must be text, got {value!r}")
        return value
    raise TypeError(f"unsupported config annotation {annotation!r}")


def _build(cls, raw: dict, prefix: str = ""):
    """Instantiate dataclass ``cls`` from ``raw``, rejecting unknown keys by name."""
    if not isinstance(raw, dict):
        raise UserInputError(f"config section '{prefix or 'top level'}' must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        where = f"{prefix}{key}"
        if key not in names:
            known = ", ".join(sorted(names))
            raise UserInputError(f"unknown config key '{where}' (known: {known})")
        annotation = hints[key]
        if dataclasses.is_dataclass(annotation):
            kwargs[key] = _build(annotation, value, f"{where}.")
        else:
            kwargs[key] = _check_type(value, annotation, where)
    return cls(**kwargs)


def config_from_dict(raw: dict) -> Config:
    """Validate a nested dict (from YAML or checkpoint metadata) into a :class:`Config`."""
    config = _build(Config, raw or {})
    validate(config)
    return config


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings to the nested dict ``raw`` (values parsed as YAML)."""
    for item in overrides:
        if "=" not in item:
            raise UserInputError(f"override '{item}' is not of the form key=value")
        dotted, text = item.split("=", 1)
        keys = dotted.strip().split(".")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise UserInputError(f"override '{item}': cannot parse value ({error})") from None
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
    except yaml.YAMLError as error:
        raise UserInputError(f"config file '{path}' is not valid YAML: {error}") from None
    return config_from_dict(apply_overrides(raw or {}, list(overrides or [])))




def validate(config: Config) -> None:
    """Check values that types alone cannot (choices, ranges); raise naming the key."""
    m, t, d = config.model, config.training, config.data
    if m.physics != "blackbox":
        from pig_control.systems import resolve_system

        try:
            resolve_system(m.physics)
        except UserInputError as error:
            raise UserInputError(f"config key 'model.physics': {error}") from None
    choices = {
        "model.localizer": (m.localizer, ("centroid", "dense")),
        "training.optimizer": (t.optimizer, ("adam", "rmsprop")),
        "device": (config.device, ("cpu", "cuda")),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise UserInputError(f"config key '{key}' is {value!r}; expected one of {allowed}")
    positive = {
        "data.input_steps": d.input_steps, "data.pred_steps": d.pred_steps,
        "model.n_objects": m.n_objects, "model.image_size": m.image_size,
        "model.substeps": m.substeps, "model.template_size": m.template_size,
        "training.steps": t.steps, "training.batch_size": t.batch_size,
        "training.log_every": t.log_every, "training.autoencoder_frames": t.autoencoder_frames,
        "training.checkpoint_every": t.checkpoint_every,
        "model.dt": m.dt, "training.lr": t.lr, "training.lr_decay": t.lr_decay,
    }
    for key, value in positive.items():
        if not value > 0:
            raise UserInputError(f"config key '{key}' must be positive, got {value!r}")
    if d.input_steps < 2:
        raise UserInputError("config key 'data.input_steps' must be at least 2 "
                             "(a velocity needs two frames)")
    if m.physics in ("free", "spring", "gravity") and m.action_dim % 2:
        raise UserInputError("config key 'model.action_dim' must be even: each pushed object "
                             "takes two action components")
    if m.actuated_objects and len(m.actuated_objects) * 2 != m.action_dim:
        raise UserInputError("config keys 'model.action_dim' and 'model.actuated_objects' disagree:"
                             " each actuated object takes two action components (leave "
                             "actuated_objects empty to learn which object each pair pushes)")
    if any(not 0 <= i < m.n_objects for i in m.actuated_objects):
        raise UserInputError("config key 'model.actuated_objects' names an object that "
                             "does not exist")
    if t.identify_sequences > t.encode_sequences:
        raise UserInputError("config key 'training.identify_sequences' must not exceed "
                             "'training.encode_sequences'")
    if t.identify_warmup < 0:
        raise UserInputError(f"config key 'training.identify_warmup' must not be negative, "
                             f"got {t.identify_warmup!r}")
    phases = t.autoencoder_steps + t.dynamics_steps
    if min(t.autoencoder_steps, t.dynamics_steps) < 0 or phases > t.steps:
        raise UserInputError("config keys 'training.autoencoder_steps' + 'training.dynamics_steps'"
                             " must be non-negative and at most 'training.steps'")
