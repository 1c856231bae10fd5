"""The PIG model's parts against the world they describe: physics cells against the scenes' true
physics, the decoder's placement against its coordinates, the action's gain, set_param.

Small tensors only: each test runs in well under a second on one CPU core.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import envs
from pig_control.config import load_config
from pig_control.model.decoder import Decoder, fit_positions
from pig_control.model.encoder import pixel_grid
from pig_control.model.pig import PIGModel
from pig_control.systems import SYSTEMS
from pig_control.systems.balls import FreeBalls, GravityBalls, SpringBalls

torch.set_num_threads(1)

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pig_control" / "pretrained"
#: scene -> (cell name, extra cell arguments)
SCENE_CELLS = {"spring": ("spring", {}), "gravity": ("gravity", {}),
               "bouncing": ("free", {"walls": True})}
FRAMES = 12


def make_cell(scene, substeps: int, dtype=torch.float64, **extra):
    """The scene's cell with the scene's true parameters, dt, walls and image size."""
    name, kwargs = SCENE_CELLS[scene.name]
    cell = SYSTEMS[name](scene.n_objects, scene.dt, substeps, image_size=scene.image_size,
                       wall_margin=scene.margin, **{**kwargs, **extra}).to(dtype)
    for key, value in scene.params.items():
        if key in cell.param_names:
            cell.set_param(key, value)
    return cell


def start_states(scene, n: int = 16) -> np.ndarray:
    """Start states as the datasets draw them (spring and gravity: no wall contact later)."""
    rng = np.random.default_rng(0)
    if scene.reject_wall_contact:
        return scene.sample_sequences(rng, n, FRAMES)[:, 0]
    return scene.sample_states(rng, n)


def roll_cell(cell, states: np.ndarray, frames: int, dtype=torch.float64, actions=None):
    """Cell rollout from ``states`` (B, n, 4): positions (B, frames, n, 2) after the start."""
    pos = torch.tensor(states[..., :2], dtype=dtype)
    vel = torch.tensor(states[..., 2:], dtype=dtype)
    out = []
    with torch.no_grad():
        for t in range(frames):
            action = None if actions is None else torch.tensor(actions[:, t], dtype=dtype)
            pos, vel = cell(pos, vel, action)
            out.append(pos)
    return torch.stack(out, 1).numpy()


def max_error_px(scene_name: str, substeps: int, dtype=torch.float64) -> float:
    scene = envs.make_scene(scene_name, actuated=False)
    states = start_states(scene)
    truth = scene.simulate(states, np.zeros((len(states), FRAMES - 1, scene.action_dim)))
    predicted = roll_cell(make_cell(scene, substeps, dtype), states, FRAMES - 1, dtype)
    return float(np.linalg.norm(predicted - truth[:, 1:, :, :2], axis=-1).max())


# ---- physics cells against the true physics ------------------------------------------------
@pytest.mark.parametrize("scene_name", ["spring", "gravity", "bouncing"])
def test_cell_with_true_parameters_and_10_substeps_matches_the_scene(scene_name):
    # Same law, same integrator, same substeps as the generator: only rounding differs.
    assert max_error_px(scene_name, substeps=10) < 1e-3
    # ... also in float32, the precision the model trains in.
    assert max_error_px(scene_name, substeps=10, dtype=torch.float32) < 1e-3


@pytest.mark.parametrize("scene_name, bound", [("spring", 0.5), ("gravity", 0.2),
                                               ("bouncing", 1e-6)])
def test_cell_default_5_substeps_is_close_to_the_scene(scene_name, bound):
    """The paper's cells use 5 substeps, the generators 10: a discretisation gap the learned
    parameters absorb. Measured over 12 frames on 16 dataset sequences (seed 0): spring at most
    0.36 px, gravity 0.11 px; free flight (bounces included) is exact."""
    assert max_error_px(scene_name, substeps=5) < bound


def test_spring_cell_force_is_equal_and_opposite_and_zero_at_rest_length():
    cell = SpringBalls(2, 0.3, 5)
    cell.set_param("k", 4.0)
    cell.set_param("l", 6.0)
    pos = torch.tensor([[[10.0, 16.0], [22.0, 16.0]], [[10.0, 16.0], [25.0, 12.0]]])
    acc = cell.acceleration(pos, torch.zeros_like(pos))
    assert torch.allclose(acc[0], torch.zeros(2, 2), atol=1e-5)  # 12 px apart: rest length 2 l
    assert torch.allclose(acc[1, 0], -acc[1, 1])
    stretched = (pos[1, 1] - pos[1, 0]).norm() - 12.0
    assert torch.allclose(acc[1, 0].norm(), 4.0 * stretched)


def test_gravity_cell_fixes_m_and_learns_g():
    cell = GravityBalls(3, 0.5, 5)
    assert cell.param_names == ("g",) and cell.fixed_params == {"m": 1.0}
    pos = torch.tensor([[[10.0, 10.0], [20.0, 10.0], [10.0, 30.0]]])
    a1 = cell.acceleration(pos, torch.zeros_like(pos))
    cell.set_param("g", 60.0)
    assert torch.allclose(cell.acceleration(pos, torch.zeros_like(pos)), 60.0 * a1, rtol=1e-5)
    assert torch.allclose(a1.sum(1), torch.zeros(1, 2), atol=1e-6)  # momentum is conserved


# ---- actions -------------------------------------------------------------------------------
def test_action_enters_as_gain_times_action_at_every_substep():
    dt, n = 0.3, 5
    cell = FreeBalls(2, dt, n, action_dim=2, actuated_objects=[0])
    with torch.no_grad():
        cell.log_gain.fill_(math.log(5.0))
    pos, vel = torch.full((1, 2, 2), 16.0), torch.zeros(1, 2, 2)
    action = torch.tensor([[0.6, -1.0]])
    new_pos, new_vel = cell(pos, vel, action)
    h, push = dt / n, 5.0 * action[0]
    # Euler from rest under constant push: v = n h a, x = h^2 a (1 + 2 + ... + n).
    assert torch.allclose(new_vel[0, 0], n * h * push, atol=1e-6)
    assert torch.allclose(new_pos[0, 0], 16.0 + h * h * push * n * (n + 1) / 2, atol=1e-6)
    assert torch.equal(new_pos[0, 1], pos[0, 1]) and torch.equal(new_vel[0, 1], vel[0, 1])
    # No action (or a cell without actions) ignores the push entirely.
    assert torch.equal(cell(pos, vel, None)[0], pos)


def test_actuated_cell_with_true_gain_matches_the_actuated_scene():
    """The actuated spring scene pushes ball 0 with max_accel x action (zero-order hold): the
    cell with gain = max_accel, the true k and l, 10 substeps and the walls reproduces it."""
    scene = envs.make_scene("spring", actuated=True)
    rng = np.random.default_rng(1)
    states = scene.sample_sequences(rng, 8, FRAMES)[:, 0]
    actions = rng.uniform(-1, 1, (8, FRAMES - 1, scene.action_dim))
    truth = scene.simulate(states, actions)
    cell = make_cell(scene, 10, action_dim=2, actuated_objects=[0], walls=True)
    with torch.no_grad():
        cell.log_gain.fill_(math.log(scene.max_accel))
    predicted = roll_cell(cell, states, FRAMES - 1, actions=actions)
    assert np.linalg.norm(predicted - truth[:, 1:, :, :2], axis=-1).max() < 1e-3


# ---- set_param -----------------------------------------------------------------------------
def test_set_param_sets_the_value_and_rejects_unknown_names_and_bad_values():
    cell = SpringBalls(2, 0.3)
    assert cell.params == {"k": 1.0, "l": 1.0}
    cell.set_param("k", 4.5)
    assert cell.params["k"] == pytest.approx(4.5, rel=1e-6)
    assert cell.params["l"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown parameter 'g'.*k, l"):
        cell.set_param("g", 2.0)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            cell.set_param("k", bad)
    assert cell.params["k"] == pytest.approx(4.5, rel=1e-6)
    with pytest.raises(ValueError, match="none"):
        FreeBalls(2, 0.3).set_param("k", 1.0)


def test_set_param_changes_the_model_rollout():
    model = PIGModel(load_config("spring").model, input_steps=4)
    positions = torch.tensor([[8.0, 16.0], [24.0, 16.0]]).expand(1, 4, 2, 2).clone()  # at rest
    with torch.no_grad():
        before = model.rollout(positions, 3)
        model.cell.set_param("k", 4.0)
        model.cell.set_param("l", 6.0)
        after = model.rollout(positions, 3)
    assert model.params == pytest.approx({"k": 4.0, "l": 6.0})
    assert not torch.allclose(before, after)
    # 16 px apart at rest, rest length 12: the stretched spring pulls them together at first.
    assert after[0, 0, 1, 0] - after[0, 0, 0, 0] < 16.0


# ---- decoder and encoder coordinates ------------------------------------------------------
def mask_centroids(decoder: Decoder, positions: torch.Tensor) -> torch.Tensor:
    """Centroid (pixel centres at j + 0.5) of each object's rendered mask: (B, n, 2)."""
    with torch.no_grad():
        masks = decoder.layers(positions)[0][:, :-1, 0]  # (B, n, H, W)
    x, y = pixel_grid(decoder.image_size)
    w = masks / masks.sum((-2, -1), keepdim=True)
    return torch.stack([(w * x).sum((-2, -1)), (w * y).sum((-2, -1))], -1)


