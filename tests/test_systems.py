"""Systems (pig_control.systems): the equations against the world's physics and against
independent formulas (Gymnasium's pendulum and cart-pole), the camera maps and their inverses,
gradients, the registry, the residual cost and the oracle of every scene."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs
from pig_control.errors import UserInputError
from pig_control.systems import SYSTEMS, System, resolve_system
from pig_control.systems.scenes import SCENE_SYSTEMS, oracle_system

torch.set_num_threads(1)

AFFINE = {"pivot_x": 13.0, "pivot_y": 18.5, "a_xx": -9.0, "a_xy": 2.0, "a_yx": -1.5,
          "a_yy": -6.0}


def test_registry_names_shipped_systems_and_user_classes(tmp_path):
    assert {"free", "spring", "gravity", "pendulum", "cartpole"} <= set(SYSTEMS)
    for name, cls in SYSTEMS.items():
        assert resolve_system(name) is cls and cls.name == name
    assert resolve_system("pig_control.systems.pendulum:Pendulum") is SYSTEMS["pendulum"]
    user = tmp_path / "my_system.py"
    user.write_text("from pig_control.systems import System\n"
                    "class Mine(System):\n    name = 'mine'\n")
    assert resolve_system(f"{user}:Mine").__name__ == "Mine"
    assert "mine" not in SYSTEMS  # naming a class needs no registration
    bad = [("nope", "unknown system 'nope'"), (f"{user}:Other", "has no 'Other'"),
           ("math:pi", "not a subclass"), ("no_such_module_xyz:A", "cannot be imported"),
           (f"{tmp_path}/missing.py:A", "not found")]
    for spec, message in bad:
        with pytest.raises(UserInputError, match=message):
            resolve_system(spec)
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UserInputError, match="failed to import: RuntimeError: boom"):
        resolve_system(f"{broken}:A")


@pytest.mark.parametrize("scene_name", sorted(SCENE_SYSTEMS))
def test_oracle_frame_equals_the_scene(scene_name):
    """One frame of every scene's oracle system equals the scene's own physics (pixels)."""
    scene = envs.make_scene(scene_name)
    system = oracle_system(scene).double()
    rng = np.random.default_rng(0)
    states = scene.sample_states(rng, 32)
    if scene_name == "pendulum":
        states[:, 1] = rng.uniform(-3.0, 3.0, 32)  # away from the scene's 8 rad/s speed clip
    actions = rng.uniform(-1, 1, (32, scene.action_dim))
    following = scene.step_states(states, actions)
    from pig_control.control.dynamics import latent_state

    now = torch.as_tensor(latent_state(scene, states))
    later = torch.as_tensor(latent_state(scene, following))
    with torch.no_grad():
        pos, vel = system(now[..., :2], now[..., 2:], torch.as_tensor(actions))
    torch.testing.assert_close(pos, later[..., :2], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(vel, later[..., 2:], atol=1e-6, rtol=1e-6)


def pendulum(**kwargs) -> System:
    return SYSTEMS["pendulum"](dt=0.05, substeps=1, action_dim=1, **kwargs).double()


def test_pendulum_accel_is_the_analytic_formula_with_damping():
    system = pendulum()
    values = {"g": 9.0, "m": 1.7, "l": 0.8, "damping": 0.35}
    for name, value in values.items():
        system.set_param(name, value)
    system.set_gain(2.5)
    q = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]
    qd = torch.linspace(2, -2, 7, dtype=torch.float64)[:, None]
    action = torch.linspace(-1, 1, 7, dtype=torch.float64)[:, None]
    p = system.physical()
    got = system.accel(q, qd, system.force(action, p), p)
    g, m, l, b = values.values()
    expected = 3 * g / (2 * l) * torch.sin(q) - b * qd + 3 / (m * l * l) * 2.5 * action
    torch.testing.assert_close(got, expected)


def test_pendulum_follows_gymnasium_pendulum_v1():
    """Gymnasium's own Pendulum-v1 step (torque 2 at action 1, no damping), in coordinates."""
    gym_env = gym.make("Pendulum-v1").unwrapped
    gym_env.reset(seed=0)
    system = pendulum()
    for name, value in {"g": 10.0, "m": 1.0, "l": 1.0, "damping": 0.0}.items():
        system.set_param(name, value, allow_zero=True)
    system.set_gain(2.0)
    rng = np.random.default_rng(2)
    for _ in range(20):
        state = np.array([rng.uniform(-math.pi, math.pi), rng.uniform(-3, 3)])
        action = rng.uniform(-1, 1, 1)
        gym_env.state = state.copy()
        gym_env.step((2.0 * action).astype(np.float32))
        with torch.no_grad():
            q, qd = system.step(torch.tensor([[state[0]]]), torch.tensor([[state[1]]]),
                                torch.tensor(action[None]))
        np.testing.assert_allclose([float(q), float(qd)], gym_env.state, atol=1e-5)


