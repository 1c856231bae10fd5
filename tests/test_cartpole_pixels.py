"""A cart-pole seen from pixels: the colour localizer's split of one colour into a body and a
thin rod, the system's starting point read from the motion, and the frames the fit leaves out
because the image border cuts the cart or the pole."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pig_control import dmc
from pig_control.identify import fittable_chunks
from pig_control.model.encoder import Encoder
from pig_control.systems import resolve_system

ORANGE, BACKGROUND = torch.tensor([0.9, 0.6, 0.4]), torch.tensor([0.2, 0.3, 0.4])


def encoder() -> Encoder:
    enc = Encoder(2, 64, localizer="colour", colour_split=3)
    enc.set_background(BACKGROUND[:, None, None].expand(3, 64, 64).clone())
    # score 1 for the full orange change (chroma direction), bias -0.15 as fit_object_colour
    change = ORANGE - BACKGROUND
    direction = change - change.mean()
    enc.set_colour_model(direction / float(change @ direction), -0.15)
    return enc


def paint(cover: torch.Tensor) -> torch.Tensor:
    """A frame (1, 3, 64, 64): orange over the background by the coverage map (64, 64)."""
    return (BACKGROUND[:, None, None] + cover[None] * (ORANGE - BACKGROUND)[:, None, None])[None]


def test_colour_split_finds_the_body_and_the_rod_anti_aliased_rod_included():
    """A box 8 x 4 px and a horizontal rod whose anti-aliasing spreads it over three rows
    (coverage 0.4, 1, 0.4): the body's point is the box's centre, the rod's the rod's centre
    (pixel i's centre is at i + 0.5).
    A grey-level opening would keep the rod's faint rows at their faint level and move its
    point; the binary opening does not."""
    cover = torch.zeros(64, 64)
    cover[30:34, 20:28] = 1.0  # the body: columns 20-27, rows 30-33: centre (24, 32)
    cover[40, 30:50], cover[41, 30:50], cover[42, 30:50] = 0.4, 1.0, 0.4  # rod: (40, 41.5)
    with torch.no_grad():
        points = encoder()(paint(cover))[0]
    assert points[0].tolist() == pytest.approx([24.0, 32.0], abs=0.05)
    assert points[1].tolist() == pytest.approx([40.0, 41.5], abs=0.05)


def test_colour_split_keeps_a_diagonal_rod_attached_to_the_body_out_of_it():
    cover = torch.zeros(64, 64)
    cover[30:34, 20:28] = 1.0
    for i in range(12):  # a one-pixel diagonal from the box's corner, up and right
        cover[29 - i, 28 + i] = 1.0
    with torch.no_grad():
        points = encoder()(paint(cover))[0]
    assert points[0].tolist() == pytest.approx([24.0, 32.0], abs=0.3)
    assert points[1].tolist() == pytest.approx([34.0, 24.0], abs=0.6)


def simulated(camera: dict[str, float], seed: int = 0, episodes: int = 12, steps: int = 100):
    """Points (N, T, 2, 2) and actions (N, T - 1, 1) of the cart-pole (length 0.5, gain 10)
    driven by smooth random pushes from hanging, seen through ``camera``, with 0.05 px noise."""
    system = resolve_system("cartpole").oracle({"masspole": 0.1, "length": 0.5}, camera=camera,
                                               gain=10.0, dt=0.02, substeps=2, action_dim=1,
                                               image_size=64).double()
    rng = np.random.default_rng(seed)
    raw = rng.standard_normal((episodes, steps - 1))
    kernel = np.ones(8) / 8.0
    smooth = np.stack([np.convolve(r, kernel, mode="same") for r in raw]) * 2.5
    actions = torch.as_tensor(np.clip(smooth, -1, 1))[..., None]
    q = torch.zeros(episodes, 2, dtype=torch.float64)
    q[:, 1] = math.pi + 0.01 * torch.as_tensor(rng.standard_normal(episodes))
    qd = torch.zeros_like(q)
    points = []
    with torch.no_grad():
        for t in range(steps):
            points.append(system.to_pixels(q, system.camera_values()))
            if t < steps - 1:
                q, qd = system.step(q, qd, actions[:, t])
    positions = torch.stack(points, 1)
    positions = positions + 0.05 * torch.as_tensor(rng.standard_normal(positions.shape))
    return positions, actions


@pytest.mark.parametrize("mirror", [1.0, -1.0])
def test_guess_from_motion_reads_camera_length_and_gain(mirror):
    """From the motion alone: pixels per metre, the pole's length and the force gain within
    10 %, the rail's direction (a mirrored camera included) and which way is up."""
    camera = {"origin_x": 32.0, "origin_y": 30.0, "a_xx": 20.0 * mirror, "a_xy": 0.0,
              "a_yx": 0.0, "a_yy": -20.0, "pole_marker": 0.6}
    positions, actions = simulated(camera)
    system = resolve_system("cartpole")(dt=0.02, substeps=2, action_dim=1, image_size=64)
    guess = system.guess_from_motion(positions.float(), actions.float())
    assert guess is not None
    cam = guess["camera"]
    assert guess["params"]["length"] == pytest.approx(0.5, rel=0.1)
    assert guess["gain"] == pytest.approx(10.0, rel=0.1)
    assert cam["a_xx"] == pytest.approx(20.0 * mirror, rel=0.1)
    assert cam["a_yy"] == pytest.approx(-20.0, rel=0.1)
    assert abs(cam["a_xy"]) < 1.0 and abs(cam["a_yx"]) < 1.0
    assert cam["pole_marker"] == pytest.approx(0.6, rel=0.1)
    assert cam["origin_y"] == pytest.approx(30.0, abs=0.2)


def test_frames_cut_by_the_border_are_left_out_of_the_fit():
    system = resolve_system("cartpole")(dt=0.02, substeps=2, action_dim=1, image_size=64)
    system.set_camera({"a_xx": 20.0, "pole_marker": 0.5})  # the pole's point 10 px out
    assert system.image_reach() == pytest.approx(10.0)
    arm = torch.tensor([0.0, 10.0])  # the pole's point 10 px below the cart
    carts = torch.tensor([[32.0, 32.0], [3.0, 32.0], [60.0, 32.0], [32.0, 32.0]])
    points = torch.stack([carts, carts + arm], 1)
    points[3, 1] = torch.tensor([32.0, 60.0])  # its far end (2 x 28 px below) off the image
    assert system.in_view(points).tolist() == [True, False, False, False]
    empty = torch.full((1, 2, 2), 32.0)  # no system in the frame: both points at the centre
    assert system.in_view(empty).tolist() == [False]
    chunks = points[[0, 0, 1, 0, 0, 0]].reshape(3, 2, 2, 2)  # chunk 1 holds the cut frame
    actions = torch.arange(3.0).reshape(3, 1, 1)
    kept, kept_actions = fittable_chunks(system, chunks, actions)
    assert len(kept) == 2 and kept_actions[:, 0, 0].tolist() == [0.0, 2.0]


def test_learned_cartpole_against_the_simulator_truth():
    system = resolve_system("cartpole").oracle({"masspole": 0.12, "length": 0.45}, gain=11.0,
                                               dt=0.02, action_dim=1)
    truth = {"pole_com_distance_m": 0.5, "masspole_kg": 0.1, "masscart_kg": 1.0, "gear": 10.0}
    compared = dmc.compare_learned("cartpole", system, truth)
    assert compared["pole_com_distance_m"]["relative_error"] == pytest.approx(-0.1)
    assert compared["mass_ratio"]["relative_error"] == pytest.approx(0.2)
    assert compared["push_per_action_m_s2"]["learned"] == pytest.approx(11.0 / 1.12)
    assert compared["push_per_action_m_s2"]["true"] == pytest.approx(10.0 / 1.1)


def test_closed_form_velocity_maps_equal_the_generic_ones():
    from pig_control.systems.base import System

    system = resolve_system("cartpole")(dt=0.02, substeps=2, action_dim=1,
                                        image_size=64).double()
    system.set_camera({"origin_x": 30.0, "origin_y": 31.0, "a_xx": 19.0, "a_xy": 0.4,
                       "a_yx": -0.3, "a_yy": -20.0, "pole_marker": 0.6})
    cam = system.camera_values()
    q = torch.tensor([[0.3, 2.0], [-0.5, -0.4], [1.0, math.pi]], dtype=torch.float64)
    qd = torch.tensor([[1.0, -3.0], [0.2, 5.0], [-2.0, 0.5]], dtype=torch.float64)
    vel = system.velocity_to_pixels(q, qd, cam)
    torch.testing.assert_close(vel, System.velocity_to_pixels(system, q, qd, cam))
    torch.testing.assert_close(system.velocity_from_pixels(q, vel, cam), qd)
    torch.testing.assert_close(System.velocity_from_pixels(system, q, vel, cam), qd)


def test_the_filter_predicts_through_frames_without_a_measurement():
    from pig_control.control.dynamics import CellDynamics
    from pig_control.control.estimator import StateFilter

    system = resolve_system("cartpole").oracle({"masspole": 0.1, "length": 0.5}, gain=10.0,
                                               dt=0.02, substeps=2, action_dim=1)
    estimator = StateFilter(CellDynamics(system), 0.02, position_noise=0.5, accel_noise=30.0)
    start = system.to_pixels(torch.tensor([[0.0, 3.0]]), system.camera_values())[0]
    estimator.reset(start)
    before = estimator.covariance.clone()
    action = torch.tensor([1.0])
    predicted = CellDynamics(system)(estimator.state.unsqueeze(0), action.reshape(1, 1))[0]
    state = estimator.step(None, action)
    torch.testing.assert_close(state, predicted)
    assert estimator.covariance[0, 0] > before[0, 0]
