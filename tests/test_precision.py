"""The GPU path computes what the CPU computes: no TF32 and deterministic cuDNN wherever a model
is trained or loaded, and the trajectory fit in float64 whatever the device."""

from __future__ import annotations

import torch

from pig_control import precision
from pig_control.api import PRETRAINED_DIR
from pig_control.identify import FIT_DTYPE, TrajectoryFit
from pig_control.systems import resolve_system


def SpringCell(n_objects: int, dt: float):  # noqa: N802 - reads as the class it builds
    """The spring system of two balls, as training builds it."""
    return resolve_system("spring")(n_objects, dt=dt)


def allow_tf32() -> None:
    """What a user's script or another library may have set before."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = False


def test_loading_a_model_turns_tf32_and_cudnn_autotuning_off():
    from pig_control.checkpoint import load_model

    allow_tf32()
    assert not precision.is_configured()
    load_model(PRETRAINED_DIR / "spring_control.pt")
    assert precision.is_configured()
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


def test_training_turns_tf32_and_cudnn_autotuning_off(tmp_path):
    from pig_control.config import load_config
    from pig_control.data.generate import generate_dataset
    from pig_control.train import Trainer

    allow_tf32()
    data = generate_dataset("spring", n_train=4, n_valid=1, n_test=1, seed=0)
    Trainer(load_config("spring", []), data, tmp_path)
    assert precision.is_configured()


def spring_chunks(k: float = 4.0, l: float = 6.0, chunks: int = 6, frames: int = 12):
    """Noise-free spring trajectories (C, T, 2, 2) in px from the cell itself, float32."""
    cell = SpringCell(2, dt=0.3)
    cell.set_param("k", k)
    cell.set_param("l", l)
    generator = torch.Generator().manual_seed(0)
    pos = 16 + 6 * torch.rand(chunks, 2, 2, generator=generator)
    vel = 2 * torch.randn(chunks, 2, 2, generator=generator)
    out = [pos]
    with torch.no_grad():
        for _ in range(frames - 1):
            pos, vel = cell(pos, vel)
            out.append(pos)
    return torch.stack(out, 1).float()


def test_the_trajectory_fit_runs_in_float64_and_trains_float32_parameters():
    positions = spring_chunks()
    fit = TrajectoryFit(positions, None, dt=0.3)
    assert fit.positions.dtype == fit.start_positions.dtype == FIT_DTYPE == torch.float64
    cell = SpringCell(2, dt=0.3)
    loss = fit.loss(cell)
    assert loss.dtype == torch.float64
    loss.backward()
    assert cell.log_params.dtype == torch.float32
    assert cell.log_params.grad is not None and torch.all(cell.log_params.grad != 0)


def test_a_float64_fit_from_float32_positions_finds_the_spring():
    positions = spring_chunks()
    fit = TrajectoryFit(positions, None, dt=0.3, lr=0.05)
    cell = SpringCell(2, dt=0.3)
    cell.set_param("k", 3.0)
    cell.set_param("l", 5.0)
    optimizer = torch.optim.Adam(cell.parameters(), lr=0.02)
    for step in range(400):
        loss = fit.loss(cell, min(12, 3 + step // 20))
        fit.zero_grad()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        fit.step()
    assert abs(cell.params["k"] - 4.0) < 0.04 and abs(cell.params["l"] - 6.0) < 0.06
