"""Systems learned: the pendulum scene's off-centre pivot from frames by the training pipeline,
and a system described in this file (not shipped, named by file path) learned from a small
rollout and then planned on (CI-sized runs)."""

from __future__ import annotations

import numpy as np
import torch

import envs
from agents import MPCController, make_planner
from pig_control.config import config_from_dict, load_config
from pig_control.control.dynamics import CellDynamics
from pig_control.identify import TrajectoryFit, chunk_sequences, fit_horizon
from pig_control.model.pig import PIGModel
from pig_control.systems import System
from pig_control.train import Trainer

torch.set_num_threads(1)

#: A short run: the autoencoder finds the object, the trajectory fit learns the system.
SHORT = {"steps": 160, "autoencoder_steps": 100, "dynamics_steps": 60, "batch_size": 16,
         "autoencoder_frames": 32, "identify_sequences": 16, "encode_sequences": 16,
         "valid_sequences": 2, "checkpoint_every": 100000, "log_every": 100000}


def test_the_pendulums_off_centre_pivot_is_learned_within_one_pixel(tmp_path):
    truth = (19.0, 13.5)  # 3 and 2.5 px from the image centre, the initial guess
    scene = envs.make_scene("pendulum", pivot_x=truth[0], pivot_y=truth[1])
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (16, 30, 1))
    frames = scene.render_states(scene.simulate(scene.sample_states(rng, 16), actions))
    data = {"kind": "rollouts", "frames": frames, "actions": actions.astype(np.float32)}
    overrides = [f"training.{key}={value}" for key, value in SHORT.items()]
    config = load_config("pendulum_control", [*overrides, "data.path=null"])
    trainer = Trainer(config, data, tmp_path)
    for _ in range(config.training.steps):
        trainer.train_step()
    camera = trainer.model.cell.camera
    learned = np.array([camera["pivot_x"], camera["pivot_y"]])
    assert np.abs(learned - truth).max() < 1.0, camera


class RailSpring(System):
    """A puck on a horizontal rail pulled back to its anchor by a spring, with viscous
    friction, pushed along the rail by the action; seen from above.

    ``x'' = -k x - damping x' + gain * action`` (x in rail units); the puck is seen at
    ``(anchor_x + scale x, anchor_y)`` pixels.
    """

    name = "rail_spring"
    coords = ("x",)
    initial_params = {"k": 1.0, "damping": 0.5}
    initial_camera = {"anchor_x": 16.0, "anchor_y": 16.0, "scale": 4.0}
    n_points = 1
    defaults = {"horizon": 15, "cost": {"terminal_weight": 10.0, "velocity_weight": 0.3}}

    def accel(self, q, qd, force, p):
        acc = -p["k"] * q - p["damping"] * qd
        return acc if force is None else acc + force

    def to_pixels(self, q, cam):
        x = cam["anchor_x"] + cam["scale"] * q[:, 0]
        return torch.stack([x, cam["anchor_y"].expand_as(x)], -1)[:, None]

    def from_pixels(self, points, cam):
        return ((points[:, 0, 0] - cam["anchor_x"]) / cam["scale"])[:, None]


def test_a_system_described_here_is_learned_from_a_rollout_and_planned_on():
    """Named by file path in a config, the system becomes a model's physics cell; the training's
    trajectory fit (phase 2, on the positions an encoder would give) learns its parameters and
    camera from a small rollout of the true system; the planner then holds the true puck at a
    goal with the learned system."""
    build = {"dt": 0.3, "substeps": 4, "action_dim": 1, "image_size": 32}
    truth = RailSpring.oracle({"k": 0.8, "damping": 0.3},
                              {"anchor_x": 18.0, "anchor_y": 14.0, "scale": 5.0}, 2.0,
                              **build).double()
    rng = np.random.default_rng(1)
    actions = torch.as_tensor(rng.uniform(-1, 1, (16, 24, 1)))
    with torch.no_grad():
        q = torch.as_tensor(rng.uniform(-1.5, 1.5, (16, 1)))
        qd = torch.zeros(16, 1, dtype=torch.float64)
        points = [truth.to_pixels(q, truth.camera_values())]
        for t in range(actions.shape[1]):
            q, qd = truth.step(q, qd, actions[:, t])
            points.append(truth.to_pixels(q, truth.camera_values()))
    positions = torch.stack(points, 1)  # (E, T + 1, 1, 2) pixels
    positions = positions + 0.05 * torch.randn(positions.shape, generator=torch.Generator()
                                               .manual_seed(0), dtype=torch.float64)
    config = config_from_dict({
        "scene": "rail_spring",
        "model": {"physics": f"{__file__}:RailSpring", "n_objects": 1, "image_size": 32,
                  "dt": 0.3, "substeps": 4, "action_dim": 1}})
    learned = PIGModel(config.model, 4).cell.double()
    assert type(learned).__name__ == "RailSpring"
    chunks, chunk_actions = chunk_sequences(positions, actions, 8)
    fit = TrajectoryFit(chunks, chunk_actions, 0.3)
    optimizer = torch.optim.Adam(learned.parameters(), lr=3e-2)
    for step in range(200):
        loss = fit.loss(learned, fit_horizon(step, 50, 8))
        fit.zero_grad()
        optimizer.zero_grad()
        loss.backward()
        fit.step()
        optimizer.step()
    params, camera = learned.params, learned.camera
    assert abs(params["k"] - 0.8) < 0.05 and abs(params["damping"] - 0.3) < 0.05, params
    assert abs(camera["anchor_x"] - 18.0) < 0.2 and abs(camera["anchor_y"] - 14.0) < 0.2, camera

    # plan on the learned system; the true system moves: hold the puck at x = 23 px
    goal = torch.tensor([[23.0, 14.0]], dtype=torch.float64)
    cost = learned.make_cost(goal, **learned.defaults["cost"])
    planner = make_planner("gn", CellDynamics(learned.eval(), dtype=torch.float64), cost, 1, 15,
                           seed=0, dtype=torch.float64, samples=32, first_iterations=5)
    controller = MPCController(planner)
    q, qd = torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    with torch.no_grad():
        for _ in range(30):
            pos, vel = truth.state_to_pixels(q, qd)
            action = controller.act(torch.cat([pos, vel], -1)[0]).reshape(1, 1)
            q, qd = truth.step(q, qd, action.clamp(-1, 1))
        final = truth.to_pixels(q, truth.camera_values())[0, 0]
    assert float((final - goal[0]).norm()) < 0.3 and float(qd.abs()) < 0.1
