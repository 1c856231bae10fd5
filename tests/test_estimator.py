"""The learned models' state filter (pig_control.control.estimator): it recovers velocities from
positions alone, through wall bounces, and averages the encoder's noise better than a window."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pig_control.control.agent import ModelAgent
from pig_control.control.dynamics import CellDynamics
from pig_control.control.estimator import StateFilter
from pig_control.errors import UserInputError
from pig_control.model.velocity import VelocityEstimator
from pig_control.mpc import load_learned, make_env
from pig_control.systems.scenes import oracle_system


def spring_run(seed: int, steps: int = 60):
    """True states (T + 1, 2, 4) and actions (T, 2) of the actuated spring under random pushes
    strong enough to reach the walls."""
    env = make_env("spring", {})
    scene = env.unwrapped
    _, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    states, actions = [np.asarray(info["state"])], []
    for _ in range(steps):
        action = rng.uniform(-1, 1, 2).astype(np.float32)
        _, _, _, _, info = env.step(action)
        states.append(np.asarray(info["state"]))
        actions.append(action)
    return scene, torch.tensor(np.array(states), dtype=torch.float32), \
        torch.tensor(np.array(actions))


def test_filter_recovers_exact_velocities_through_bounces():
    scene, states, actions = spring_run(seed=3)
    dynamics = CellDynamics(oracle_system(scene))
    hits = ((states[:, :, :2] < scene.margin + 1) | (states[:, :, :2] > 30 - 1)).any()
    assert hits, "the run should reach a wall"
    filt = StateFilter(dynamics, scene.dt, position_noise=0.05)
    filt.reset(states[0, :, :2])
    errors = []
    for t in range(1, len(states)):
        estimate = filt.step(states[t, :, :2], actions[t - 1])
        errors.append((estimate - states[t]).abs().max().item())
    assert max(errors[10:]) < 0.05, errors  # converged, and stays there through the bounces


def test_filter_averages_position_noise_better_than_a_window_fit():
    """Noisy positions (0.1 px) and the exact model (little acceleration noise): the filter
    averages over every frame seen, so its typical velocity error is well below the 8-frame
    window fit's (medians: both miss a bounce that falls exactly on a frame for a step or two)."""
    scene, states, actions = spring_run(seed=5)
    dynamics = CellDynamics(oracle_system(scene))
    noisy = states[:, :, :2] + 0.1 * torch.randn(states[:, :, :2].shape,
                                                 generator=torch.Generator().manual_seed(0))
    filt = StateFilter(dynamics, scene.dt, position_noise=0.1, accel_noise=0.03)
    filt.reset(noisy[0])
    window = VelocityEstimator(8, 2, scene.dt, iterations=3, correction=False)

    def step(pos, vel, action):
        out = dynamics(torch.cat([pos, vel], -1), action)
        return out[..., :2], out[..., 2:]

    filter_err, window_err = [], []
    for t in range(1, len(states)):
        estimate = filt.step(noisy[t], actions[t - 1])
        if t >= 10:
            filter_err.append((estimate[:, 2:] - states[t, :, 2:]).abs().max().item())
            _, vel = window(noisy[None, t - 7:t + 1], step, actions[None, t - 7:t])
            window_err.append((vel[0] - states[t, :, 2:]).abs().max().item())
    filter_median, window_median = np.median(filter_err), np.median(window_err)
    assert filter_median < 0.75 * window_median, (filter_median, window_median)


def test_filter_rejects_bad_options_and_needs_a_reset():
    dynamics = CellDynamics(oracle_system(make_env("spring", {}).unwrapped))
    with pytest.raises(ValueError):
        StateFilter(dynamics, 0.3, position_noise=0.0)
    with pytest.raises(RuntimeError, match="reset"):
        StateFilter(dynamics, 0.3).step(torch.zeros(2, 2), None)


def estimate_after_reset(agent, env, steps: int, seed: int = 3):
    """Reset, then ``steps`` unpushed steps: the agent's estimate at the first frame, at the
    last, and the true state at the last in the encoder's object order."""
    observation, info = env.reset(seed=seed)
    agent.observe_reset(observation)
    zero = np.zeros(env.unwrapped.action_dim, np.float32)
    with torch.no_grad():
        first = state = agent.estimate(observation)
        for _ in range(steps):
            observation, _, _, _, info = env.step(zero)
            agent.record_action(torch.as_tensor(zero))
            state = agent.estimate(observation)
    true = torch.as_tensor(info["state"], dtype=torch.float32)
    if (state[:, :2] - true.flip(0)[:, :2]).abs().sum() < (state[:, :2] - true[:, :2]).abs().sum():
        true = true.flip(0)  # the encoder's object order is its own
    return first, state, true


@pytest.mark.parametrize("estimator, steps", [("filter", 12), ("window", 8)])
def test_model_agent_estimates_the_state_from_pixels(estimator, steps):
    """After a reset the agent knows one frame (at rest); a few frames later its estimate
    follows the true state (speeds near 10 px per time unit). The window estimator's window
    fills up to ``estimate_frames``."""
    env = make_env("spring", {})
    model, _, _ = load_learned("pretrained", "spring", "cpu")
    agent = ModelAgent(env.unwrapped, model, estimator=estimator, estimate_frames=6)
    assert agent.estimator == estimator and (agent.filter is not None) == (estimator == "filter")
    first, state, true = estimate_after_reset(agent, env, steps)
    assert torch.equal(first[:, 2:], torch.zeros_like(first[:, 2:]))
    assert (state[:, :2] - true[:, :2]).abs().max() < (0.3 if estimator == "filter" else 0.5)
    assert (state[:, 2:] - true[:, 2:]).abs().max() < 0.5  # pixels per time unit
    if estimator == "window":
        assert len(agent.history) == 6


def test_model_agent_filters_by_default_and_checks_its_options():
    scene = make_env("spring", {}).unwrapped
    model, _, _ = load_learned("pretrained", "spring", "cpu")
    assert ModelAgent(scene, model).estimator == "filter"
    with pytest.raises(UserInputError, match="unknown estimator"):
        ModelAgent(scene, model, estimator="kalman")
    with pytest.raises(UserInputError, match="filter options"):
        ModelAgent(scene, model, filter_options={"position_noise": -1.0})
    with pytest.raises(UserInputError, match="filter options"):
        ModelAgent(scene, model, filter_options={"bogus": 1.0})


def test_goal_moves_to_the_models_nearest_rest_state():
    """A spring goal is moved along the line through the balls, about their midpoint, to the
    model's rest distance 2 l, where the model's spring no longer pulls; free objects rest
    anywhere, so their goal stays."""
    scene = make_env("spring", {}).unwrapped
    cell = oracle_system(scene)  # l = 6: rest distance 12 px
    goal = torch.tensor([[10.0, 16.0], [20.0, 16.5]])
    rest = cell.rest_goal(goal)
    assert (rest[0] - rest[1]).norm() == pytest.approx(12.0, abs=1e-5)
    torch.testing.assert_close(rest.mean(0), goal.mean(0))
    direction = (goal[0] - goal[1]) / (goal[0] - goal[1]).norm()
    torch.testing.assert_close((rest[0] - rest[1]) / 12.0, direction)
    dynamics = CellDynamics(cell)
    at_rest = torch.cat([rest, torch.zeros_like(rest)], -1)[None]
    torch.testing.assert_close(dynamics(at_rest, torch.zeros(1, 2)), at_rest, atol=1e-4, rtol=0)
    free = oracle_system(make_env("bouncing", {}).unwrapped)
    assert torch.equal(free.rest_goal(goal), goal)
