"""Frames from any Gymnasium env: a tiny env defined here, DMC through Shimmy, bad input.

The tiny env is not one of ours: a point on a line with its own action bounds ([-2, 2]) and a
non-square frame, rendered with NumPy (no pygame needed).
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from pig_control.data import collect_rollouts, load_dataset
from pig_control.data.__main__ import main as data_main
from pig_control.errors import UserInputError
from pig_control.pixel_env import make_pixel_env, resize_frame
from tests.cli_helpers import run_entry


class Dot(gymnasium.Env):
    """A point x on a line, x' = action (units per step), action in [-0.5, 0.5]; a 40 x 80 frame
    with the point as a 4 px wide white bar centred at column 40 + 5 x (rounded)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    tau = 0.1

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.observation_space = spaces.Box(-np.inf, np.inf, (1,), np.float64)
        self.action_space = spaces.Box(-0.5, 0.5, (1,), np.float32)
        self.state = np.zeros(1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.np_random.uniform(-1, 1, size=1)
        return self.state.copy(), {}

    def step(self, action):
        self.state = self.state + float(np.asarray(action)[0])
        return self.state.copy(), -abs(float(self.state[0])), False, False, {}

    def render(self):
        frame = np.zeros((40, 80, 3), np.uint8)
        column = int(round(40 + 5 * self.state[0]))
        frame[:, max(column - 2, 0):max(column + 2, 0)] = 255
        return frame


class Blind(Dot):
    """The same point, but it cannot render."""

    metadata = {"render_modes": [], "render_fps": 10}


class Switch(Dot):
    """A discrete action space: not supported."""

    def __init__(self, render_mode=None):
        super().__init__(render_mode)
        self.action_space = spaces.Discrete(2)


class Eye(gymnasium.Env):
    """Observes pixels itself (48 x 48, every channel = the step count), takes no
    render_mode."""

    def __init__(self):
        self.observation_space = spaces.Box(0, 255, (48, 48, 3), np.uint8)
        self.action_space = spaces.Box(-3.0, 3.0, (2,), np.float32)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros((48, 48, 3), np.uint8), {}

    def step(self, action):
        self.t += 1
        return np.full((48, 48, 3), self.t, np.uint8), 0.0, False, False, {}


for _name, _cls in (("Dot", Dot), ("Blind", Blind), ("Switch", Switch), ("Eye", Eye)):
    if f"AnyEnvTest/{_name}-v0" not in gymnasium.registry:
        gymnasium.register(f"AnyEnvTest/{_name}-v0", entry_point=_cls, max_episode_steps=50)


def test_resize_is_anti_aliased():
    checker = np.zeros((64, 64, 3), np.uint8)
    checker[::2, ::2] = checker[1::2, 1::2] = 255
    small = resize_frame(checker, 32)
    assert small.shape == (32, 32, 3)
    assert np.all(np.abs(small.astype(int) - 128) <= 1)  # every 2 x 2 block averaged
    line = np.zeros((256, 256, 3), np.uint8)
    line[:, 101] = 255  # a 1 px line must not vanish at a quarter of the size
    shrunk = resize_frame(line, 64).astype(float)
    assert shrunk.max() > 0 and shrunk.mean() == pytest.approx(line.mean(), rel=0.02)
    assert resize_frame(line, 256) is line


def test_foreign_env_rollouts_frames_actions_states():
    data = collect_rollouts("AnyEnvTest/Dot-v0", episodes=3, steps=4, seed=5, action_repeat=2,
                            num_envs=2, progress=False)
    assert data["frames"].shape == (3, 5, 64, 64, 3) and data["frames"].dtype == np.uint8
    assert data["scene"] == data["env_id"] == "AnyEnvTest/Dot-v0"
    assert data["env_frames"] == 3 * (1 + 4 * 2)  # resets and every repeated step
    assert data["dt"] == pytest.approx(0.2) and data["action_repeat"] == 2
    assert data["action_low"].tolist() == [-0.5] and data["action_high"].tolist() == [0.5]
    assert data["state_source"] == "env.unwrapped.state" and not data["has_success"]
    actions, states = data["actions"][..., 0], data["states"][..., 0]
    assert np.all(np.abs(actions) <= 1)
    # stored actions are normalised: the env moved by 2 (repeat) * 0.5 (bound) * a per step
    np.testing.assert_allclose(np.diff(states, axis=1), actions, atol=1e-5)
    # the frame shows the bar where the state says: its centre, column round(40 + 5 x) in
    # pixel-edge coordinates of 80, lands at 0.8 times that in 64 (area averaging keeps it)
    bar = data["frames"][:, :, 10, :, 0].astype(float)
    centre = (bar * (np.arange(64) + 0.5)).sum(-1) / bar.sum(-1)
    np.testing.assert_allclose(centre, np.round(40 + 5 * states) * 0.8, atol=0.05)
    again = collect_rollouts("AnyEnvTest/Dot-v0", episodes=3, steps=4, seed=5, action_repeat=2,
                             num_envs=3, progress=False)
    assert np.array_equal(again["frames"], data["frames"])


def test_pixel_observations_are_used_and_resized():
    env = make_pixel_env("AnyEnvTest/Eye-v0", size=32, action_repeat=3)
    frame, info = env.reset(seed=0)
    assert env.frame_source == "observation" and frame.shape == (32, 32, 3)
    frame, _, _, _, info = env.step(np.zeros(2, np.float32))
    assert np.all(frame == 3) and info["env_steps"] == 3 and info["state"].shape == (0,)
    np.testing.assert_allclose(env.to_env_units([1.0, -0.5]), [3.0, -1.5])


def test_rollouts_cli_on_a_foreign_env(tmp_path, capsys):
    out = tmp_path / "dot.npz"
    status, _, err = run_entry(data_main, capsys, [
        "rollouts", "AnyEnvTest/Dot-v0", "--episodes", "2", "--steps", "3", "--size", "32",
        "--out", str(out), "--quiet"])
    assert status == 0, err
    data = load_dataset(out)
    assert data["frames"].shape == (2, 4, 32, 32, 3) and data["env_id"] == "AnyEnvTest/Dot-v0"


@pytest.mark.parametrize("env, message", [
    ("AnyEnvTest/Nothing-v0", "unknown env 'AnyEnvTest/Nothing-v0'"),
    ("AnyEnvTest/Blind-v0", "has no pixels"),
    ("AnyEnvTest/Switch-v0", "only continuous Box actions"),
])
def test_rollouts_bad_env_is_one_line_exit_2(tmp_path, capsys, env, message):
    out = tmp_path / "x.npz"
    status, _, err = run_entry(data_main, capsys, [
        "rollouts", env, "--episodes", "1", "--steps", "2", "--out", str(out), "--quiet"])
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_own_scene_keeps_native_size_and_counts_repeats():
    data = collect_rollouts("spring", episodes=2, steps=3, action_repeat=3, progress=False)
    assert data["frames"].shape[2:] == (32, 32, 3) and data["scene"] == "spring"
    assert data["env_frames"] == 2 * (1 + 3 * 3) and data["dt"] == pytest.approx(0.9)
    assert data["params"] == {"k": 4.0, "l": 6.0}


def test_dmc_without_the_extra_is_one_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "shimmy", None)  # import shimmy now fails
    with pytest.raises(UserInputError, match=r"optional extra \[dmc\]"):
        make_pixel_env("dm_control/pendulum-swingup-v0")


def test_dmc_pendulum_rollout_headless():
    pytest.importorskip("dm_control")
    pytest.importorskip("shimmy")
    data = collect_rollouts("dm_control/pendulum-swingup-v0", episodes=2, steps=4, seed=1,
                            action_repeat=2, num_envs=2, progress=False)
    assert data["frames"].shape == (2, 5, 64, 64, 3)
    assert data["frames"].std() > 5  # a rendered scene, not a blank image
    assert data["state_names"].tolist() == ["hinge_pos", "hinge_vel"]
    assert data["env_frames"] == 2 * (1 + 4 * 2) and data["dt"] == pytest.approx(0.04)
    assert np.all((data["rewards"] >= 0) & (data["rewards"] <= 2))  # two steps of [0, 1]
    assert np.all(np.diff(data["states"][..., 0], axis=1) != 0)  # it moves
    env = make_pixel_env("dm_control/pendulum-swingup-v0", action_repeat=2)
    try:
        frame, info = env.reset(seed=int(np.random.SeedSequence([1, 0]).generate_state(1)[0]))
        assert np.array_equal(frame, data["frames"][0, 0])
        assert np.allclose(info["state"], data["states"][0, 0])
    finally:
        env.close()
