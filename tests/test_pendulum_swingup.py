"""The pendulum's swing-up pieces: the energy-shaped cost term, the projective camera and the
fit's starting point read from the motion (which way the torque turns the pendulum, where
upright is)."""

from __future__ import annotations

import math

import pytest
import torch

from pig_control.identify import initial_camera
from pig_control.systems import resolve_system
from pig_control.systems.pendulum import Pendulum, PerspectivePendulum

CAMERA = {"pivot_x": 31.0, "pivot_y": 34.0, "a_xx": 12.0, "a_xy": 0.4, "a_yx": -0.3,
          "a_yy": -5.0, "h_x": -0.02, "h_y": -0.3}


def perspective(dt: float = 0.04) -> PerspectivePendulum:
    system = PerspectivePendulum(dt=dt, substeps=2, action_dim=1, image_size=64)
    system.set_camera(CAMERA)
    return system


def test_energy_gap_is_zero_upright_at_rest_and_minus_two_hanging():
    system = Pendulum.oracle({"g": 13.0, "l": 1.0, "m": 0.75, "damping": 0.4}, gain=1.0,
                             dt=0.04, action_dim=1)
    goal = torch.zeros(1, 1)
    q = torch.tensor([[0.0], [math.pi], [math.pi]])
    # the last state swings through the bottom with exactly the energy to reach the top
    qd = torch.tensor([[0.0], [0.0], [2.0 * math.sqrt(1.5 * 13.0)]])
    gap = system.energy_gap(q, qd, goal)
    assert gap[:, 0].tolist() == pytest.approx([0.0, -2.0, 0.0], abs=1e-5)
    plain = system.residuals(q, qd, goal, {"velocity_weight": 0.1})
    shaped = system.residuals(q, qd, goal, {"velocity_weight": 0.1, "energy_weight": 4.0})
    assert shaped.shape == (3, 3) and torch.equal(shaped[:, :2], plain)
    assert shaped[:, 2].tolist() == pytest.approx([0.0, -4.0, 0.0], abs=1e-5)



def test_energy_margin_raises_the_target_away_from_the_goal_only():
    system = Pendulum.oracle({"g": 13.0, "l": 1.0, "m": 0.75, "damping": 0.4}, gain=1.0,
                             dt=0.04, action_dim=1)
    goal = torch.zeros(1, 1)
    w = 1.5 * 13.0
    q = torch.tensor([[0.0], [math.pi], [math.pi], [math.pi / 2]])
    # hanging with the separatrix's energy; with 10 % more; level with the pivot at rest
    qd = torch.tensor([[0.0], [2.0 * math.sqrt(w)], [2.0 * math.sqrt(1.05 * w)], [0.0]])
    gap = system.energy_gap(q, qd, goal, margin=0.1)[:, 0]
    # at rest upright: still 0; at the bottom the target is 1.1 w, half that level
    assert gap.tolist() == pytest.approx([0.0, -0.1, 0.0, -1.05], abs=1e-5)
    weights = {"velocity_weight": 0.1, "energy_weight": 4.0}
    shaped = system.residuals(q, qd, goal, {**weights, "energy_margin": 0.1})
    assert torch.allclose(shaped[:, 2], 2.0 * gap)
    assert not torch.allclose(shaped, system.residuals(q, qd, goal, weights))

def test_perspective_camera_round_trips_and_is_affine_without_perspective():
    system = perspective()
    cam = system.camera_values()
    q = torch.linspace(-3.0, 3.0, 13)[:, None]
    qd = torch.linspace(-5.0, 5.0, 13)[:, None]
    with torch.no_grad():
        points = system.to_pixels(q, cam)
        assert torch.allclose(system.from_pixels(points, cam), q, atol=1e-4)
        vel = system.velocity_to_pixels(q, qd, cam)
        assert torch.allclose(system.velocity_from_pixels(q, vel, cam), qd, atol=1e-4)
    numeric = torch.func.jvp(lambda x: system.to_pixels(x, cam), (q,), (qd,))[1]
    assert torch.allclose(vel, numeric, atol=1e-4)
    affine = Pendulum(dt=0.04, action_dim=1, image_size=64)
    affine.set_camera({k: v for k, v in CAMERA.items() if not k.startswith("h_")})
    system.set_camera({"h_x": 0.0, "h_y": 0.0})
    with torch.no_grad():
        assert torch.allclose(system.to_pixels(q, system.camera_values()),
                              affine.to_pixels(q, affine.camera_values()), atol=1e-5)
    assert resolve_system("pendulum_perspective") is PerspectivePendulum


