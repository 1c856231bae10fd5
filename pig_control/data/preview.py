"""A picture of a dataset: a grid of a few sequences, one row per sequence, one column per frame."""

from __future__ import annotations

import io
import os

import numpy as np

from pig_control.cli import atomic_write_bytes
from pig_control.errors import UserInputError


def montage(sequences: np.ndarray, gap: int = 1) -> np.ndarray:
    """Tile uint8 sequences ``(n, T, H, W, 3)`` into one image, rows = sequences, with grey gaps."""
    n, t, h, w, c = sequences.shape
    grid = np.full((n * (h + gap) - gap, t * (w + gap) - gap, c), 128, dtype=np.uint8)
    for i in range(n):
        for j in range(t):
            grid[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = sequences[i, j]
    return grid


def save_preview(data: dict, out: str | os.PathLike, *, split: str = "train",
                 sequences: int = 4, frames: int = 12, title: str | None = None,
                 overwrite: bool = False) -> np.ndarray:
    """Save a PNG grid of the first ``sequences`` sequences (``frames`` frames each) of ``data``.

    Args:
        data: a dict from :func:`pig_control.data.load_dataset` (dataset or rollouts).
        out: the PNG path (written atomically; the directory is created if missing).
        overwrite: replace ``out`` if it exists (otherwise refused).
        split: train, valid or test (datasets only; rollouts show ``frames``).
        sequences: rows in the grid (>= 1).
        frames: columns (>= 1); fewer if the sequences are shorter.
        title: figure title (default: scene, split and shape).

    Returns:
        the tiled uint8 image that was drawn.
    """
    if sequences < 1 or frames < 1:
        raise UserInputError("--sequences and --frames must be at least 1")
    key = "frames" if data.get("kind") == "rollouts" else f"{split}_x"
    if key not in data:
        raise UserInputError(f"no split {split!r} in this file")
    x = data[key]
    if len(x) == 0:
        raise UserInputError(f"split {split!r} holds no sequences")
    shown = x[:sequences, :frames]
    grid = montage(shown)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if title is None:
        scene = data.get("scene", "dataset")
        title = f"{scene}, {key}: {x.shape[0]} sequences of {x.shape[1]} frames " \
                f"({x.shape[2]}x{x.shape[3]}); rows = sequences, columns = time"
    width = max(4.0, min(16.0, grid.shape[1] / 24))
    fig = Figure(figsize=(width, width * grid.shape[0] / grid.shape[1] + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.96 - 0.5 / fig.get_figheight()))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.05)
    atomic_write_bytes(out, buffer.getvalue(), overwrite)
    return grid
