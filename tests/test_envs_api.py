"""Gymnasium contract of the scenes: registration, checkers, options, info, goals, bad input."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs

IDS = list(envs.SCENES.values())
ACTION_DIMS = {"bouncing": 4, "spring": 2, "gravity": 6, "mnist_spring": 2, "pendulum": 1}
IMAGE_SIZES = {"bouncing": 32, "spring": 32, "gravity": 36, "mnist_spring": 64, "pendulum": 32}


def test_registry_and_make_scene():
    assert envs.SCENES == {
        "bouncing": "PIG/BouncingBalls-v0",
        "spring": "PIG/Spring-v0",
        "gravity": "PIG/ThreeBody-v0",
        "mnist_spring": "PIG/DigitSpring-v0",
        "pendulum": "PIG/Pendulum-v0",
    }
    for name, env_id in envs.SCENES.items():
        assert env_id in gym.registry
        scene = envs.make_scene(name, actuated=False)
        assert scene.name == name and not scene.actuated
        assert scene.image_size == IMAGE_SIZES[name] and scene.action_dim == ACTION_DIMS[name]
        assert scene.max_episode_steps == gym.spec(env_id).max_episode_steps
        assert isinstance(envs.make_scene(env_id), type(scene))
    with pytest.raises(ValueError, match="unknown scene 'springs'.*bouncing, spring, gravity"):
        envs.make_scene("springs")


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_and_sb3_check_env(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SB3 warns that 32 px is below its CNN's minimum
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped)
    name = {v: k for k, v in envs.SCENES.items()}[env_id]
    size = IMAGE_SIZES[name]
    assert env.observation_space == gym.spaces.Box(0, 255, (size, size, 3), np.uint8)
    assert env.action_space == gym.spaces.Box(-1, 1, (ACTION_DIMS[name],), np.float32)
    assert env.unwrapped.render_mode == "rgb_array"
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_info_every_step_determinism_and_render(env_id):
    def run(seed):
        env = gym.make(env_id, render_mode="rgb_array")
        env.action_space.seed(seed)
        obs, info = env.reset(seed=seed)
        frames, infos = [obs], [info]
        for _ in range(5):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert isinstance(reward, float) and not terminated and not truncated
            frames.append(obs)
            infos.append(info)
        np.testing.assert_array_equal(env.render(), obs)
        return np.array(frames), infos

    frames, infos = run(7)
    scene = envs.make_scene({v: k for k, v in envs.SCENES.items()}[env_id])
    for info in infos:
        assert set(info) >= {"state", "goal", "is_success"}
        assert info["state"].shape == scene.state_shape == info["goal"].shape
        assert isinstance(info["is_success"], bool)
    again, _ = run(7)
    np.testing.assert_array_equal(frames, again)
    other, _ = run(8)
    assert not np.array_equal(frames, other)


def test_reset_options_state_and_goal():
    env = gym.make("PIG/Spring-v0")
    state = np.array([[10.0, 11.0, 0.5, 0.0], [20.0, 21.0, 0.0, -0.5]])
    goal_pos = np.array([[12.0, 16.0], [24.0, 16.0]])
    obs, info = env.reset(seed=0, options={"state": state, "goal": goal_pos})
    np.testing.assert_array_equal(info["state"], state)
    np.testing.assert_array_equal(info["goal"][:, :2], goal_pos)
    np.testing.assert_array_equal(info["goal"][:, 2:], 0.0)
    np.testing.assert_array_equal(obs, env.unwrapped.render_states(state))
    full_goal = np.array([[12.0, 16.0, 0.0, 0.0], [24.0, 16.0, 0.0, 0.0]])
    _, info = env.reset(options={"goal": full_goal})
    np.testing.assert_array_equal(info["goal"], full_goal)
    _, info = env.reset(options={"state": full_goal, "goal": full_goal})
    assert info["is_success"]
    _, info = env.reset(seed=1, options={})
    pend = gym.make("PIG/Pendulum-v0")
    _, info = pend.reset(options={"state": [0.1, -0.2], "goal": [0.0, 0.0]})
    np.testing.assert_array_equal(info["state"], [0.1, -0.2])
    assert info["is_success"]


def test_time_limit_truncates():
    env = gym.make("PIG/Spring-v0")
    env.reset(seed=0)
    for t in range(50):
        _, _, terminated, truncated, _ = env.step(np.zeros(2, np.float32))
        assert not terminated and truncated == (t == 49)
    pend = gym.make("PIG/Pendulum-v0")
    assert pend.spec.max_episode_steps == 200


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec(mode):
    vec = gym.make_vec("PIG/Spring-v0", num_envs=2, vectorization_mode=mode)
    try:
        obs, info = vec.reset(seed=3)
        assert obs.shape == (2, 32, 32, 3) and info["state"].shape == (2, 2, 4)
        obs, reward, terminated, truncated, info = vec.step(vec.action_space.sample())
        assert obs.shape == (2, 32, 32, 3) and reward.shape == (2,)
        assert info["goal"].shape == (2, 2, 4) and info["is_success"].dtype == bool
    finally:
        vec.close()
    vec = gym.make_vec("PIG/Spring-v0", num_envs=2, vectorization_mode="sync", actuated=False)
    assert not vec.envs[0].unwrapped.actuated
    vec.close()


BAD_ACTIONS = [
    (np.zeros(3), r"shape \(2,\).*got shape \(3,\)"),
    (np.zeros((1, 2)), r"shape \(2,\).*got shape \(1, 2\)"),
    (np.array([np.nan, 0.0]), "finite"),
    (np.array([np.inf, 0.0]), "finite"),
    (np.array([1.1, 0.0]), r"in \[-1, 1\]"),
    ("left", "numeric"),
]


@pytest.mark.parametrize("action, message", BAD_ACTIONS)
def test_bad_actions_raise_value_error(action, message):
    scene = envs.make_scene("spring")
    scene.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        scene.step(action)
    scene.step(np.array([1.0 + 5e-7, -1.0]))  # within the 1e-6 slack


BAD_OPTIONS = [
    ({"state": np.zeros((3, 4))}, r'options\["state"\] must have shape \(2, 4\); got shape'),
    ({"state": np.full((2, 4), np.nan)}, r'options\["state"\] must be finite'),
    ({"goal": np.zeros((2, 3))}, r'options\["goal"\] must have shape \(2, 4\) or \(2, 2\)'),
    ({"goal": np.array([[1.0, np.inf], [2.0, 3.0]])}, r'options\["goal"\] must be finite'),
    ({"start": np.zeros((2, 4))}, "unknown reset option"),
    ({"state": "abc"}, "numeric array"),
]


@pytest.mark.parametrize("options, message", BAD_OPTIONS)
def test_bad_reset_options_raise_value_error(options, message):
    scene = envs.make_scene("spring")
    with pytest.raises(ValueError, match=message):
        scene.reset(seed=0, options=options)


def test_bad_constructor_and_simulate_arguments():
    with pytest.raises(ValueError, match="k must be a positive number"):
        envs.make_scene("spring", k=-1.0)
    with pytest.raises(ValueError, match="render_mode"):
        envs.make_scene("spring", render_mode="human")
    scene = envs.make_scene("spring")
    with pytest.raises(ValueError, match=r"actions must have shape \(B=3, T, 2\)"):
        scene.simulate(np.zeros((3, 2, 4)), np.zeros((3, 5, 4)))
    with pytest.raises(ValueError, match=r"states must have shape \(B, 2, 4\)"):
        scene.simulate(np.zeros((3, 4)), np.zeros((3, 5, 2)))


@pytest.mark.parametrize("name", list(envs.SCENES))
def test_simulate_matches_env_steps(name):
    scene = envs.make_scene(name)
    _, info = scene.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (1, 6, scene.action_dim))
    states = [info["state"]]
    for a in actions[0]:
        states.append(scene.step(a.astype(np.float32))[4]["state"])
    sim = scene.simulate(info["state"][None], actions.astype(np.float32))
    assert sim.shape == (1, 7) + scene.state_shape
    np.testing.assert_allclose(sim[0], np.array(states), atol=1e-12)
    many = scene.sample_states(rng, 5)
    pos = scene.positions(many)
    assert pos.shape == (5, scene.n_objects, 2)


@pytest.mark.parametrize("name", ["bouncing", "spring", "gravity", "mnist_spring"])
def test_unactuated_ignores_actions_actuated_does_not(name):
    free = envs.make_scene(name, actuated=False)
    pushed = envs.make_scene(name)
    s0 = free.sample_states(np.random.default_rng(1), 4)
    a = np.ones((4, 3, free.action_dim))
    np.testing.assert_array_equal(free.simulate(s0, a), free.simulate(s0, 0 * a))
    assert not np.allclose(pushed.simulate(s0, a), pushed.simulate(s0, 0 * a))


@pytest.mark.parametrize("name, frames", [("spring", 30), ("gravity", 40), ("mnist_spring", 30)])
def test_sample_sequences_rejection_rules(name, frames):
    scene = envs.make_scene(name, actuated=False)
    seq = scene.sample_sequences(np.random.default_rng(2), 300, frames)
    assert seq.shape == (300, frames) + scene.state_shape
    lo, hi = scene.walls
    # no wall contact anywhere: the datasets follow the paper's law exactly
    assert seq[..., :2].min() > lo and seq[..., :2].max() < hi
    replay = scene.simulate(seq[:, 0], np.zeros((300, frames - 1, scene.action_dim)))
    np.testing.assert_allclose(replay, seq, atol=1e-12)
    if name == "gravity":
        pos = seq[..., :2]
        i, j = np.triu_indices(3, 1)
        assert np.linalg.norm(pos[..., i, :] - pos[..., j, :], axis=-1).min() >= 3.0
        speed = np.linalg.norm(seq[:, 0, :, 2:], axis=-1)
        assert 1.5 < speed.mean() < 2.5  # roughly orbital, about 2 px per time unit


def test_sample_sequences_is_fast_and_seeded():
    scene = envs.make_scene("spring", actuated=False)
    start = time.perf_counter()
    seq = scene.sample_sequences(0, 6000, 12)
    assert time.perf_counter() - start < 10.0  # about 0.4 s here
    assert seq.shape == (6000, 12, 2, 4)
    np.testing.assert_array_equal(seq[:10], scene.sample_sequences(0, 6000, 12)[:10])


def test_goals_are_valid():
    rng = np.random.default_rng(3)
    for name in ("spring", "mnist_spring"):
        scene = envs.make_scene(name)
        goals = scene.sample_goals(rng, 500)
        sep = np.linalg.norm(goals[:, 0, :2] - goals[:, 1, :2], axis=-1)
        np.testing.assert_allclose(sep, 2 * scene.l)
        np.testing.assert_array_equal(goals[..., 2:], 0.0)
        assert goals[..., :2].min() >= scene.goal_margin
        assert goals[..., :2].max() <= scene.image_size - scene.goal_margin
        # at rest at the goal, the spring exerts no force: the goal is an equilibrium
        np.testing.assert_allclose(scene.step_states(goals), goals, atol=1e-9)
    gravity = envs.make_scene("gravity")
    goals = gravity.sample_goals(rng, 500)
    i, j = np.triu_indices(3, 1)
    dist = np.linalg.norm(goals[:, i, :2] - goals[:, j, :2], axis=-1)
    assert dist.min() >= gravity.goal_min_separation
    hold = np.abs(gravity.accel(goals[..., :2])).max()
    assert hold < gravity.max_accel  # every goal can be held against gravity
    np.testing.assert_array_equal(envs.make_scene("pendulum").sample_goals(rng, 3), 0.0)


def test_reward_and_success_ball_scene():
    scene = envs.make_scene("bouncing")
    goal = np.array([[10.0, 10.0, 0.0, 0.0], [20.0, 20.0, 0.0, 0.0]])
    assert scene.is_success(goal, goal)
    near = goal.copy()
    near[0, 0] += 0.9
    assert scene.is_success(near, goal)
    far = goal.copy()
    far[1, 1] += 1.1
    assert not scene.is_success(far, goal)
    moving = goal.copy()
    moving[0, 2] = 1.0
    assert not scene.is_success(moving, goal)
    np.testing.assert_allclose(scene.goal_distance(far, goal), 0.55)
    scene.reset(seed=0, options={"state": goal, "goal": goal})
    _, reward, _, _, info = scene.step(np.zeros(4, np.float32))
    assert reward == 0.0 and info["is_success"]
    batch = np.stack([goal, far, moving])
    assert scene.is_success(batch, goal).tolist() == [True, False, False]
    assert envs.make_scene("mnist_spring").success_pos_tol == 2.0


def test_pendulum_reward_and_success():
    scene = envs.make_scene("pendulum")
    scene.reset(seed=0, options={"state": [np.pi, 0.5]})
    _, reward, _, _, info = scene.step(np.array([0.5], np.float32))
    np.testing.assert_allclose(reward, -(np.pi**2 + 0.1 * 0.25 + 0.001 * 1.0), rtol=1e-6)
    assert not info["is_success"]
    goal = np.zeros(2)
    assert scene.is_success(np.array([0.29, 1.4]), goal)
    assert scene.is_success(np.array([2 * np.pi - 0.1, 0.0]), goal)  # angles wrap
    assert not scene.is_success(np.array([0.31, 0.0]), goal)
    assert not scene.is_success(np.array([0.0, 1.6]), goal)


def test_envs_never_imports_torch_or_the_learner():
    code = (
        "import sys, envs, gymnasium; gymnasium.make('PIG/Spring-v0').reset(seed=0); "
        "bad = [m for m in ('torch', 'pig_control', 'agents') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, timeout=60).returncode == 0


@pytest.mark.parametrize("name", ["bouncing", "gravity"])
def test_goals_reachable_with_the_action_bounds(name):
    """max_accel suffices: a plain PD controller (plus gravity compensation) reaches the goal."""
    scene = envs.make_scene(name)
    rng = np.random.default_rng(5)
    states, goals = scene.sample_states(rng, 100), scene.sample_goals(rng, 100)
    for _ in range(scene.max_episode_steps):
        pos, vel = states[..., :2], states[..., 2:]
        accel = 1.44 * (goals[..., :2] - pos) - 2.4 * vel - scene.accel(pos)
        actions = np.clip(accel / scene.max_accel, -1, 1).reshape(100, -1)
        states = scene.step_states(states, actions)
    assert scene.is_success(states, goals).mean() >= 0.9
