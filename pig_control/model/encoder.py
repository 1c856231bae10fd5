"""Encoder: frames -> object positions in pixels, through a U-Net that segments the objects.

The U-Net gives one logit map per object; a constant background logit is appended and a softmax
over the N + 1 channels gives masks. Each object's position comes from its mask, either as the
mask's centre of mass (``centroid``: no extra weights, coordinates exact by construction) or, as in
the paper, from a dense network on mask x image (``dense``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(),
    )


class ShallowUNet(nn.Module):
    """A two-level U-Net: (B, 3, H, W) -> (B, n_out, H, W) logits. H, W must be even."""

    def __init__(self, n_out: int, channels: int = 8):
        super().__init__()
        c = channels
        self.down1 = _block(3, c)
        self.down2 = _block(c, 2 * c)
        self.bottom = _block(2 * c, 4 * c)
        self.up2 = _block(4 * c + 2 * c, 2 * c)
        self.up1 = _block(2 * c + c, c)
        self.head = nn.Conv2d(c, n_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(F.avg_pool2d(d1, 2))
        b = self.bottom(F.avg_pool2d(d2, 2))
        u2 = self.up2(torch.cat([F.interpolate(b, scale_factor=2.0), d2], 1))
        u1 = self.up1(torch.cat([F.interpolate(u2, scale_factor=2.0), d1], 1))
        return self.head(u1)


def pixel_grid(size: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates (x = column + 0.5, y = row + 0.5), each (size, size)."""
    centres = torch.arange(size, dtype=torch.float32, device=device) + 0.5
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    return x, y


class Encoder(nn.Module):
    """Frames (B, 3, H, W) in [0, 1] -> positions (B, n_objects, 2) in pixels (x, y).

    Args:
        n_objects: objects to find.
        image_size: H = W, pixels.
        channels: U-Net base channels.
        localizer: ``centroid`` or ``dense`` (see module docstring).
    """

    def __init__(self, n_objects: int, image_size: int, channels: int = 8,
                 localizer: str = "centroid"):
        super().__init__()
        self.n_objects, self.image_size, self.localizer = n_objects, image_size, localizer
        self.unet = ShallowUNet(n_objects, channels)
        x, y = pixel_grid(image_size)
        self.register_buffer("grid", torch.stack([x, y]).reshape(2, -1), persistent=False)
        if localizer == "dense":
            pooled = image_size // 2 if image_size >= 40 else image_size
            self.pool = image_size >= 40
            self.dense = nn.Sequential(
                nn.Linear(3 * pooled * pooled, 200), nn.ReLU(),
                nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 2))

    def masks(self, frames: torch.Tensor) -> torch.Tensor:
        """Soft segmentation (B, n_objects + 1, H, W); the last channel is the background."""
        logits = self.unet(frames)
        background = torch.zeros_like(logits[:, :1])
        return torch.softmax(torch.cat([logits, background], 1), dim=1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        masks = self.masks(frames)[:, : self.n_objects]
        if self.localizer == "centroid":
            flat = masks.flatten(2)  # (B, n, HW)
            weights = flat / flat.sum(-1, keepdim=True).clamp_min(1e-6)
            return torch.einsum("bnp,cp->bnc", weights, self.grid)
        masked = masks.unsqueeze(2) * frames.unsqueeze(1)  # (B, n, 3, H, W)
        b, n = masked.shape[:2]
        masked = masked.flatten(0, 1)
        if self.pool:
            masked = F.avg_pool2d(masked, 2)
        out = torch.tanh(self.dense(masked.flatten(1))).view(b, n, 2)
        return (out + 1.0) / 2.0 * self.image_size