@pytest.mark.parametrize("mirrored", [False, True])
def test_guess_from_motion_finds_upright_handedness_and_parameters(mirrored):
    """Noisy encoded positions of a driven pendulum: the guess puts theta = 0 where the true
    upright is seen and turns theta the way the torque turns it; 3 g / (2 l) and the gain are
    a start for the trajectory fit (within 50 %: the ellipse's angle is not the pendulum's
    under perspective, and the least squares on it are biased)."""
    truth = perspective()
    if mirrored:  # the same picture with theta negated: the torque turns it the other way
        truth.set_camera({"a_xx": -CAMERA["a_xx"], "a_yx": -CAMERA["a_yx"],
                          "h_x": -CAMERA["h_x"]})
    truth.set_param("g", 13.0)
    truth.set_param("damping", 0.4)
    truth.set_gain(1.3)
    generator = torch.Generator().manual_seed(0)
    episodes, steps = 12, 150
    q = (torch.rand(episodes, 1, generator=generator) * 2 - 1) * math.pi
    qd = torch.zeros(episodes, 1)
    actions = (torch.rand(episodes, steps - 1, 1, generator=generator) * 2 - 1)
    cam = truth.camera_values()
    positions = []
    with torch.no_grad():
        for t in range(steps):
            positions.append(truth.to_pixels(q, cam))
            if t < steps - 1:
                q, qd = truth.step(q, qd, actions[:, t])
    positions = torch.stack(positions, 1)  # (N, T, 1, 2)
    positions = positions + 0.1 * torch.randn(positions.shape, generator=generator)

    learner = PerspectivePendulum(dt=0.04, substeps=2, action_dim=1, image_size=64)
    initial_camera(learner, positions, actions)
    with torch.no_grad():
        upright = learner.to_pixels(torch.zeros(1, 1), learner.camera_values())
        true_upright = truth.to_pixels(torch.zeros(1, 1), cam)
        assert (upright - true_upright).norm() < 2.0  # px; h is still 0 in the guess
        turned = learner.from_pixels(truth.to_pixels(torch.full((1, 1), 0.3), cam),
                                     learner.camera_values())
    assert float(turned) > 0.1  # the learner's theta grows with the true one
    p = learner.params
    assert 1.5 * p["g"] / p["l"] == pytest.approx(1.5 * 13.0, rel=0.5)
    assert 3.0 * float(learner.gain().detach()) / (p["m"] * p["l"] ** 2) == pytest.approx(3.0 * 1.3,
                                                                                rel=0.5)


def test_colour_localizer_follows_the_object_not_its_reflection():
    """Blue floor, an orange 3 x 3 object and, below it, a fainter light-blue 'reflection' of it
    moving the other way: the learned hue score puts the position on the object (within
    0.05 px), where the plain foreground centroid is pulled several pixels towards the
    reflection."""
    from pig_control.model.encoder import Encoder, fit_object_colour

    size, frames, truth = 32, [], []
    floor = torch.tensor([0.18, 0.29, 0.41])[:, None, None]
    generator = torch.Generator().manual_seed(0)
    for _ in range(40):
        frame = floor.expand(3, size, size).clone()
        frame += 0.02 * torch.rand(1, size, size, generator=generator)  # shading, not hue
        x, y = torch.randint(4, 26, (2,), generator=generator).tolist()
        frame[:, y - 1:y + 2, x - 1:x + 2] = torch.tensor([0.87, 0.62, 0.36])[:, None, None]
        mirror = size - 1 - y
        if abs(mirror - y) > 3:
            frame[:, mirror - 1:mirror + 2, x - 1:x + 2] = torch.tensor(
                [0.45, 0.55, 0.65])[:, None, None]
        frames.append(frame)
        truth.append((x + 0.5, y + 0.5))
    frames, truth = torch.stack(frames), torch.tensor(truth)
    background = frames.median(0).values
    colour = Encoder(1, size, localizer="colour")
    colour.set_background(background)
    colour.set_colour_model(*fit_object_colour(frames, background))
    plain = Encoder(1, size, localizer="centroid")
    plain.set_background(background)
    with torch.no_grad():
        found, pulled = colour(frames)[:, 0], plain(frames)[:, 0]
    assert (found - truth).norm(dim=1).max() < 0.05
    assert (pulled - truth).norm(dim=1).max() > 3.0
