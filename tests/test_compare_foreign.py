"""``python -m pig_control.compare`` on envs that are not ours: a tiny Gymnasium env defined in
tests/test_pixel_env.py (no goal, no success, its own action bounds) and DMC's pendulum."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import run_entry

import tests.test_pixel_env  # noqa: F401  (registers AnyEnvTest/Dot-v0)
from agents.sb3 import Baseline, GoalObservation
from pig_control.compare import main
from pig_control.pixel_env import make_pixel_env


def test_goal_free_observations_are_frames_or_the_true_state():
    env = make_pixel_env("AnyEnvTest/Dot-v0", size=16, action_repeat=2)
    pixels = GoalObservation(env, "pixels", frames=3)
    observation, _ = pixels.reset(seed=0)
    assert observation.shape == (16, 16, 9) and pixels.observation_space.contains(observation)
    state = GoalObservation(make_pixel_env("AnyEnvTest/Dot-v0", size=16), "state")
    observation, info = state.reset(seed=0)
    np.testing.assert_allclose(observation, info["state"].astype(np.float32))


def test_budgets_count_every_repeated_env_frame():
    baseline = Baseline("ppo", "state",
                        lambda: make_pixel_env("AnyEnvTest/Dot-v0", size=16, action_repeat=2),
                        budget=64, seed=0)
    baseline.train_to(64, progress=False)
    assert baseline.model.num_timesteps * 2 == baseline.frames_seen >= 64
    episodes = baseline.evaluate(2, seed=10**6)
    assert [e["steps"] for e in episodes] == [25, 25]  # 50 env steps at repeat 2
    assert all(e["success"] is None and e["final_distance"] is None for e in episodes)


def test_compare_on_a_foreign_env(tmp_path, capsys):
    report = tmp_path / "dot.json"
    argv = ["--env", "AnyEnvTest/Dot-v0", "--no-oracle", "--algos", "ppo", "--obs", "pixels",
            "--steps", "64", "--size", "16", "--episodes", "2", "--out", str(tmp_path / "run"),
            "--json", str(report), "--quiet", "--return-threshold", "-1000"]
    status, _, err = run_entry(main, capsys, argv)
    assert status == 0, err
    result = json.loads(report.read_text())
    (row,) = result["rows"]
    assert row["agent"] == "ppo-pixels" and row["env_frames"] >= 64
    assert row["success_rate"] is None and row["intervals"]["success"] is None
    assert row["mean_return"] == pytest.approx(np.mean([e["return"] for e in row["episodes"]]))
    assert result["frames_to_return"] == {"ppo-pixels": row["env_frames"]}
    assert result["action_repeat"] == 2 and result["size"] == 16
    assert report.with_suffix(".png").stat().st_size > 0


def test_the_dmc_oracle_row_is_the_mpc_oracle(tmp_path, capsys):
    from pig_control.mpc import main as mpc_main

    report, single = tmp_path / "compare.json", tmp_path / "mpc.json"
    argv = ["--env", "dm_control/pendulum-swingup-v0", "--algos", "", "--episodes", "1",
            "--out", str(tmp_path / "run"), "--json", str(report), "--quiet"]
    status, _, err = run_entry(main, capsys, argv)
    assert status == 0, err
    (row,) = json.loads(report.read_text())["rows"]
    assert run_entry(mpc_main, capsys, ["--env", "dm_control/pendulum-swingup-v0", "--model",
                                        "oracle", "--episodes", "1", "--quiet", "--json",
                                        str(single)])[0] == 0
    assert row["agent"] == "oracle"
    assert row["mean_return"] == pytest.approx(json.loads(single.read_text())["mean_return"])


@pytest.mark.parametrize("argv, message", [
    (["--env", "AnyEnvTest/Dot-v0"], "--no-oracle"),
    (["--env", "AnyEnvTest/Dot-v0", "--no-oracle", "--pig-models", "x.pt"], "no PIG world model"),
    (["--env", "spring", "--size", "32"], "--size and --action-repeat"),
    (["--env", "AnyEnvTest/Blind-v0", "--no-oracle"], "has no pixels"),
])
def test_bad_foreign_options_exit_2_with_one_line(capsys, tmp_path, argv, message):
    status, _, err = run_entry(main, capsys, [*argv, "--out", str(tmp_path)])
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
