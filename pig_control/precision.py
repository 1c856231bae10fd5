"""One numerical setting for every device: full float32 arithmetic and deterministic kernels.

PyTorch's CUDA defaults differ from its CPU arithmetic in two ways that matter here. cuDNN
convolutions may use TF32 (a 10-bit mantissa, about 1e-3 relative error) unless told not to,
and matrix products do too once anything sets ``torch.set_float32_matmul_precision("high")``;
with ``cudnn.benchmark`` the convolution algorithm is chosen by timing, so two runs need not
use the same one. The encoder's positions are a weighted mean over every pixel of a 64 x 64
frame: a 1e-3 relative error there is a few hundredths of a pixel, the size of encoder error
that already biases the spring constant by several per cent (:mod:`pig_control.identify`), and
a different convolution algorithm sends a training run down another path. :func:`configure`
turns all of that off, so a GPU run computes what the CPU run computes up to rounding order.
"""

from __future__ import annotations

import torch


def configure() -> None:
    """IEEE float32 matrix products and convolutions (no TF32) and deterministic cuDNN
    algorithm choice, process-wide; harmless on a machine without CUDA."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def is_configured() -> bool:
    """Whether :func:`configure`'s settings hold (something may have changed them since)."""
    return (not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
            and torch.get_float32_matmul_precision() == "highest"
            and not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic)