@pytest.mark.parametrize("size, template", [(32, 16), (36, 18), (64, 32)])
def test_decoder_places_the_mask_centroid_on_the_given_position(size, template):
    torch.manual_seed(0)
    f = size / 32
    # The initial templates, two objects apart, anywhere (sub-pixel positions, near the border).
    decoder = Decoder(2, size, template)
    positions = torch.tensor([[[9.3, 11.7], [22.25, 20.6]], [[16.0, 16.0], [8.5, 25.1]]]) * f
    assert (mask_centroids(decoder, positions) - positions).abs().max() < 0.05
    # Any point-symmetric template is centred on its position (one object, fully in view: a
    # template cut by the image border or overlapping another one has another centroid). A
    # rough template sampled between pixel centres aliases (up to 0.2 px here), so it is placed
    # on pixel centres and pixel corners; the smooth templates above hold anywhere.
    single = Decoder(1, size, template)
    with torch.no_grad():
        logits = 2.0 * torch.randn_like(single.mask_logits)
        single.mask_logits.copy_(logits + logits.flip(-1, -2))
        single.log_scale.fill_(0.2)
    inside = size / 2 + torch.tensor([[[-0.5, 1.0]], [[1.5, -2.5]], [[0.0, 0.0]]])
    assert (mask_centroids(single, inside) - inside).abs().max() < 0.05
    # ... and any template moves rigidly with its coordinates.
    with torch.no_grad():
        single.mask_logits.normal_()
        single.log_scale.fill_(0.0)
    shift = torch.tensor([2.0, -3.0])
    moved = mask_centroids(single, inside + shift) - mask_centroids(single, inside)
    assert (moved - shift).abs().max() < 0.05


