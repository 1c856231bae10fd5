"""Vectorised, anti-aliased, sub-pixel accurate renderers (NumPy broadcasting, float32).

Pixel convention (docs/api-envs.md): pixel column ``j`` covers ``[j, j + 1)``; its centre is
``j + 0.5``. An object at continuous ``x`` is drawn with its intensity centred on ``x``, so its
intensity centroid computed with pixel centres ``j + 0.5`` is ``x``.

Every renderer takes positions with any number of leading batch dimensions and returns float32
images in ``[0, 1]`` of shape ``(..., H, W, 3)``; :func:`to_uint8` converts to the observation
format.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray

#: One pure RGB channel per ball, as in the original generators: red, green, blue.
BALL_COLOURS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)


def pixel_centres(size: int) -> Array:
    """Pixel-centre coordinates ``j + 0.5`` for ``j = 0 .. size - 1`` (float32)."""
    return np.arange(size, dtype=np.float32) + np.float32(0.5)


def to_uint8(img: Array) -> Array:
    """Float image in ``[0, 1]`` to uint8 in ``[0, 255]`` (rounded)."""
    out = np.clip(img, 0.0, 1.0) * np.float32(255.0)
    out += np.float32(0.5)
    return out.astype(np.uint8, order="C")


def disc_coverage(pos: Array, radius: float, size: int) -> Array:
    """Anti-aliased discs: coverage ``clip(radius + 0.5 - d, 0, 1)`` per object.

    ``d`` is the distance from a pixel centre to the object's centre. The profile is radially
    symmetric, so the sampled centroid is within about 0.03 px of the true position (tested).

    Args:
        pos: ``(..., n, 2)`` positions (x = column, y = row) in pixels.
        radius: disc radius in pixels.
        size: image height = width in pixels.

    Returns:
        float32 coverage ``(..., n, H, W)`` in ``[0, 1]``.
    """
    c = pixel_centres(size)
    p = np.asarray(pos, dtype=np.float32)
    dx = c - p[..., 0:1]  # (..., n, W)
    dy = c - p[..., 1:2]  # (..., n, H)
    d2 = dy[..., :, None] * dy[..., :, None] + dx[..., None, :] * dx[..., None, :]
    cov = np.float32(radius + 0.5) - np.sqrt(d2)
    return np.clip(cov, 0.0, 1.0, out=cov)


def segment_coverage(a: Array, b: Array, width: float, size: int) -> Array:
    """Anti-aliased line segments from ``a`` to ``b`` (each ``(..., 2)``) of the given width.

    Returns float32 coverage ``(..., H, W)``: ``clip(width / 2 + 0.5 - d, 0, 1)`` with ``d``
    the distance from the pixel centre to the segment.
    """
    c = pixel_centres(size)
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    ab = b - a
    len2 = np.maximum(np.sum(ab * ab, axis=-1), np.float32(1e-12))[..., None, None]
    px = c[None, :] - a[..., 0, None, None]  # (..., 1, W)
    py = c[:, None] - a[..., 1, None, None]  # (..., H, 1)
    t = (px * ab[..., 0, None, None] + py * ab[..., 1, None, None]) / len2
    t = np.clip(t, 0.0, 1.0)
    ex = px - t * ab[..., 0, None, None]
    ey = py - t * ab[..., 1, None, None]
    cov = np.float32(width / 2 + 0.5) - np.sqrt(ex * ex + ey * ey)
    return np.clip(cov, 0.0, 1.0, out=cov)


def composite_additive(coverage: Array, colours: Array) -> Array:
    """Colour each object's coverage and add them, clipped to 1.

    ``(..., n, H, W), (n, 3) -> (..., H, W, 3)``.

    With one pure channel per object (:data:`BALL_COLOURS`) this equals a per-channel maximum,
    so overlapping balls never change each other's channel.
    """
    cov = np.asarray(coverage, dtype=np.float32)
    lead, (n, h, w) = cov.shape[:-3], cov.shape[-3:]
    # Channel-first matrix product (fast), then a channel-last view.
    img = np.asarray(colours, dtype=np.float32).T @ cov.reshape(lead + (n, h * w))
    img = np.clip(img, 0.0, 1.0, out=img).reshape(lead + (3, h, w))
    return np.moveaxis(img, -3, -1)


def render_balls(pos: Array, radius: float, size: int, colours: Array = BALL_COLOURS) -> Array:
    """Anti-aliased coloured balls on black: ``(..., n, 2) -> float32 (..., H, W, 3)``."""
    n = np.shape(pos)[-2]
    return composite_additive(disc_coverage(pos, radius, size), colours[:n])


def tent_matrix(offset: Array, size: int, patch: int) -> Array:
    """Bilinear (tent) resampling weights that place a patch at a continuous offset.

    Row ``i`` of the output samples the patch at continuous patch index ``i - offset``: the
    weight of patch sample ``u`` is ``max(0, 1 - |u - (i - offset)|)``, zero outside the patch.
    The tent kernel reproduces linear functions, so a patch moved this way keeps its intensity
    centroid exactly (shifted by ``offset``) as long as it stays inside the image.

    Args:
        offset: ``(...)`` continuous offsets in pixels.
        size: output length.
        patch: patch length.

    Returns:
        float32 weights ``(..., size, patch)``.
    """
    i = np.arange(size, dtype=np.float32)[:, None]
    u = np.arange(patch, dtype=np.float32)[None, :]
    off = np.asarray(offset, dtype=np.float32)[..., None, None]
    w = np.float32(1.0) - np.abs(u - (i - off))
    return np.maximum(w, 0.0, out=w)


def place_patches(patches: Array, pos: Array, size: int) -> Array:
    """Place per-object square patches with their centre at sub-pixel positions.

    The patch centre (``P / 2`` in patch pixel units, with patch pixel centres at ``u + 0.5``)
    lands on ``pos``; sampling is bilinear with zeros outside the patch, done as two small
    matrix products (separable tent weights), so it vectorises over any batch.

    Args:
        patches: ``(n, P, P)`` float patches (e.g. digit intensities in ``[0, 1]``).
        pos: ``(..., n, 2)`` positions (x = column, y = row) in pixels.
        size: output image size.

    Returns:
        float32 ``(..., n, H, W)``.
    """
    patches = np.asarray(patches, dtype=np.float32)
    p = patches.shape[-1]
    pos = np.asarray(pos, dtype=np.float32)
    # Output pixel centre i + 0.5 meets patch pixel centre u + 0.5 - P/2 + pos when
    # u = i - (pos - P/2).
    wy = tent_matrix(pos[..., 1] - p / 2.0, size, p)  # (..., n, H, P)
    wx = tent_matrix(pos[..., 0] - p / 2.0, size, p)  # (..., n, W, P)
    return wy @ patches @ np.swapaxes(wx, -1, -2)
