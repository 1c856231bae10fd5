"""Encoder: frames -> object positions in pixels, through a U-Net that segments the objects.

The U-Net gives one logit map per object. Two ways to turn them into positions:

- ``dense`` (the paper): a constant background logit is appended, a softmax over the N + 1
  channels gives masks, and a dense network on mask x image gives each object's coordinates.
- ``centroid`` (ours, the default): the scene's static background is known from the data (the
  per-pixel median of training frames, set with :meth:`Encoder.set_background`), so each pixel's
  foreground weight is how far it is from the background; a softmax over the N object logits
  shares every foreground pixel among the objects, and an object's position is the centre of mass
  of its share. Coordinates are pixels by construction and need no extra weights. The shares are
  trained directly by a segmentation loss (:meth:`Encoder.segment`): each object has a learned
  colour, and the frame must be recovered as background where there is no foreground and as the
  objects' colours, mixed by their shares, where there is. That gives the U-Net a dense signal
  from the first step, so finding the objects no longer depends on a lucky seed.
- ``colour`` (one object): the object is told apart from everything else that moves (its
  reflection in a floor, its shadow, thin parts blended into the floor) by its hue. A linear
  score of a pixel's colour change from the static background is learned from the training
  frames (:func:`fit_object_colour`, set with :meth:`Encoder.set_colour_model`): the
  foreground pixels' colours are clustered, the cluster farthest from the background's mean
  colour is the object's, and Fisher's discriminant between its pixels and the background's,
  in the chromaticity plane (brightness removed: shading, reflections and shadows change
  brightness more than hue), gives the direction. The position is the centroid of the score's
  positive part. No network is involved. With two objects of that one colour, a body and a
  thin rod (a cart and its pole), the body is what survives a morphological opening of the
  score's mask with a ``colour_split`` pixel square (erosion then dilation: a rod narrower
  than the square vanishes, a body wider than it keeps its shape) and the rod is the rest:
  object 0 is the centroid of the thick part, object 1 of the thin part.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Colour distance (RGB in [0, 1]) below which a pixel is background: small deviations (a
#: decoder's imperfect background, compression noise) must not pull every centroid inwards.
FOREGROUND_THRESHOLD = 0.05
#: Colour distance beyond the threshold at which a pixel counts as about 63 % foreground.
FOREGROUND_SCALE = 0.1


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
                 localizer: str = "centroid", colour_split: int = 3):
        super().__init__()
        self.n_objects, self.image_size, self.localizer = n_objects, image_size, localizer
        self.colour_split = int(colour_split)
        self.unet = ShallowUNet(n_objects, channels)
        x, y = pixel_grid(image_size)
        self.register_buffer("grid", torch.stack([x, y]).reshape(2, -1), persistent=False)
        self.register_buffer("background", torch.zeros(3, image_size, image_size))
        self.colour_logits = nn.Parameter(torch.randn(n_objects, 3))
        if localizer == "colour":  # (checkpoints of the other localizers have no such buffers)
            if n_objects not in (1, 2):
                raise ValueError(f"the colour localizer finds one or two objects (a body and a "
                                 f"thin rod), not {n_objects}")
            # score = (pixel - background) . colour_weights + colour_bias (fit_object_colour)
            self.register_buffer("colour_weights", torch.zeros(3))
            self.register_buffer("colour_bias", torch.zeros(()))
        if localizer == "dense":
            pooled = image_size // 2 if image_size >= 40 else image_size
            self.pool = image_size >= 40
            self.dense = nn.Sequential(
                nn.Linear(3 * pooled * pooled, 200), nn.ReLU(),
                nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 2))

    def set_background(self, background: torch.Tensor) -> None:
        """The scene's static background (3, H, W) in [0, 1], e.g. a per-pixel median of frames."""
        self.background.copy_(background)

    def set_colour_model(self, weights: torch.Tensor, bias: float) -> None:
        """The object's colour score (``colour`` localizer): ``weights`` (3,) on the colour
        change from the background, plus ``bias``."""
        self.colour_weights.copy_(weights)
        self.colour_bias.fill_(float(bias))

    def colour_score(self, frames: torch.Tensor) -> torch.Tensor:
        """The positive part of the object's colour score, (B, 1, H, W):
        ``relu((frame - background) . weights + bias)``."""
        change = frames - self.background
        score = torch.einsum("bchw,c->bhw", change, self.colour_weights) + self.colour_bias
        return torch.relu(score).unsqueeze(1)

    def colour_parts(self, frames: torch.Tensor) -> torch.Tensor:
        """The colour score split by thickness, (B, 2, H, W): the score where the binary mask
        ``score > 1/2`` survives an opening with a ``colour_split`` square, grown by a pixel
        to take in the body's anti-aliased border (the body), then the rest (the rod). The
        mask is binary because an anti-aliased rod's faint edge rows would survive a
        grey-level opening at their faint level and pull part of the rod into the body."""
        score = self.colour_score(frames)
        mask = (score > 0.5).to(score.dtype)
        k = self.colour_split
        eroded = -F.max_pool2d(-mask, k, stride=1, padding=k // 2)
        body = score * F.max_pool2d(eroded, k + 2, stride=1, padding=k // 2 + 1)
        return torch.cat([body, score - body], 1)

    def foreground(self, frames: torch.Tensor) -> torch.Tensor:
        """How much each pixel differs from the background, in [0, 1): (B, 1, H, W)."""
        distance2 = ((frames - self.background) ** 2).sum(1, keepdim=True)
        excess = torch.relu(distance2 - FOREGROUND_THRESHOLD**2)
        return 1.0 - torch.exp(-excess / FOREGROUND_SCALE**2)

    def masks(self, frames: torch.Tensor) -> torch.Tensor:
        """Soft segmentation (B, n_objects + 1, H, W); the last channel is the background."""
        if self.localizer == "colour":
            if self.n_objects == 2:
                parts = self.colour_parts(frames).clamp(max=1.0)
                return torch.cat([parts, 1.0 - parts.sum(1, keepdim=True).clamp(max=1.0)], 1)
            share = self.colour_score(frames).clamp(max=1.0)
            return torch.cat([share, 1.0 - share], 1)
        logits = self.unet(frames)
        if self.localizer == "centroid":
            shares = torch.softmax(logits, dim=1) * self.foreground(frames)
            return torch.cat([shares, 1.0 - shares.sum(1, keepdim=True)], 1)
        background = torch.zeros_like(logits[:, :1])
        return torch.softmax(torch.cat([logits, background], 1), dim=1)

    def _positions(self, frames: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        objects = masks[:, : self.n_objects]
        if self.localizer == "colour":  # unclipped: the centroids' weights
            objects = (self.colour_parts(frames) if self.n_objects == 2
                       else self.colour_score(frames))
        if self.localizer in ("centroid", "colour"):
            flat = objects.flatten(2) + 1e-6  # (B, n, HW); an empty frame gives the centre
            weights = flat / flat.sum(-1, keepdim=True)
            return torch.einsum("bnp,cp->bnc", weights, self.grid)
        masked = objects.unsqueeze(2) * frames.unsqueeze(1)  # (B, n, 3, H, W)
        b, n = masked.shape[:2]
        masked = masked.flatten(0, 1)
        if self.pool:
            masked = F.avg_pool2d(masked, 2)
        out = torch.tanh(self.dense(masked.flatten(1))).view(b, n, 2)
        return (out + 1.0) / 2.0 * self.image_size

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self._positions(frames, self.masks(frames))

    def segment(self, frames: torch.Tensor):
        """Positions (B, n, 2); the segmentation's rendering of the frames (B, 3, H, W):
        background where there is no foreground, the objects' learned colours where there is;
        and each object's share of the frame's foreground (B, n), which sums to 1."""
        masks = self.masks(frames)
        colours = torch.sigmoid(self.colour_logits)[None, :, :, None, None]
        objects = (masks[:, : self.n_objects].unsqueeze(2) * colours).sum(1)
        rendering = objects + masks[:, -1:] * self.background
        mass = masks[:, : self.n_objects].sum((-2, -1)) + 1e-6
        return self._positions(frames, masks), rendering, mass / mass.sum(-1, keepdim=True)


def fit_object_colour(frames: torch.Tensor, background: torch.Tensor, clusters: int = 4,
                      threshold: float = 0.1, margin: float = 0.15, iterations: int = 30,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, float]:
    """The ``colour`` localizer's score (weights (3,), bias) learned from frames (N, 3, H, W)
    in [0, 1] and their static background (3, H, W).

    Foreground pixels (farther than ``threshold`` from the background, RGB distance) are
    clustered by colour (k-means, ``clusters`` centres); the cluster farthest from the
    background's mean colour (among those holding at least 5 % of them) is the object's.
    Fisher's discriminant between its pixels and the
    background's pixels, both in the chromaticity plane (each colour minus its mean over R, G,
    B), gives the weights, scaled so that the change from the background's mean colour to the
    object's scores 1; the bias ``-margin`` leaves small hue changes (a reflection, the floor
    showing through) out.
    """
    pixels = frames.permute(0, 2, 3, 1).reshape(-1, 3)
    distance = (frames - background).square().sum(1).sqrt().reshape(-1)
    colours = pixels[distance > threshold]
    if len(colours) < clusters:
        raise ValueError("too few pixels differ from the background to learn a colour")
    generator = generator or torch.Generator().manual_seed(0)
    centres = colours[torch.randperm(len(colours), generator=generator)[:clusters]].clone()
    for _ in range(iterations):
        assigned = torch.cdist(colours, centres).argmin(1)
        centres = torch.stack([colours[assigned == j].mean(0) if (assigned == j).any()
                               else centres[j] for j in range(clusters)])
    scenery = background.permute(1, 2, 0).reshape(-1, 3)
    counts = torch.bincount(assigned, minlength=clusters)
    distance_out = (centres - scenery.mean(0)).norm(dim=1)
    distance_out[counts < max(2, 0.05 * len(colours))] = -1.0  # not a stray handful of pixels
    salient = int(distance_out.argmax())
    own = colours[assigned == salient]

    def chroma(x: torch.Tensor) -> torch.Tensor:
        return x - x.mean(-1, keepdim=True)

    spread = torch.cov(chroma(own).T) + torch.cov(chroma(scenery).T) + 1e-4 * torch.eye(3)
    direction = torch.linalg.solve(spread, chroma(own).mean(0) - chroma(scenery).mean(0))
    direction = direction - direction.mean()  # blind to brightness: (1, 1, 1) scores 0
    step = float((own.mean(0) - scenery.mean(0)) @ direction)
    if not step > 0:
        raise ValueError("the object's colour cannot be told from the background's")
    return direction / step, -float(margin)