def test_fit_positions_recovers_the_rendered_positions_and_never_worsens_a_frame():
    torch.manual_seed(0)
    decoder = Decoder(2, 32, 10)
    with torch.no_grad():  # two distinct coloured objects on a textured background
        decoder.content_logits.copy_(torch.tensor([4.0, -4.0, -4.0, -4.0, 4.0, -4.0])
                                     .view(2, 3, 1, 1).expand(2, 3, 10, 10))
        decoder.background_logits.normal_(-2.0, 0.5)
        truth = torch.tensor([[[9.3, 12.6], [21.7, 18.2]], [[15.2, 20.4], [16.1, 8.9]]])
        frames = decoder(truth)
        start = truth + torch.tensor([[0.8, -0.6], [-0.5, 0.9]])
        assert fit_positions(decoder, frames, start, 0) is start
        fitted = fit_positions(decoder, frames, start, 3)
        assert (fitted - truth).abs().max() < 1e-2
        # a frame the decoder cannot draw: the fit may not help, but it never makes it worse
        noise = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
        before = (decoder(start) - noise).square().sum((1, 2, 3))
        after = (decoder(fit_positions(decoder, noise, start, 3)) - noise).square().sum((1, 2, 3))
        assert (after <= before + 1e-6).all()
        # objects far outside the image: nothing to fit (a singular system), they stay put
        outside = truth + 100.0
        assert torch.equal(fit_positions(decoder, frames, outside, 2), outside)


