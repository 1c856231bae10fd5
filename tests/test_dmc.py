"""The DMC truth read from MuJoCo, the described systems run with it, and ``mpc`` on DMC.

Skipped where the optional extra [dmc] (dm_control, shimmy) is not installed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("dm_control")
pytest.importorskip("shimmy")

from pig_control import dmc  # noqa: E402
from pig_control.control import dmc_oracle  # noqa: E402
from pig_control.control.system_oracle import CoordinateCost, CoordinateDynamics  # noqa: E402
from pig_control.mpc import main as mpc_main  # noqa: E402
from tests.cli_helpers import run_entry  # noqa: E402

PENDULUM, CARTPOLE = "dm_control/pendulum-swingup-v0", "dm_control/cartpole-swingup-v0"


def test_pendulum_truth_is_read_from_the_model():
    env, oracle, truth, described = dmc_oracle.build(PENDULUM, action_repeat=2)
    env.close()
    assert truth["inertia_kg_m2"] == pytest.approx(0.251)  # 1 kg at 0.5 m + the sphere's own
    assert truth["mgl_N_m"] == pytest.approx(4.905)
    assert truth["damping_N_m_s"] == pytest.approx(0.1) and truth["gear"] == 1.0
    assert truth["timestep_s"] == pytest.approx(0.02) and described["dt"] == pytest.approx(0.04)
    params = described["params"]  # the system's 3 g / (2 l) is MuJoCo's m g l / I
    assert 1.5 * params["g"] / params["l"] == pytest.approx(4.905 / 0.251)


@pytest.mark.parametrize("env_id, steps, tolerance", [(PENDULUM, 25, 0.05), (CARTPOLE, 25, 0.05)])
def test_the_described_system_follows_mujoco(env_id, steps, tolerance):
    """From the same state under the same actions, the described system with the true values
    and MuJoCo stay together over ``steps`` control steps (1 s pendulum, 0.5 s cart-pole)."""
    env, oracle, truth, described = dmc_oracle.build(env_id, action_repeat=2)
    domain = dmc.domain_of(env_id)
    dynamics = CoordinateDynamics(oracle.system)
    try:
        env.reset(seed=3)
        q, qd = dmc.true_coordinates(env.unwrapped.physics, domain)
        state = torch.tensor(np.concatenate([q, qd]), dtype=torch.float32)[None]
        actions = np.sin(np.arange(steps) / 4.0).astype(np.float32)
        errors = []
        for a in actions:
            env.step(np.array([a]))
            with torch.no_grad():
                state = dynamics(state, torch.tensor([[a]]))
            q, qd = dmc.true_coordinates(env.unwrapped.physics, domain)
            errors.append(np.abs(state[0, :len(q)].numpy() - q).max())
    finally:
        env.close()
    assert max(errors) < tolerance, errors


def test_coordinate_cost_is_the_square_sum_of_its_residuals():
    env, oracle, _, _ = dmc_oracle.build(CARTPOLE, action_repeat=2)
    env.close()
    cost = oracle.cost
    assert isinstance(cost, CoordinateCost)
    generator = torch.Generator().manual_seed(0)
    states = torch.randn(5, 7, 4, generator=generator)
    actions = torch.rand(5, 7, 1, generator=generator) * 2 - 1
    residuals = cost.residuals(states, actions)
    assert torch.allclose(cost(states, actions), residuals.square().sum((1, 2)))
    upright = torch.zeros(1, 7, 4)
    hanging = upright.clone()
    hanging[..., 1] = np.pi
    assert cost(upright, torch.zeros(1, 7, 1)) < cost(hanging, torch.zeros(1, 7, 1))


def test_mpc_oracle_on_dmc_reports_the_env_return(tmp_path, capsys):
    out = tmp_path / "dmc.json"
    status, stdout, err = run_entry(mpc_main, capsys, [
        "--env", PENDULUM, "--model", "oracle", "--episodes", "1", "--max-steps", "10",
        "--horizon", "10", "--quiet", "--json", str(out)])
    assert status == 0, err
    report = json.loads(out.read_text())
    episode = report["episodes"][0]
    assert episode["env_steps"] == 20 and episode["control_steps"] == 10
    assert 0 <= report["mean_return"] <= 20 and report["success_rate"] is None
    assert report["truth"]["mgl_N_m"] == pytest.approx(4.905)
    assert report["action_repeat"] == 2 and PENDULUM in stdout


@pytest.mark.parametrize("argv, message", [
    (["--env", "dm_control/acrobot-swingup-v0", "--model", "pretrained"], "no world model for"),
    (["--env", "dm_control/acrobot-swingup-v0", "--model", "oracle"], "no described system"),
    (["--env", "Nope-v9", "--model", "oracle"], "unknown env"),
    (["--env", PENDULUM, "--model", "oracle", "--env-param", "k=2"], "--env-param"),
    (["--env", "spring", "--model", "oracle", "--action-repeat", "2"], "--action-repeat"),
])
def test_mpc_bad_foreign_input_is_one_line_exit_2(capsys, argv, message):
    status, _, err = run_entry(mpc_main, capsys, argv + ["--quiet"])
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
