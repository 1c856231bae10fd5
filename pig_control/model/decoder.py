"""Coordinate-consistent decoder: object positions in pixels -> a frame.

Each object has a learned template (mask logits) and content (colours) of ``template_size``
pixels. A spatial transformer (``F.affine_grid`` / ``F.grid_sample``) places them so that the
template's centre lands exactly on the object's coordinates, one template pixel per image pixel
times a learned scale; a learned background content fills the rest. Masks are a softmax over the
object logits and a constant background logit, and the frame is the sum of mask x content. Because
the placement is a fixed function of the coordinates, the coordinates mean pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Logit given to pixels outside a template (far below the background logit 0).
_OUTSIDE_LOGIT = 12.0


class Decoder(nn.Module):
    """Positions (B, n_objects, 2) in pixels -> frames (B, 3, H, W) in [0, 1].

    Args:
        n_objects: objects to draw.
        image_size: H = W, pixels.
        template_size: side of each object's template, pixels.
    """

    def __init__(self, n_objects: int, image_size: int, template_size: int):
        super().__init__()
        self.n_objects, self.image_size, self.template_size = n_objects, image_size, template_size
        t = template_size
        # A centred blob as the starting template helps the encoder and decoder agree early.
        c = torch.arange(t, dtype=torch.float32) - (t - 1) / 2
        blob = -(c[None, :] ** 2 + c[:, None] ** 2) / (t / 4) ** 2 * 4 + 2
        self.mask_logits = nn.Parameter(blob.expand(n_objects, 1, t, t).clone())
        self.content_logits = nn.Parameter(0.1 * torch.randn(n_objects, 3, t, t))
        self.background_logits = nn.Parameter(torch.full((1, 3, image_size, image_size), -4.0))
        self.log_scale = nn.Parameter(torch.zeros(()))

    def placement(self, positions: torch.Tensor) -> torch.Tensor:
        """Affine matrices (B * n, 2, 3) that sample a template centred at ``positions``.

        Output pixel x (continuous, pixel centres at j + 0.5) reads template coordinate
        (x - position) * scale, so in grid_sample's normalised coordinates
        u_template = u_image * S / (t * s) + (S / 2 - position) * 2 / (t * s).
        """
        s, t = self.image_size, self.template_size
        scale = torch.exp(self.log_scale)
        flat = positions.reshape(-1, 2)
        theta = flat.new_zeros(flat.shape[0], 2, 3)
        theta[:, 0, 0] = s / (t * scale)
        theta[:, 1, 1] = s / (t * scale)
        theta[:, :, 2] = (s / 2 - flat) * 2 / (t * scale)
        return theta

    def layers(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-layer masks (B, n + 1, 1, H, W) and contents (B, n + 1, 3, H, W); the last layer
        is the background."""
        b, n = positions.shape[:2]
        s = self.image_size
        theta = self.placement(positions)
        grid = F.affine_grid(theta, (b * n, 1, s, s), align_corners=False)
        templates = torch.cat([self.mask_logits + _OUTSIDE_LOGIT, self.content_logits], 1)
        templates = templates.unsqueeze(0).expand(b, -1, -1, -1, -1)
        templates = templates.reshape(b * n, 4, *templates.shape[-2:])
        placed = F.grid_sample(templates, grid, align_corners=False, padding_mode="zeros")
        placed = placed.view(b, n, 4, s, s)
        logits = placed[:, :, :1] - _OUTSIDE_LOGIT
        logits = torch.cat([logits, logits.new_zeros(b, 1, 1, s, s)], 1)
        masks = torch.softmax(logits, dim=1)
        contents = torch.sigmoid(placed[:, :, 1:])
        background = torch.sigmoid(self.background_logits).expand(b, -1, -1, -1).unsqueeze(1)
        return masks, torch.cat([contents, background], 1)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        masks, contents = self.layers(positions)
        return (masks * contents).sum(1)