def test_pendulum_camera_is_affine_and_inverted_exactly():
    system = pendulum()
    system.set_camera(AFFINE)
    cam = system.camera_values()
    q = torch.tensor([[-2.5], [-0.4], [0.0], [1.3], [3.0]], dtype=torch.float64)
    qd = torch.tensor([[1.0], [-2.0], [0.5], [3.0], [-0.7]], dtype=torch.float64)
    points = system.to_pixels(q, cam)
    c = AFFINE
    expected_x = c["pivot_x"] + c["a_xx"] * torch.sin(q) + c["a_xy"] * torch.cos(q)
    expected_y = c["pivot_y"] + c["a_yx"] * torch.sin(q) + c["a_yy"] * torch.cos(q)
    torch.testing.assert_close(points[:, 0], torch.cat([expected_x, expected_y], 1))
    torch.testing.assert_close(system.from_pixels(points, cam), q)
    vel = system.velocity_to_pixels(q, qd, cam)
    generic = System.velocity_to_pixels(system, q, qd, cam)  # forward-mode autodiff
    torch.testing.assert_close(vel, generic)
    torch.testing.assert_close(system.velocity_from_pixels(q, vel, cam), qd)
    torch.testing.assert_close(System.velocity_from_pixels(system, q, vel, cam), qd)


def cartpole() -> System:
    """The cart-pole with Gymnasium CartPole-v1's values (force 10 N at action 1)."""
    system = SYSTEMS["cartpole"](dt=0.02, substeps=1, action_dim=1).double()
    for name, value in {"gravity": 9.8, "masscart": 1.0, "masspole": 0.1,
                        "length": 0.5}.items():
        system.set_param(name, value)
    system.set_gain(10.0)
    return system


def test_cartpole_accel_equals_gymnasium_cartpole():
    """Gymnasium's CartPole-v1 (Euler): the accelerations read off one step of its own code."""
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    system = cartpole()
    p = system.physical()
    rng = np.random.default_rng(1)
    for _ in range(20):
        state = np.array([rng.uniform(-2, 2), rng.uniform(-1, 1), rng.uniform(-0.2, 0.2),
                          rng.uniform(-2, 2)])
        push = int(rng.integers(2))  # Gymnasium: action 1 pushes +10 N, 0 pushes -10 N
        env.state = state.copy()
        env.step(push)
        x_acc = (env.state[1] - state[1]) / env.tau
        theta_acc = (env.state[3] - state[3]) / env.tau
        q = torch.tensor([[state[0], state[2]]])
        qd = torch.tensor([[state[1], state[3]]])
        force = system.force(torch.tensor([[2.0 * push - 1.0]]), p)
        got = system.accel(q, qd, force, p)[0].detach()
        np.testing.assert_allclose(got.numpy(), [x_acc, theta_acc], rtol=1e-5, atol=1e-5)


def test_cartpole_small_angle_and_camera_round_trip():
    """Linearised about upright at rest, the pole falls at 3 g / (l (4 - 3 mp / M)) theta per
    unit angle (the analytic linearisation); the camera's generic velocity maps invert."""
    system = cartpole()
    p = system.physical()
    theta = 1e-6
    acc = system.accel(torch.tensor([[0.0, theta]]), torch.zeros(1, 2, dtype=torch.float64),
                       None, p)[0].detach()
    total = 1.1
    slope = 3 * 9.8 / (0.5 * (4 - 3 * 0.1 / total))
    assert float(acc[1]) / theta == pytest.approx(slope, rel=1e-6)
    assert float(acc[0]) / theta == pytest.approx(-0.1 * 0.5 * slope / total, rel=1e-6)
    system.set_camera({"origin_x": 17.0, "origin_y": 20.0, "a_xx": 5.0, "a_xy": 0.5,
                       "a_yx": 0.3, "a_yy": -4.0, "cart_scale": 1.03, "cart_u": 0.02,
                       "cart_v": 0.05})
    q = torch.tensor([[0.4, 0.3], [-1.0, -2.0]], dtype=torch.float64)
    qd = torch.tensor([[0.5, -1.0], [2.0, 0.7]], dtype=torch.float64)
    pos, vel = system.state_to_pixels(q, qd)
    assert pos.shape == (2, 2, 2)
    back_q, back_qd = system.pixels_to_state(pos, vel)
    torch.testing.assert_close(back_q, q)
    torch.testing.assert_close(back_qd, qd)
    cam = system.camera_values()
    # the cart's point: its own scale along the rail and its offset from the hinge
    cart = torch.tensor([[17.0 + 5.0 * (1.03 * 0.4 + 0.02) + 0.5 * 0.05,
                          20.0 + 0.3 * (1.03 * 0.4 + 0.02) - 4.0 * 0.05]], dtype=torch.float64)
    torch.testing.assert_close(pos[:1, 0].detach(), cart)
    generic = System.velocity_to_pixels(system, q, qd, cam)  # forward-mode autodiff
    torch.testing.assert_close(system.velocity_to_pixels(q, qd, cam), generic)