def test_fit_positions_undoes_a_step_that_worsens_a_frame(monkeypatch):
    """With every Gauss-Newton step reversed each step raises the error: all are undone."""
    torch.manual_seed(0)
    decoder = Decoder(2, 32, 10)
    truth = torch.tensor([[[9.3, 12.6], [21.7, 18.2]], [[15.2, 20.4], [16.1, 8.9]]])
    with torch.no_grad():
        frames = decoder(truth)
    start = truth + 0.5
    solve = torch.linalg.solve
    monkeypatch.setattr(torch.linalg, "solve", lambda a, b: -solve(a, b))
    assert torch.equal(fit_positions(decoder, frames, start, 3), start)


def test_centroid_encoder_uses_pixel_centres():
    """A mask that is one pixel (row 5, column 9) gives the position (9.5, 5.5)."""
    model = PIGModel(load_config("spring").model, input_steps=4)
    encoder = model.encoder
    masks = torch.zeros(1, 3, 32, 32)
    masks[0, 0, 5, 9] = 1.0
    masks[0, 1, 20:22, 3:5] = 1.0  # a 2x2 square: centre (4, 21)
    encoder.masks = lambda frames: masks  # bypass the U-Net
    out = encoder(torch.zeros(1, 3, 32, 32))
    # (the encoder adds 1e-6 to every pixel's weight, so an empty mask gives the centre: a pull
    # of about 1e-3 x the distance to the centre here)
    assert torch.allclose(out[0], torch.tensor([[9.5, 5.5], [4.0, 21.0]]), atol=0.02)


SHIPPED_SCENES = ("spring", "gravity", "bouncing", "mnist_spring")


def shipped(scene: str) -> Path:
    path = PRETRAINED_DIR / f"{scene}.pt"
    if not path.is_file():
        pytest.skip(f"no shipped model {path.name} (training an encoder here takes minutes)")
    return path


@pytest.mark.parametrize("scene", SHIPPED_SCENES)
def test_shipped_model_decode_then_encode_returns_the_positions(scene):
    from pig_control.checkpoint import load_model

    model, _ = load_model(shipped(scene))
    size = model.config.image_size
    base = torch.tensor([[10.3, 12.8], [21.6, 19.2], [15.0, 24.5]])[: model.config.n_objects]
    positions = torch.stack([base, base.flip(0)]) * size / 32
    with torch.no_grad():
        frames = model.decode(positions.unsqueeze(1))
        encoded = model.encode(frames)[:, 0]
    # the encoder's slots need not follow the decoder's: match each position to its nearest
    distance = (encoded.unsqueeze(2) - positions.unsqueeze(1)).norm(dim=-1)
    assert distance.min(1).values.max() < 0.5 * size / 32


