"""Datasets, rollouts, the loader and ``python -m pig_control.data`` (tiny sizes: seconds each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pig_control.data import (
    collect_rollouts,
    colored_noise,
    generate_dataset,
    load_dataset,
    random_actions,
    save_npz,
)
from pig_control.errors import UserInputError

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "pig_control.data", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def lag1_autocorrelation(x: np.ndarray) -> float:
    """Lag-1 autocorrelation along axis 1, pooled over everything else."""
    x = x - x.mean(axis=1, keepdims=True)
    return float((x[:, 1:] * x[:, :-1]).sum() / (x * x).sum())


# --- pure functions -------------------------------------------------------------------------

def test_colored_noise_is_bounded_normalised_and_correlated():
    rng = np.random.default_rng(0)
    for t in (2, 7, 30):  # odd and even lengths: exact normalisation either way
        small = colored_noise(rng, (4000, t, 1), beta=2.0, std=0.1)
        assert abs(small.std() - 0.1) < 0.005
    x = colored_noise(rng, (200, 40, 2), beta=2.0, std=0.5)
    assert x.dtype == np.float32 and x.shape == (200, 40, 2)
    assert np.all(np.abs(x) <= 1.0)
    assert lag1_autocorrelation(x) > 0.8
    assert abs(lag1_autocorrelation(colored_noise(rng, (200, 40, 2), beta=0.0))) < 0.1
    assert abs(lag1_autocorrelation(random_actions(rng, (200, 40, 2)))) < 0.1
    again = colored_noise(np.random.default_rng(3), (2, 10, 1))
    assert np.array_equal(again, colored_noise(np.random.default_rng(3), (2, 10, 1)))


def test_generate_rejects_bad_values_before_any_work():
    with pytest.raises(UserInputError, match="unknown scene"):
        generate_dataset("pendulum")
    with pytest.raises(UserInputError, match="--seq-len"):
        generate_dataset("spring", seq_len=0)
    with pytest.raises(UserInputError, match="--train"):
        generate_dataset("spring", n_train=-1)


# --- generate -------------------------------------------------------------------------------

def test_generate_spring_format_and_determinism():
    kwargs = dict(n_train=3, n_valid=2, n_test=1, seq_len=5, test_seq_len=7, progress=False)
    data = generate_dataset("spring", seed=7, **kwargs)
    for split, n, t in (("train", 3, 5), ("valid", 2, 5), ("test", 1, 7)):
        assert data[f"{split}_x"].dtype == np.uint8
        assert data[f"{split}_x"].shape == (n, t, 32, 32, 3)
        assert data[f"{split}_states"].dtype == np.float32
        assert data[f"{split}_states"].shape == (n, t, 2, 4)
    assert data["train_x"].max() > 0  # balls are drawn
    assert data["params"] == {"k": 4.0, "l": 6.0} and data["dt"] == pytest.approx(0.3)
    again = generate_dataset("spring", seed=7, **kwargs)
    other = generate_dataset("spring", seed=8, **kwargs)
    for key in ("train_x", "test_x", "train_states"):
        assert np.array_equal(data[key], again[key])
    assert not np.array_equal(data["train_states"], other["train_states"])


def test_generate_gravity_uses_the_paper_lengths():
    data = generate_dataset("gravity", n_train=2, n_valid=1, n_test=1, progress=False)
    assert data["train_x"].shape == (2, 20, 36, 36, 3)
    assert data["valid_x"].shape == (1, 20, 36, 36, 3)
    assert data["test_x"].shape == (1, 40, 36, 36, 3)
    assert data["test_states"].shape == (1, 40, 3, 4)


def test_generate_cli_writes_a_loadable_file_and_a_picture(tmp_path):
    out = tmp_path / "new" / "dir" / "spring.npz"  # a missing directory is created
    summary = tmp_path / "summary.json"
    result = run_cli("generate", "spring", "--out", str(out), "--train", "3", "--valid", "1",
                     "--test", "1", "--seq-len", "4", "--test-seq-len", "6", "--seed", "5",
                     "--json", str(summary))
    assert result.returncode == 0, result.stderr
    with np.load(out, allow_pickle=False) as raw:  # plain arrays only: no pickle needed
        assert {"train_x", "valid_x", "test_x", "train_states", "valid_states", "test_states",
                "scene", "params", "dt", "seed", "command"} <= set(raw.files)
    data = load_dataset(out)
    assert data["kind"] == "dataset" and data["scene"] == "spring" and data["seed"] == 5
    assert data["params"] == {"k": 4.0, "l": 6.0}
    assert data["command"].startswith("python -m pig_control.data generate spring")
    assert data["test_x"].shape == (1, 6, 32, 32, 3)
    assert json.loads(summary.read_text())["frames"] == 3 * 4 + 4 + 6
    assert [p.name for p in out.parent.iterdir()] == ["spring.npz"]  # no temporary files left

    png = tmp_path / "spring.png"
    result = run_cli("show", str(out), "--out", str(png), "--sequences", "2")
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- rollouts -------------------------------------------------------------------------------

@pytest.mark.parametrize("env, state_shape", [("spring", (2, 4)), ("pendulum", (2,))])
def test_rollouts_shapes_bounds_and_continuity(env, state_shape):
    import envs

    data = collect_rollouts(env, episodes=3, steps=6, policy="random", seed=1, num_envs=2,
                            progress=False)
    n, t = 3, 6
    h = data["frames"].shape[2]
    assert data["frames"].shape == (n, t + 1, h, h, 3) and data["frames"].dtype == np.uint8
    d = data["actions"].shape[-1]
    assert data["actions"].shape == (n, t, d) and data["actions"].dtype == np.float32
    assert np.all(np.abs(data["actions"]) <= 1.0)
    assert data["states"].shape == (n, t + 1) + state_shape
    assert data["states"].dtype == np.float32
    assert data["rewards"].shape == (n, t) and data["is_success"].shape == (n, t)
    assert data["goals"].shape[0] == n
    assert np.array_equal(data["lengths"], [t] * n)
    assert data["env_frames"] == n * (t + 1)
    # Exactly T steps from one reset: the recorded states follow the true physics throughout
    # (an autoreset in the middle would break this), and the frames show those states.
    scene = envs.make_scene(env, actuated=True)
    replay = scene.simulate(data["states"][:, 0], data["actions"])
    np.testing.assert_allclose(replay, data["states"], rtol=1e-4, atol=1e-3)
    rendered = scene.render_states(data["states"]).astype(int)  # float32 states: +-1 rounding
    assert np.abs(rendered - data["frames"]).max() <= 1
    # Reproducible, and independent of how many environments run side by side.
    again = collect_rollouts(env, episodes=3, steps=6, policy="random", seed=1, num_envs=3,
                             progress=False)
    for key in ("frames", "actions", "states", "goals"):
        assert np.array_equal(data[key], again[key]), key


def test_rollouts_longer_than_the_registered_time_limit_are_not_cut():
    import envs

    scene = envs.make_scene("spring", actuated=True)
    steps = scene.max_episode_steps + 5
    data = collect_rollouts("spring", episodes=2, steps=steps, seed=3, num_envs=2,
                            progress=False)
    assert data["frames"].shape[1] == steps + 1 and np.array_equal(data["lengths"], [steps] * 2)
    replay = scene.simulate(data["states"][:, 0], data["actions"])
    np.testing.assert_allclose(replay, data["states"], rtol=1e-3, atol=1e-2)


def test_an_episode_that_ends_early_is_padded_not_autoreset():
    from pig_control.data.rollouts import _run_batch

    class TwoEnvs:  # sub-env 0 terminates after its 2nd step; its 3rd step() would autoreset
        def reset(self, seed):
            self.t = 0
            return np.zeros((2, 1, 1, 3), np.uint8), {"state": np.zeros((2, 1)),
                                                      "goal": np.zeros((2, 1))}

        def step(self, action):
            self.t += 1
            value = 0 if self.t == 3 else self.t  # sub-env 0 "resets" at t = 3
            obs = np.full((2, 1, 1, 3), [[[[value]]], [[[self.t]]]], np.uint8)
            info = {"state": obs[:, 0, 0, :1].astype(float), "goal": np.zeros((2, 1)),
                    "is_success": np.array([True, False])}
            return obs, np.ones(2), np.array([self.t == 2, False]), np.zeros(2, bool), info

    out = {"frames": np.zeros((2, 5, 1, 1, 3), np.uint8),
           "actions": np.zeros((2, 4, 1), np.float32), "rewards": np.zeros((2, 4), np.float32),
           "is_success": np.zeros((2, 4), bool), "lengths": np.full(2, 4)}
    produced = _run_batch(TwoEnvs(), out, slice(0, 2), np.full((2, 4, 1), 0.5, np.float32),
                          [0, 1])
    assert produced == 2 + 2 + 4
    assert out["lengths"].tolist() == [2, 4]
    assert out["frames"][0, :, 0, 0, 0].tolist() == [0, 1, 2, 2, 2]  # padded with its end
    assert out["states"][0, :, 0].tolist() == [0, 1, 2, 2, 2]
    assert out["frames"][1, :, 0, 0, 0].tolist() == [0, 1, 2, 3, 4]
    assert out["actions"][0, :, 0].tolist() == [0.5, 0.5, 0, 0]
    assert out["rewards"][0].tolist() == [1, 1, 0, 0]
    assert out["is_success"][0].tolist() == [True, True, False, False]


def test_colored_rollouts_are_temporally_correlated_and_random_are_not():
    kwargs = dict(episodes=4, steps=40, seed=2, num_envs=4, progress=False)
    colored = collect_rollouts("pendulum", policy="colored", **kwargs)["actions"]
    random = collect_rollouts("pendulum", policy="random", **kwargs)["actions"]
    assert np.all(np.abs(colored) <= 1.0)
    assert lag1_autocorrelation(colored) > 0.7
    assert abs(lag1_autocorrelation(random)) < 0.2


def test_rollouts_cli(tmp_path):
    out = tmp_path / "roll.npz"
    result = run_cli("rollouts", "pendulum", "--episodes", "2", "--steps", "3", "--policy",
                     "colored", "--seed", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = load_dataset(out)
    assert data["kind"] == "rollouts" and data["policy"] == "colored"
    assert data["frames"].shape[:2] == (2, 4) and data["actions"].shape[:2] == (2, 3)
    assert data["env_frames"] == 8 and "--policy colored" in data["command"]


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["generate", "nosuch", "--out", "{tmp}/x.npz"],
    ["generate", "spring", "--out", "{tmp}/x.npz", "--train", "-1"],
    ["generate", "spring", "--out", "{tmp}/x.npz", "--seq-len", "0"],
    ["generate", "spring", "--out", "{tmp}", "--train", "1", "--valid", "0", "--test", "0"],
    ["rollouts", "spring", "--episodes", "0", "--steps", "5", "--out", "{tmp}/x.npz"],
    ["rollouts", "spring", "--episodes", "2", "--steps", "abc", "--out", "{tmp}/x.npz"],
    ["show", "{tmp}/missing.npz", "--out", "{tmp}/x.png"],
    ["show", "{tmp}/corrupt.npz", "--out", "{tmp}/x.png"],
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args):
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip archive")
    result = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "x.png").exists()


def test_a_good_file_survives_a_failed_run(tmp_path, monkeypatch):
    out = tmp_path / "good.npz"
    save_npz(out, generate_dataset("spring", n_train=1, n_valid=1, n_test=1, seq_len=2,
                                   test_seq_len=2, progress=False))
    before = out.read_bytes()
    result = run_cli("generate", "spring", "--out", str(out), "--seq-len", "0")
    assert result.returncode == 2 and out.read_bytes() == before

    def broken(handle, **arrays):  # dies half-way through writing
        handle.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        save_npz(out, {"train_x": np.zeros((1, 1, 2, 2, 3), np.uint8)}, overwrite=True)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["good.npz"]


def test_load_dataset_names_the_file_and_the_problem(tmp_path):
    good = {f"{s}_x": np.zeros((2, 3, 8, 8, 3), np.uint8) for s in ("train", "valid", "test")}
    cases = {
        "missing.npz": (None, "no such file"),
        "corrupt.npz": (b"garbage, not a zip", "not a readable .npz"),
        "truncated.npz": ("truncate", "not a readable .npz"),
        "nokeys.npz": ({"something": np.zeros(3)}, "missing keys"),
        "novalid.npz": ({k: v for k, v in good.items() if k != "valid_x"}, "missing key 'valid_x'"),
        "float.npz": ({**good, "train_x": good["train_x"].astype(np.float32)}, "must be uint8"),
        "flat.npz": ({**good, "test_x": np.zeros((2, 8, 8, 3), np.uint8)}, "5 dimensions"),
        "states.npz": ({**good, "train_states": np.zeros((2, 4, 2, 4), np.float32)},
                       "train_states"),
        "params.npz": ({**good, "params": np.array("{not json")}, "'params'"),
        "actions.npz": ({"frames": np.zeros((2, 4, 8, 8, 3), np.uint8),
                         "actions": np.zeros((2, 4, 1), np.float32),
                         "states": np.zeros((2, 4, 2), np.float32)}, "'actions'"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, dict):
            np.savez(path, **content)
        elif content == "truncate":
            np.savez(path, **good)
            path.write_bytes(path.read_bytes()[:200])
        with pytest.raises(ValueError, match=message) as error:
            load_dataset(path)
        assert name in str(error.value)
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not an .npz"):
        load_dataset(tmp_path / "single.npy")
    np.savez(tmp_path / "paper.npz", **good)  # the paper's original files load as they are
    assert load_dataset(tmp_path / "paper.npz")["kind"] == "dataset"
