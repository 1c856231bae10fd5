"""A world model of DMC pendulum learned from its frames, end to end through the command line:
rollouts, training with the shipped config (shortened), and ``mpc --model CKPT``.

Skipped where the optional extra [dmc] (dm_control, shimmy) is not installed.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("dm_control")
pytest.importorskip("shimmy")

from pig_control.data.__main__ import main as data_main  # noqa: E402
from pig_control.mpc import main as mpc_main  # noqa: E402
from pig_control.train import main as train_main  # noqa: E402
from tests.cli_helpers import run_entry  # noqa: E402

PENDULUM = "dm_control/pendulum-swingup-v0"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(checkpoint, rollouts) of a short training on 4 short episodes (484 env frames)."""
    root = tmp_path_factory.mktemp("dmc_model")
    data = root / "rollouts.npz"
    assert data_main(["rollouts", PENDULUM, "--episodes", "4", "--steps", "60",
                      "--action-repeat", "2", "--policy", "colored", "--noise-std", "1.0",
                      "--seed", "3", "--num-envs", "1", "--quiet", "--out", str(data)]) == 0
    out = root / "run"
    assert train_main(["--config", "dmc_pendulum", "--data", str(data), "--out", str(out),
                       "--no-progress", "training.steps=210", "training.autoencoder_steps=10",
                       "training.dynamics_steps=200", "training.identify_warmup=100",
                       "training.checkpoint_every=210"]) == 0
    return out / "last.pt", data


def test_learned_from_frames_then_controlled_with_the_env_return(trained, tmp_path, capsys):
    """The pendulum's small-swing frequency comes out of 360 training frames and 200 fitting
    steps within 10 % of MuJoCo's, the torque per action within 50 % (it starts from the
    motion's rough guess and moves slowly; the full recipe gets both within 6 %, docs/dmc.md),
    nothing read from the simulator; ``mpc`` runs the model from frames and reports the env's
    return, the frames it learned from and the comparison."""
    checkpoint, _ = trained
    out = tmp_path / "mpc.json"
    status, stdout, err = run_entry(mpc_main, capsys, [
        "--env", PENDULUM, "--model", str(checkpoint), "--episodes", "1", "--max-steps", "10",
        "--horizon", "10", "--quiet", "--json", str(out)])
    assert status == 0, err
    report = json.loads(out.read_text())
    assert report["env_frames"] == 4 * (2 * 60 + 1)
    episode = report["episodes"][0]
    assert episode["env_steps"] == 20 and 0 <= report["mean_return"] <= 20
    compared = report["learned_vs_true"]
    assert abs(compared["frequency_rad_s"]["relative_error"]) < 0.10, compared
    assert abs(compared["torque_per_action_rad_s2"]["relative_error"]) < 0.5, compared
    assert compared["frequency_rad_s"]["true"] == pytest.approx((4.905 / 0.251) ** 0.5)
    assert PENDULUM in stdout


def test_a_model_of_another_system_is_refused(trained, tmp_path, capsys):
    status, _, err = run_entry(mpc_main, capsys, [
        "--env", "dm_control/cartpole-swingup-v0", "--model", str(trained[0]), "--quiet"])
    assert status == 2 and "does not describe" in err and len(err.strip().splitlines()) == 1


def test_a_shipped_model_of_an_env_id_runs_as_pretrained(trained, tmp_path, capsys,
                                                          monkeypatch):
    """A model shipped for a Gymnasium id lies at ``ID_control.pt`` with ``/`` written ``__``;
    ``mpc --model pretrained`` finds it by the id, runs it and records its sha256."""
    import shutil

    from pig_control import api
    from pig_control.provenance import sha256_file

    monkeypatch.setattr(api, "PRETRAINED_DIR", tmp_path)
    shipped = api.shipped_file(PENDULUM)
    assert shipped == tmp_path / "dm_control__pendulum-swingup-v0_control.pt"
    shutil.copy(trained[0], shipped)
    assert api.shipped_world_models() == {PENDULUM: shipped}
    out = tmp_path / "mpc.json"
    status, _, err = run_entry(mpc_main, capsys, [
        "--env", PENDULUM, "--episodes", "1", "--max-steps", "5", "--horizon", "10",
        "--quiet", "--json", str(out)])
    assert status == 0, err
    report = json.loads(out.read_text())
    assert report["model"] == "pretrained" and report["checkpoint"] == str(shipped)
    assert report["provenance"]["inputs"][str(shipped)]["sha256"] == sha256_file(shipped)


def test_the_python_api_drives_the_shipped_dmc_model_as_mpc_does():
    """``make_agent`` on the shipped DMC model acts from frames as the ``mpc`` loop's agent
    does (same seed, same actions, same return); the task fixes the goal, so one given is
    refused."""
    import numpy as np

    import pig_control
    from pig_control.control import dmc_model
    from pig_control.errors import UserInputError
    from pig_control.pixel_env import make_pixel_env

    model = pig_control.load_world_model(PENDULUM)
    assert model.scene == PENDULUM and model.env_frames > 0
    controller = pig_control.make_agent(model, horizon=10)
    assert controller.horizon == 10 and controller.planner == "gn"
    assert not controller.reads_state and "energy_weight" in controller.cost_options
    env = make_pixel_env(PENDULUM, size=64, action_repeat=2, max_episode_steps=24)
    try:
        frame, _ = env.reset(seed=7)
        controller.reset(frame, seed=7)
        actions, total, done = [], 0.0, False
        while not done:
            action = controller.predict(frame)
            actions.append(action)
            frame, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        own_env, agent, _ = dmc_model.build(PENDULUM, model.module, horizon=10,
                                            max_episode_steps=24)
        own_env.close()
        recorded = []

        def act(observation):
            action, ms = agent.act(observation)
            recorded.append(action)
            return action, ms, agent.last_cpu_ms

        episode = dmc_model.play_episodes(env, agent.reset, act, 1, 7, "model")[0]
    finally:
        env.close()
    assert len(actions) == 12 and np.allclose(np.stack(actions), np.stack(recorded))
    assert all(np.all(np.abs(a) <= 1.0) for a in actions)
    assert episode["return"] == total
    with pytest.raises(UserInputError, match="fixes its goal"):
        pig_control.make_agent(model, goal=np.zeros((64, 64, 3), np.uint8))


def test_the_shipped_cartpole_model_runs_with_no_training(tmp_path, capsys):
    """``mpc --env dm_control/cartpole-swingup-v0`` finds the shipped cart-pole model, acts
    from frames and compares what it learned with the simulator's truth."""
    out = tmp_path / "mpc.json"
    status, _, err = run_entry(mpc_main, capsys, [
        "--env", "dm_control/cartpole-swingup-v0", "--episodes", "1", "--max-steps", "10",
        "--horizon", "10", "--quiet", "--json", str(out)])
    assert status == 0, err
    report = json.loads(out.read_text())
    assert report["model"] == "pretrained" and report["env_frames"] <= 10_000
    assert report["episodes"][0]["control_steps"] == 10  # 20 env steps at action repeat 2
    compared = report["learned_vs_true"]
    assert compared["pole_com_distance_m"]["true"] == pytest.approx(0.5)
    assert abs(compared["pole_com_distance_m"]["relative_error"]) < 0.2