@pytest.mark.parametrize("scene", SHIPPED_SCENES)
def test_shipped_model_has_its_parameters_within_5_percent_and_its_provenance(scene):
    from pig_control.checkpoint import load_checkpoint

    payload = load_checkpoint(shipped(scene))
    assert {"command", "seed", "data", "wall_clock_s", "code"} <= set(payload["metadata"])
    truth = envs.make_scene(scene, actuated=False).params
    for name, learned in payload["params"].items():
        assert learned == pytest.approx(truth[name], rel=0.05), name


@pytest.mark.parametrize("scene", ["spring", "mnist_spring"])
def test_shipped_control_model_learned_the_physics_from_at_most_10000_frames(scene):
    """The world models for control identify the spring from actuated rollouts, too."""
    from pig_control.checkpoint import load_checkpoint

    payload = load_checkpoint(shipped(f"{scene}_control"))
    metadata = payload["metadata"]
    assert metadata["scene"] == scene and 0 < metadata["env_frames"] <= 10_000
    truth = envs.make_scene(scene).params
    for name, learned in payload["params"].items():
        assert learned == pytest.approx(truth[name], rel=0.05), name


# ---- the whole model -----------------------------------------------------------------------
def test_forward_shapes_and_free_flight_continues_a_straight_line():
    config = load_config("spring", ["model.physics=free"]).model
    model = PIGModel(config, input_steps=4)
    frames = torch.rand(2, 10, 3, 32, 32)
    with torch.no_grad():
        out = model(frames, pred_steps=6)
    assert out["encoded"].shape == (2, 10, 2, 2)
    assert out["recons"].shape == (2, 10, 3, 32, 32)
    assert out["predicted"].shape == (2, 6, 2, 2)
    assert out["preds"].shape == (2, 6, 3, 32, 32)
    assert model.params == {}
    # The untrained velocity estimator is the last finite difference: a line goes on as a line.
    t = torch.arange(4.0).view(1, 4, 1, 1)
    line = torch.tensor([[10.0, 12.0], [20.0, 18.0]]) + t * torch.tensor([[1.0, 0.5],
                                                                          [-0.5, 0.25]])
    with torch.no_grad():
        future = model.rollout(line, 3)
    expected = line[:, -1:] + torch.arange(1.0, 4.0).view(1, 3, 1, 1) * (line[:, 1] - line[:, 0])
    assert torch.allclose(future, expected.expand_as(future), atol=1e-4)


def test_blackbox_baseline_has_no_parameters_and_predicts():
    model = PIGModel(load_config("spring", ["model.physics=blackbox"]).model, input_steps=4)
    assert model.cell is None and model.params == {}
    with torch.no_grad():
        out = model(torch.rand(1, 8, 3, 32, 32), pred_steps=4)
    assert out["predicted"].shape == (1, 4, 2, 2)
    assert torch.isfinite(out["preds"]).all()


def test_velocity_estimator_without_correction_is_the_physics_fit():
    """With the MLP correction off, the estimate is exactly the Gauss-Newton physics fit, and on
    a noise-free spring trajectory it recovers the true velocity."""
    config = load_config("spring", ["model.velocity_correction=false", "model.substeps=10"])
    model = PIGModel(config.model, input_steps=4)
    assert not any("velocity.net" in name for name, _ in model.named_parameters())
    model.cell.set_param("k", 4.0)
    model.cell.set_param("l", 6.0)
    scene = envs.make_scene("spring", actuated=False)
    states = scene.sample_sequences(np.random.default_rng(0), 8, 4)
    positions = torch.as_tensor(states[..., :2], dtype=torch.float32)
    with torch.no_grad():
        pos, vel = model.dynamics.initial(positions)
    truth = torch.as_tensor(states[:, -1, :, 2:], dtype=torch.float32)
    assert (vel - truth).norm(dim=-1).max() < 0.05
    assert (pos - positions[:, -1]).norm(dim=-1).max() < 0.01
