"""Reading and writing the ``.npz`` datasets: atomic writes, validated loads.

Two kinds of file exist, told apart by their keys:

``dataset`` (``python -m pig_control.data generate``): the paper's format
    ``train_x``, ``valid_x``, ``test_x``: uint8 ``(N, T, H, W, 3)``; optionally the true states
    ``train_states``, ``valid_states``, ``test_states``: float32 ``(N, T, *state_shape)`` and the
    metadata below. The paper's original files (only the three ``*_x`` keys) load too.

``rollouts`` (``python -m pig_control.data rollouts``)
    ``frames`` uint8 ``(N, T + 1, H, W, 3)``, ``actions`` float32 ``(N, T, d)`` in ``[-1, 1]``,
    ``states`` float32 ``(N, T + 1, *state_shape)``, ``rewards`` float32 ``(N, T)``,
    ``is_success`` bool ``(N, T)``, ``goals`` float32 ``(N, *goal_shape)``, ``env_frames``;
    from envs that are not ours also ``action_low`` / ``action_high`` float32 ``(d,)`` (the env's
    own action bounds: stored actions are normalised, ``-1 -> low``, ``1 -> high``) and
    ``state_names`` (str ``(S,)``), plus the metadata ``env_id``, ``action_repeat``,
    ``frame_source``, ``state_source``, ``has_success`` (see
    :func:`pig_control.data.rollouts.collect_rollouts`).

Metadata (0-d arrays, all loadable with ``allow_pickle=False``): ``kind``, ``scene`` (short name),
``params`` (JSON text of the true physical parameters), ``dt`` (time units per frame), ``seed``,
``command`` (the command line that wrote the file). :func:`load_dataset` decodes them into plain
Python values.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from pig_control.cli import atomic_path
from pig_control.errors import UserInputError, safe_reason

SPLITS = ("train", "valid", "test")
#: 0-d metadata keys and the Python type each decodes to.
METADATA = {"kind": str, "scene": str, "params": dict, "dt": float, "seed": int,
            "command": str, "policy": str, "env_frames": int, "beta": float,
            "noise_std": float, "env_id": str, "action_repeat": int, "frame_source": str,
            "state_source": str, "has_success": bool}


def save_npz(path: str | os.PathLike, arrays: dict, compress: bool = True,
             overwrite: bool = False) -> None:
    """Write ``arrays`` to ``path`` as an ``.npz`` through :func:`pig_control.cli.atomic_path`
    (atomic; an existing file is refused unless ``overwrite``).

    Metadata values that are not arrays (str, int, float, dict) are stored as 0-d arrays; a dict
    becomes JSON text. The name is used as given (NumPy's ``.npz`` suffix is not appended).
    """
    packed = {key: _pack(value) for key, value in arrays.items()}
    writer = np.savez_compressed if compress else np.savez
    with atomic_path(path, overwrite) as tmp, open(tmp, "wb") as handle:
        writer(handle, **packed)


def _pack(value) -> np.ndarray:
    if isinstance(value, dict):
        return np.array(json.dumps(value, default=_json_default))
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"cannot store an object array without pickle: {value!r:.60}")
    return array


def _json_default(value):
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {value!r}")


def load_dataset(path: str | os.PathLike) -> dict:
    """Load and validate a dataset or rollouts file written by ``python -m pig_control.data``.

    Returns a dict of NumPy arrays (fully read into memory) plus the decoded metadata (plain
    ``str``, ``int``, ``float`` and, for ``params``, a ``dict``); ``kind`` is always present
    (``"dataset"`` or ``"rollouts"``).

    Raises:
        UserInputError: (a ValueError) the file is missing, not an ``.npz``, lacks a required
            key, or holds an array of the wrong dtype or shape. The message names the file and
            the problem.
    """
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path}: no such file")
    if path.is_dir():
        raise UserInputError(f"{path}: is a directory, not an .npz file")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise UserInputError(f"{path}: not an .npz archive (a single .npy array?)")
        with npz:
            data = {key: npz[key] for key in npz.files}
    except UserInputError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise UserInputError(f"{path}: not a readable .npz file ({safe_reason(error)})") from None

    for key, kind in METADATA.items():
        if key in data:
            data[key] = _unpack(path, key, data[key], kind)

    if "frames" in data:
        data.setdefault("kind", "rollouts")
        _check_rollouts(path, data)
    elif any(f"{split}_x" in data for split in SPLITS):
        data.setdefault("kind", "dataset")
        _check_dataset(path, data)
    else:
        raise UserInputError(
            f"{path}: missing keys: expected train_x, valid_x, test_x (a dataset) or frames, "
            f"actions, states (rollouts); found {', '.join(sorted(data)) or 'no arrays'}")
    return data


def _unpack(path: Path, key: str, array: np.ndarray, kind: type):
    if array.ndim != 0:
        raise UserInputError(f"{path}: '{key}' must be a 0-d array, got shape {array.shape}")
    value = array.item()
    try:
        if kind is dict:
            value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            return value
        return kind(value)
    except (TypeError, ValueError) as error:
        raise UserInputError(f"{path}: '{key}' is not a valid {kind.__name__}: {error}") from None


def _require(path: Path, data: dict, key: str, dtype, ndim: int | None = None) -> np.ndarray:
    if key not in data:
        raise UserInputError(f"{path}: missing key '{key}'")
    array = data[key]
    if array.dtype != np.dtype(dtype):
        raise UserInputError(f"{path}: '{key}' must be {np.dtype(dtype)}, got {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise UserInputError(
            f"{path}: '{key}' must have {ndim} dimensions, got shape {array.shape}")
    return array


def _check_images(path: Path, key: str, x: np.ndarray) -> None:
    if x.shape[-1] != 3 or x.shape[-2] != x.shape[-3] or x.shape[1] < 1:
        raise UserInputError(f"{path}: '{key}' must be (N, T, H, W, 3) with H = W and T >= 1, "
                             f"got shape {x.shape}")


def _check_dataset(path: Path, data: dict) -> None:
    image_shape = None
    state_shape = None
    for split in SPLITS:
        key = f"{split}_x"
        x = _require(path, data, key, np.uint8, ndim=5)
        _check_images(path, key, x)
        if image_shape is None:
            image_shape = x.shape[2:]
        elif x.shape[2:] != image_shape:
            raise UserInputError(f"{path}: '{key}' has frames {x.shape[2:]}, "
                                 f"but train_x has {image_shape}")
        skey = f"{split}_states"
        if skey in data:
            s = _require(path, data, skey, np.float32)
            if s.ndim < 3 or s.shape[:2] != x.shape[:2]:
                raise UserInputError(f"{path}: '{skey}' must be (N, T, ...) matching {key} "
                                     f"{x.shape[:2]}, got shape {s.shape}")
            if state_shape is None:
                state_shape = s.shape[2:]
            elif s.shape[2:] != state_shape:
                raise UserInputError(f"{path}: '{skey}' has states {s.shape[2:]}, "
                                     f"other splits have {state_shape}")
    if data["train_x"].shape[0] < 1:
        raise UserInputError(f"{path}: 'train_x' holds no sequences")


def _check_rollouts(path: Path, data: dict) -> None:
    frames = _require(path, data, "frames", np.uint8, ndim=5)
    _check_images(path, "frames", frames)
    n, t1 = frames.shape[:2]
    if t1 < 2:
        raise UserInputError(f"{path}: 'frames' must hold at least one step (T + 1 >= 2), "
                             f"got shape {frames.shape}")
    actions = _require(path, data, "actions", np.float32, ndim=3)
    if actions.shape[:2] != (n, t1 - 1):
        raise UserInputError(f"{path}: 'actions' must be (N, T, d) = ({n}, {t1 - 1}, d) "
                             f"to match frames {frames.shape[:2]}, got shape {actions.shape}")
    if actions.size and not np.all(np.abs(actions) <= 1.0):
        raise UserInputError(f"{path}: 'actions' must lie in [-1, 1]")
    states = _require(path, data, "states", np.float32)
    if states.ndim < 3 or states.shape[:2] != (n, t1):
        raise UserInputError(f"{path}: 'states' must be (N, T + 1, ...) = ({n}, {t1}, ...), "
                             f"got shape {states.shape}")
    for key, dtype in (("rewards", np.float32), ("is_success", np.bool_)):
        if key in data:
            array = _require(path, data, key, dtype)
            if array.shape != (n, t1 - 1):
                raise UserInputError(f"{path}: '{key}' must be (N, T) = ({n}, {t1 - 1}), "
                                     f"got shape {array.shape}")
