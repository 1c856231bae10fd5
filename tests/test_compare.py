"""Model-free baselines (agents/sb3.py) and ``python -m pig_control.compare`` (tiny budgets:
seconds each)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from cli_helpers import run_entry
from stable_baselines3.common.env_checker import check_env

import envs
from agents.sb3 import (
    Baseline,
    GoalObservation,
    WholeBudgetLinear,
    parse_budgets,
    parse_names,
    sb3_kwargs,
    state_features,
)
from pig_control.api import PRETRAINED_DIR
from pig_control.compare import frames_to_success, main
from pig_control.provenance import sha256_file

ROW_KEYS = {"agent", "env_frames", "success_rate", "mean_return", "wall_s"}


def make(name: str):
    return gym.make(envs.SCENES[name])


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    return run_entry(main, capsys, argv)


# --- observations -------------------------------------------------------------------------------
def test_pixel_observation_stacks_frames_then_goal_image():
    env = GoalObservation(make("spring"), "pixels", frames=2)
    observation, info = env.reset(seed=3)
    scene = env.unwrapped
    assert observation.shape == (32, 32, 9) and observation.dtype == np.uint8
    assert env.observation_space.contains(observation)
    goal_image = scene.render_states(np.asarray(info["goal"]))
    np.testing.assert_array_equal(observation[..., 6:], goal_image)
    np.testing.assert_array_equal(observation[..., :3], observation[..., 3:6])  # reset repeats
    frame_before = observation[..., 3:6].copy()
    observation, *_ = env.step(np.ones(2, np.float32))
    np.testing.assert_array_equal(observation[..., :3], frame_before)  # oldest first
    np.testing.assert_array_equal(observation[..., 6:], goal_image)  # the goal stays
    assert not np.array_equal(observation[..., 3:6], frame_before)


def test_state_observation_is_state_and_goal_features():
    env = GoalObservation(make("spring"), "state")
    observation, info = env.reset(seed=1)
    scene = env.unwrapped
    expected = np.concatenate([np.asarray(info["state"]).ravel(),
                               np.asarray(info["goal"]).ravel()]) / scene.image_size
    np.testing.assert_allclose(observation, expected, rtol=1e-6)
    pendulum = make("pendulum").unwrapped
    features = state_features(pendulum, np.array([np.pi / 2, 4.0]))
    np.testing.assert_allclose(features, [0.0, 1.0, 0.5], atol=1e-7)


@pytest.mark.parametrize("kind", ["pixels", "state"])
@pytest.mark.parametrize("name", ["spring", "pendulum"])
def test_wrapped_scenes_pass_sb3_check_env(name, kind):
    check_env(GoalObservation(make(name), kind), warn=False)


def test_bad_observation_kind_is_refused():
    with pytest.raises(ValueError, match="observation kind"):
        GoalObservation(make("spring"), "depth")


# --- hyperparameters and parsing ---------------------------------------------------------------
def test_ppo_rollout_shrinks_to_a_small_budget_and_sac_buffer_holds_the_budget():
    n_envs, normalize, kwargs = sb3_kwargs("ppo", "pixels", budget=1024)
    assert (n_envs, normalize) == (8, True)
    assert kwargs["n_steps"] == 128 and kwargs["batch_size"] == 128
    assert kwargs["learning_rate"](1.0) == pytest.approx(1e-4)  # zoo's lin_1e-4
    assert kwargs["learning_rate"](0.5) == pytest.approx(5e-5)
    _, _, kwargs = sb3_kwargs("ppo", "state", budget=10**6)
    assert kwargs["n_steps"] == 1024 and kwargs["gamma"] == 0.9  # zoo's Pendulum-v1
    _, _, kwargs = sb3_kwargs("sac", "state", budget=30_000)
    assert kwargs["buffer_size"] == 30_000 and kwargs["learning_rate"] == 1e-3


def test_parse_budgets_and_names():
    assert parse_budgets("3000,1000, 3000") == [1000, 3000]
    assert parse_budgets("1e4") == [10_000]
    for bad in ("", "a,b", "0", "-5"):
        with pytest.raises(ValueError, match="--steps"):
            parse_budgets(bad)
    assert parse_names("SAC, ppo,sac", ("ppo", "sac"), "--algos") == ["sac", "ppo"]
    with pytest.raises(ValueError, match="--algos"):
        parse_names("dqn", ("ppo", "sac"), "--algos")


def test_frames_to_success_takes_the_fewest_frames_that_reach_the_threshold():
    rows = [{"agent": "a", "env_frames": 100, "success_rate": 0.5},
            {"agent": "a", "env_frames": 300, "success_rate": 0.95},
            {"agent": "a", "env_frames": 200, "success_rate": 0.9},
            {"agent": "b", "env_frames": 100, "success_rate": 0.85}]
    assert frames_to_success(rows, 0.9) == {"a": 200, "b": None}


# --- training, saving, evaluation --------------------------------------------------------------
def test_baseline_trains_saves_and_loads_the_same_policy(tmp_path):
    torch.set_num_threads(1)
    baseline = Baseline("sac", "state", lambda: make("spring"), budget=200, seed=0)
    baseline.train_to(120, progress=False)
    assert baseline.frames_seen == 120 and baseline.train_seconds > 0
    path = tmp_path / "sac.zip"
    baseline.save(path)
    observation = GoalObservation(make("spring"), "state").reset(seed=0)[0]
    before = baseline.model.predict(observation, deterministic=True)[0]
    other = Baseline("sac", "state", lambda: make("spring"), budget=200, seed=1)
    other.load(path)
    assert other.frames_seen == 120
    np.testing.assert_allclose(other.model.predict(observation, deterministic=True)[0], before)
    results = other.evaluate(episodes=2, seed=5, max_steps=3)
    assert [r["seed"] for r in results] == [5, 6] and all(r["steps"] == 3 for r in results)


def test_linear_learning_rate_decays_over_the_whole_budget():
    schedule = WholeBudgetLinear(1e-4, budget=4096, call_end=4096)
    assert schedule(1.0) == pytest.approx(1e-4) and schedule(0.0) == pytest.approx(0.0)
    # a second learn call, from 1,024 to 2,048 frames: SB3 reports progress 0.5 at its start
    schedule = WholeBudgetLinear(1e-4, budget=4096, call_end=2048)
    assert schedule(0.5) == pytest.approx(0.75e-4)
    assert schedule(0.0) == pytest.approx(0.5e-4)


def test_loading_keeps_this_runs_rollout_size(tmp_path):
    small = Baseline("ppo", "state", lambda: make("spring"), budget=256, seed=0)
    assert small.model.n_steps == 64
    small.save(tmp_path / "ppo.zip")
    large = Baseline("ppo", "state", lambda: make("spring"), budget=10**6, seed=0)
    large.load(tmp_path / "ppo.zip")
    assert large.model.n_steps == 1024


def test_a_corrupt_baseline_checkpoint_is_a_clear_error(tmp_path):
    baseline = Baseline("sac", "state", lambda: make("spring"), budget=200, seed=0)
    baseline.save(tmp_path / "sac.zip")
    (tmp_path / "sac.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot load the baseline checkpoint"):
        baseline.load(tmp_path / "sac.zip")


# --- the command line ---------------------------------------------------------------------------
def test_tiny_comparison_end_to_end_and_resume(tmp_path, capsys):
    out, report = tmp_path / "run", tmp_path / "compare.json"
    argv = ["--env", "spring", "--algos", "ppo", "--obs", "state", "--steps", "128",
            "--episodes", "1", "--out", str(out), "--json", str(report), "--quiet"]
    status, stdout, err = run(capsys, argv)
    assert status == 0, err
    result = json.loads(report.read_text())
    agents = [r["agent"] for r in result["rows"]]
    assert agents == ["oracle", "pig-mpc", "ppo-state"]
    for row in result["rows"]:
        assert ROW_KEYS <= set(row)
        assert [e["seed"] for e in row["episodes"]] == [10**6]  # reporting seeds, paired
        assert row["intervals"]["success"]["n"] == 1
        assert row["success_rate"] == row["intervals"]["success"]["rate"]
    assert result["train_seed"] == 0
    shipped = str(PRETRAINED_DIR / "spring_control.pt")
    assert result["provenance"]["inputs"][shipped]["sha256"] == sha256_file(shipped)
    rows = {r["agent"]: r for r in result["rows"]}
    # the MPC rows are the episodes python -m pig_control.mpc runs on the same seed
    from pig_control.mpc import main as mpc_main

    for agent, model in (("oracle", "oracle"), ("pig-mpc", "pretrained")):
        single = tmp_path / f"{agent}.json"
        assert run_entry(mpc_main, capsys, ["--env", "spring", "--model", model, "--episodes",
                                            "1", "--seed", str(10**6), "--quiet", "--json",
                                            str(single)])[0] == 0
        single = json.loads(single.read_text())
        assert rows[agent]["success_rate"] == single["success_rate"]
        assert rows[agent]["mean_return"] == single["mean_return"]
    assert rows["oracle"]["env_frames"] == 0
    assert rows["pig-mpc"]["env_frames"] == 9996  # the shipped model's rollouts
    assert rows["ppo-state"]["env_frames"] == 128
    assert set(result["frames_to_success"]) == set(agents)
    assert report.with_suffix(".png").stat().st_size > 0
    assert (out / "ppo-state" / "frames_128.zip").exists()
    log = out / "ppo-state" / "logs" / "frames_0_128" / "progress.csv"
    assert "time/total_timesteps" in log.read_text()
    # resume: every row is reused, nothing is trained or evaluated again
    status, stdout, err = run(capsys, [*argv, "--resume", "--overwrite"])
    assert status == 0, err
    resumed = json.loads(report.read_text())
    assert resumed["rows"] == result["rows"]
    assert result["reused_rows"] == []
    assert resumed["reused_rows"] == ["oracle at 0 frames", "pig-mpc at 9996 frames",
                                      "ppo-state at 128 frames"]


def test_resume_tolerates_a_row_cut_short(tmp_path, capsys):
    out, report = tmp_path / "run", tmp_path / "compare.json"
    argv = ["--env", "spring", "--algos", "", "--pig-models", "", "--episodes", "1",
            "--out", str(out), "--json", str(report), "--quiet"]
    assert run(capsys, argv)[0] == 0
    rows_file = out / "rows.jsonl"
    good = rows_file.read_text()
    rows_file.write_text(good + '{"agent": "ppo-pix')  # killed while writing
    status, _, err = run(capsys, [*argv, "--resume", "--overwrite"])
    assert status == 0, err
    assert rows_file.read_text() == good


@pytest.mark.parametrize("argv, message", [
    (["--algos", "dqn"], "--algos"),
    (["--obs", "depth"], "--obs"),
    (["--steps", "ten"], "--steps"),
    (["--episodes", "0"], "--episodes"),
    (["--max-frames", "td3-pixels=10"], "--max-frames"),
    (["--max-frames", "sac-pixels"], "NAME=VALUE"),
    (["--pig-models", "missing.pt"], "no such checkpoint"),
    (["--success-threshold", "1.5"], "--success-threshold"),
    (["--seed", "999990", "--episodes", "20"], "straddle"),
    (["--train-seed", "1000000"], "--train-seed"),
])
def test_bad_options_exit_2_with_one_line(capsys, tmp_path, argv, message):
    status, _, err = run(capsys, ["--env", "spring", "--out", str(tmp_path), *argv])
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_unknown_env_exits_2(capsys, tmp_path):
    status, _, err = run(capsys, ["--env", "cartpole", "--out", str(tmp_path)])
    assert status == 2 and "unknown env" in err
