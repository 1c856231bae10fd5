"""Image and position errors, as the paper measures them.

Frames are float tensors (..., 3, H, W) with values in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def frame_sse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared pixel error summed over each frame: (..., 3, H, W) -> (...)."""
    return ((prediction - target) ** 2).sum((-3, -2, -1))


def position_sse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared position error summed over objects and axes, px^2: (..., n, 2) -> (...)."""
    return ((prediction - target) ** 2).sum((-2, -1))


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per frame (peak 1.0): (..., 3, H, W) -> (...)."""
    mse = ((prediction - target) ** 2).mean((-3, -2, -1)).clamp_min(1e-10)
    return -10.0 * torch.log10(mse)


def ssim(prediction: torch.Tensor, target: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Structural similarity per frame with a uniform ``window`` (as scikit-image's default),
    averaged over channels and pixels: (..., 3, H, W) -> (...)."""
    shape = prediction.shape[:-3]
    x = prediction.reshape(-1, *prediction.shape[-3:])
    y = target.reshape(-1, *target.shape[-3:])
    c1, c2 = 0.01**2, 0.03**2

    def blur(z):
        return F.avg_pool2d(z, window, stride=1)

    n = window * window
    correction = n / (n - 1)  # sample covariance, as scikit-image
    mx, my = blur(x), blur(y)
    vx = (blur(x * x) - mx * mx) * correction
    vy = (blur(y * y) - my * my) * correction
    cov = (blur(x * y) - mx * my) * correction
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.mean((-3, -2, -1)).reshape(shape)
