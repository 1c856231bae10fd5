"""Checkpoints: tensors and plain metadata only, written atomically, loaded with
``torch.load(..., weights_only=True)`` so that loading never runs code.

Layout of the saved dict::

    format     "pig_control/1"
    config     the run's Config as a plain dict
    model      the model's state_dict
    params     learned physical parameters {name: float}
    step       optimiser steps taken
    optimizer  optimiser state (absent in shipped models)
    rng        the data-sampling generator's state (absent in shipped models)
    autoencoder_best  training.autoencoder_keep_best's best weights so far, during the
               autoencoder phase only (absent in shipped models)
    metadata   provenance: command, seed, data, wall-clock seconds, env_frames, code version
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
from pathlib import Path

import torch

from pig_control.cli import atomic_write_bytes
from pig_control.config import config_from_dict
from pig_control.errors import UserInputError, safe_reason

FORMAT = "pig_control/1"


def save_checkpoint(path: str | os.PathLike, payload: dict, overwrite: bool = False) -> None:
    """Write ``payload`` (see module docstring) through :func:`pig_control.cli.atomic_path`:
    temporary file, fsync, rename; an existing file is replaced only with ``overwrite``."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    atomic_write_bytes(path, buffer.getvalue(), overwrite)


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> dict:
    """Read a checkpoint safely; any problem is a :class:`UserInputError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"checkpoint '{path}' not found")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        raise UserInputError(f"checkpoint '{path}' was refused: it is not a checkpoint of "
                             f"tensors and plain data ({safe_reason(error)})") from None
    except Exception as error:  # torch raises many kinds on a truncated or foreign file
        raise UserInputError(f"checkpoint '{path}' is corrupt or not a checkpoint "
                             f"({type(error).__name__}: {safe_reason(error)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserInputError(f"checkpoint '{path}' is not a pig_control checkpoint ({FORMAT})")
    for key in ("config", "model"):
        if key not in payload:
            raise UserInputError(f"checkpoint '{path}' lacks '{key}'")
    return payload


def state_mismatch(expected: dict, stored, error: BaseException) -> str:
    """One line naming what differs between a model's state dict and a checkpoint's: tensors
    of another shape, missing or unexpected names (at most three of each); the loader's own
    reason where the stored state is not a mapping or nothing differs by name and shape."""
    if not isinstance(stored, dict):
        return safe_reason(error)
    shapes = [f"{name} {tuple(stored[name].shape)} in the file, {tuple(tensor.shape)} here"
              for name, tensor in expected.items()
              if name in stored and hasattr(stored[name], "shape")
              and tuple(stored[name].shape) != tuple(tensor.shape)]
    parts = [("other shapes", shapes),
             ("missing", [name for name in expected if name not in stored]),
             ("unexpected", [name for name in stored if name not in expected])]
    said = [f"{label}: {'; '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
            for label, items in parts if items]
    return ", ".join(said) if said else safe_reason(error)


def load_model(path: str | os.PathLike, device: str = "cpu"):
    """Rebuild the model stored in a checkpoint, in eval mode. Returns (model, checkpoint)."""
    from pig_control import precision
    from pig_control.model.pig import PIGModel

    precision.configure()  # no TF32, deterministic cuDNN: a GPU agent computes as the CPU one
    payload = load_checkpoint(path, device)
    config = config_from_dict(payload["config"])
    model = PIGModel(config.model, config.data.input_steps).to(device)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise UserInputError(f"checkpoint '{path}' does not match its own config: "
                             f"{state_mismatch(model.state_dict(), payload['model'], error)} "
                             f"(made by another version of pig_control? retrain it with this "
                             f"one)") from None
    broken = [name for name, tensor in model.state_dict().items()
              if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise UserInputError(f"checkpoint '{path}' holds NaN or infinite values in "
                             f"{', '.join(broken[:3])}{' ...' if len(broken) > 3 else ''}: the "
                             f"model cannot be used")
    return model.eval(), payload


def code_version() -> str:
    """The git commit of the code that is running, or the package version outside a checkout."""
    here = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, text=True,
                             capture_output=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               text=True, capture_output=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    if sha:
        return sha + ("-dirty" if dirty else "")
    from importlib.metadata import PackageNotFoundError, version
    try:
        return "pig_control " + version("pig_control")
    except PackageNotFoundError:
        return "unknown"


#: What only resuming a training run needs: left out of a shipped model.
TRAINING_STATE = ("optimizer", "rng", "identification", "identification_rng", "autoencoder_best")


def shippable(payload: dict) -> dict:
    """``payload`` without its training state and format tag (ready for :func:`save_checkpoint`):
    the model and its provenance, which cannot be resumed and is a fraction of the size."""
    return {key: value for key, value in payload.items()
            if key not in (*TRAINING_STATE, "format")}


def export_model(source: str | os.PathLike, destination: str | os.PathLike,
                 overwrite: bool = False) -> dict:
    """Write a shippable copy of a training checkpoint (:func:`shippable`)."""
    kept = shippable(load_checkpoint(source))
    save_checkpoint(destination, kept, overwrite)
    return kept