@pytest.mark.parametrize("name", ["pendulum", "cartpole"])
def test_gradients_reach_parameters_camera_and_gain(name):
    system = pendulum() if name == "pendulum" else cartpole()
    pos, vel = system.state_to_pixels(torch.tensor([[0.5] * len(system.coords)]).double(),
                                      torch.tensor([[1.0] * len(system.coords)]).double())
    pos, vel = pos.detach(), vel.detach()
    for _ in range(3):
        pos, vel = system(pos, vel, torch.tensor([[0.7]], dtype=torch.float64))
    (pos.square().sum() + vel.square().sum()).backward()
    for tensor in (system.log_params, system.camera_params, system.log_gain):
        assert torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0


def test_residual_cost_is_the_sum_of_squared_residuals():
    system = pendulum()
    system.set_camera(AFFINE)
    system.set_gain(2.0)
    goal = system.to_pixels(torch.zeros(1, 1, dtype=torch.float64), system.camera_values())[0]
    cost = system.make_cost(goal.detach(), terminal_weight=5.0, velocity_weight=0.1,
                            action_weight=1e-3)
    rng = torch.Generator().manual_seed(0)
    q = torch.randn(3, 4, 1, generator=rng, dtype=torch.float64) * 2
    qd = torch.randn(3, 4, 1, generator=rng, dtype=torch.float64)
    pos, vel = system.state_to_pixels(q.reshape(-1, 1), qd.reshape(-1, 1))
    states = torch.cat([pos, vel], -1).reshape(3, 4, 1, 4).detach()
    actions = torch.rand(3, 4, 1, generator=rng, dtype=torch.float64) * 2 - 1
    wrapped = torch.remainder(q + math.pi, 2 * math.pi) - math.pi
    weights = torch.tensor([1.0, 1.0, 1.0, 5.0], dtype=torch.float64)
    per_step = (wrapped[..., 0] ** 2 + 0.1 * qd[..., 0] ** 2) @ weights
    expected = per_step + 1e-3 * (2.0 * actions[..., 0]).square().sum(1)
    torch.testing.assert_close(cost(states, actions).detach(), expected)
    with pytest.raises(ValueError, match="finite and at least 0"):
        system.make_cost(goal, velocity_weight=-1.0)


def test_walls_are_learned_by_the_trajectory_fit():
    """The ball systems' walls are parameters: fitted to chunks of the bouncing scene's true
    trajectories that hold bounces, a guess 1.5 px off lands on the scene's walls."""
    from pig_control.identify import TrajectoryFit, chunk_sequences

    scene = envs.make_scene("bouncing", actuated=False)
    positions = torch.as_tensor(scene.sample_sequences(np.random.default_rng(0), 12, 24)[..., :2])
    chunks, _ = chunk_sequences(positions, None, 8)
    system = SYSTEMS["free"](2, scene.dt, scene.substeps, walls=True, wall_margin=0.5).double()
    fit = TrajectoryFit(chunks, None, scene.dt)
    optimizer = torch.optim.Adam(system.parameters(), lr=0.05)
    for _ in range(200):
        loss = fit.loss(system)
        fit.zero_grad()
        optimizer.zero_grad()
        loss.backward()
        fit.step()
        optimizer.step()
    low, high = scene.walls
    assert abs(system.camera["wall_low"] - low) < 0.05, system.camera
    assert abs(system.camera["wall_high"] - high) < 0.05, system.camera


def test_checkpoints_from_before_systems_load(tmp_path):
    """A model saved before systems existed (no camera, a pendulum without damping) loads: the
    walls' guess is the config's margin those models used, the pendulum's pivot the image
    centre it assumed and its damping negligible (1e-6)."""
    from pig_control.api import PRETRAINED_DIR
    from pig_control.checkpoint import load_checkpoint, load_model, save_checkpoint

    for name in ("pendulum_control", "spring_control"):
        payload = load_checkpoint(PRETRAINED_DIR / f"{name}.pt")
        payload.pop("format")
        state = payload["model"]
        state.pop("dynamics.cell.camera_params", None)  # the shipped spring has none yet
        if name == "pendulum_control":
            state["dynamics.cell.log_params"] = state["dynamics.cell.log_params"][:3]
        save_checkpoint(tmp_path / f"{name}.pt", payload)
        model, _ = load_model(tmp_path / f"{name}.pt")
        if name == "pendulum_control":
            assert model.cell.camera["pivot_x"] == model.cell.camera["pivot_y"] == 16.0
            assert model.cell.params["damping"] == pytest.approx(1e-6)
        else:
            assert model.cell.camera == {"wall_low": 2.0, "wall_high": 30.0}
