"""The Python API (``pig_control.load_world_model``, ``make_agent``, ``make_oracle``): the
example of docs/api.md runs as written and succeeds, the API and ``python -m pig_control.mpc``
take the same actions, bad arguments are one clear error, and importing the package stays
light."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the scenes)
import pig_control
from pig_control.errors import UserInputError
from pig_control.mpc import main as mpc_main

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def doc_example(page: str = "docs/api.md") -> str:
    """The first Python block of a documentation page."""
    text = (ROOT / page).read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_the_documented_example_runs_and_succeeds(capsys):
    """docs/api.md's example, executed as written: the shipped spring model brings the balls to
    the goal (seed 0, within the env's 100-step limit), printing True."""
    namespace: dict = {}
    exec(compile(doc_example(), "docs/api.md", "exec"), namespace)
    assert capsys.readouterr().out.strip() == "True"
    info, agent = namespace["info"], namespace["agent"]
    assert bool(info["is_success"]) and agent.planner == "gn" and agent.horizon == 20


def test_the_api_takes_the_commands_actions(tmp_path, capsys):
    """An episode driven through make_agent gives the same return, final distance and steps as
    ``python -m pig_control.mpc`` with the same seed (the command is a loop over the API)."""
    out = tmp_path / "r.json"
    assert mpc_main(["--env", "spring", "--episodes", "1", "--seed", "3", "--max-steps", "15",
                     "--quiet", "--json", str(out)]) == 0
    episode = json.loads(out.read_text())["episodes"][0]
    env = gymnasium.make("PIG/Spring-v0", max_episode_steps=15)
    observation, info = env.reset(seed=3)
    agent = pig_control.make_agent("spring", goal=env.unwrapped.render_states(info["goal"]),
                                   seed=3)
    total = 0.0
    for _ in range(15):
        observation, reward, terminated, truncated, info = env.step(agent.predict(observation))
        total += reward
        if terminated or truncated:
            break
    assert total == episode["return"]
    assert env.unwrapped.goal_distance(info["state"], info["goal"]) == episode["final_distance"]
    assert agent.planned_states().shape == (20, 2, 4)
    assert agent.planned_frames().shape == (20, 32, 32, 3)


def test_reset_starts_a_new_episode_like_a_fresh_agent():
    """reset() clears the state filter and the plan: after an episode, a reset agent acts as a
    newly built one on the next episode."""
    env = gymnasium.make("PIG/Spring-v0")
    model = pig_control.load_world_model("spring")
    used = pig_control.make_agent(model)
    fresh = pig_control.make_agent(model)
    observation, info = env.reset(seed=0)
    used.reset(observation, env.unwrapped.render_states(info["goal"]), seed=0)
    for _ in range(5):
        observation, *_ = env.step(used.predict(observation))
    observation, info = env.reset(seed=1)
    goal = env.unwrapped.render_states(info["goal"])
    used.reset(observation, goal, seed=1)
    fresh.reset(observation, goal, seed=1)
    for _ in range(5):
        action = used.predict(observation)
        np.testing.assert_array_equal(action, fresh.predict(observation))
        observation, *_ = env.step(action)


def test_the_oracle_acts_on_true_states_and_reaches_the_goal():
    env = gymnasium.make("PIG/Spring-v0")
    _, info = env.reset(seed=0)
    oracle = pig_control.make_oracle(env, goal=info["goal"])
    assert oracle.reads_state and oracle.model_params == pytest.approx({"k": 4.0, "l": 6.0})
    for _ in range(100):
        _, _, terminated, truncated, info = env.step(oracle.predict(info["state"]))
        if terminated or truncated:
            break
    assert info["is_success"]


def test_world_model_parameters_and_provenance():
    model = pig_control.load_world_model("spring")
    assert model.scene == "spring" and model.source.endswith("spring_control.pt")
    assert 0 < model.env_frames <= 10_000
    assert model.params["k"] == pytest.approx(4.0, rel=0.1)
    assert model.set_params(k=8) is model and model.params["k"] == pytest.approx(8.0)
    assert set(pig_control.shipped_world_models()) == {"spring", "pendulum", "mnist_spring",
                                                       "dm_control/pendulum-swingup-v0",
                                                       "dm_control/cartpole-swingup-v0"}


def test_a_trained_checkpoint_loads_by_path(tmp_path):
    from pig_control.checkpoint import export_model

    path = tmp_path / "copy.pt"
    export_model(pig_control.shipped_world_models()["pendulum"], path)
    model = pig_control.load_world_model(path)
    assert model.scene == "pendulum" and model.source == str(path)
    assert pig_control.make_agent(model).horizon == 20


@pytest.mark.parametrize("call, words", [
    (lambda: pig_control.load_world_model("gravity"), ["no shipped world model", "spring"]),
    (lambda: pig_control.load_world_model("/nonexistent/m.pt"), ["not found"]),
    (lambda: pig_control.load_world_model("spring").set_params(zz=1), ["zz", "k, l"]),
    (lambda: pig_control.load_world_model("spring").set_params(k=-1), ["positive"]),
    (lambda: pig_control.make_agent("spring", planner="nope"), ["unknown planner", "icem"]),
    (lambda: pig_control.make_agent("spring", cost_options={"speed": 1}), ["speed"]),
    (lambda: pig_control.make_agent("spring", horizon=0), ["horizon"]),
    (lambda: pig_control.make_agent("spring", env="pendulum"), ["action components", "pendulum"]),
    (lambda: pig_control.make_agent("spring").predict(np.zeros((32, 32, 3), np.uint8)),
     ["no goal"]),
    (lambda: pig_control.make_oracle("nope"), ["unknown scene"]),
    (lambda: pig_control.make_oracle("spring", set_params={"g": 1}), ["g", "k, l"]),
])
def test_bad_arguments_are_one_clear_error(call, words):
    with pytest.raises(UserInputError) as error:
        call()
    for word in words:
        assert word in str(error.value)


def test_importing_the_package_loads_no_torch():
    """``python -m pig_control.data --help`` and ``import pig_control`` stay fast: the API's
    names are imported on first use."""
    code = ("import sys, pig_control; assert 'torch' not in sys.modules, 'torch imported'; "
            "assert callable(pig_control.make_agent)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pig_control.nope  # noqa: B018
