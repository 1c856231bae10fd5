"""Tests of the headline claims, on fixed seeds and CI-sized:

- control from pixels works: the shipped spring model, and the oracle, bring the balls to the
  goal in closed loop (the loop of ``python -m pig_control.mpc``);
- the model agent cannot read the true state: with the state and goal in ``info`` removed or
  scrambled it takes bitwise the same actions;
- unsupervised training from frames alone recovers the spring's k and l.

Episodes start at :data:`TEST_SEED`: below the reporting seeds (10**6 on) and away from the
seeds the control defaults were tuned on (0-399, 1000-1099, 2000-2099).
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

import pig_control
from pig_control.mpc import make_env, run_episodes

torch.set_num_threads(1)

#: First episode seed of these tests.
TEST_SEED = 900_000


# ---- closed-loop success ---------------------------------------------------------------------
def closed_loop(agent, episodes: int, goal_from: str = "image", **env_params) -> list[dict]:
    env = make_env("spring", env_params)
    return run_episodes(env, agent, episodes, TEST_SEED, env.unwrapped.max_episode_steps,
                        goal_from, progress=False)


def assert_controls(results: list[dict]) -> None:
    """At least 6 of 8 episodes succeed (every ball within 1 px of its goal, at rest) and the
    median final distance is under 0.5 px. Measured on these seeds: the shipped model and the
    oracle 7 of 8 (median 0.15 and 0.14 px); the model told k = 2 (true 4) 0 of 8 (median
    2.8 px), l = 5 (true 6) 1 of 8 (1.6 px); the oracle told k = 2 0 of 8 (1.8 px)."""
    distances = [r["final_distance"] for r in results]
    assert sum(r["success"] for r in results) >= 6, distances
    assert np.median(distances) < 0.5, distances


def test_shipped_spring_model_controls_from_pixels():
    assert_controls(closed_loop(pig_control.make_agent("spring"), 8))


def test_oracle_controls_the_spring():
    assert_controls(closed_loop(pig_control.make_oracle("spring"), 8, "coords"))


# ---- leak guard ------------------------------------------------------------------------------
class InfoTamperer(gymnasium.Wrapper):
    """Removes (``mode="remove"``) or scrambles (``"scramble"``) the true state and goal in every
    ``info`` the episode loop sees, except the goal at the reset (the task: the loop renders the
    goal image from it) and the last step's (it scores the episode). Records the actions."""

    def __init__(self, env, mode: str, steps: int):
        super().__init__(env)
        self.mode, self.steps = mode, steps
        self.rng = np.random.default_rng(7)
        self.actions: list[np.ndarray] = []

    def _tamper(self, info: dict, keys: tuple[str, ...]) -> dict:
        info = dict(info)
        for key in keys:
            if self.mode == "remove":
                del info[key]
            elif self.mode == "scramble":
                info[key] = self.rng.uniform(0, 32, np.shape(info[key]))
        return info

    def reset(self, **kwargs):
        self.t = 0
        observation, info = self.env.reset(**kwargs)
        return observation, self._tamper(info, ("state",))

    def step(self, action):
        self.actions.append(np.array(action, copy=True))
        self.t += 1
        observation, reward, terminated, truncated, info = self.env.step(action)
        if self.t < self.steps:
            info = self._tamper(info, ("state", "goal"))
        return observation, reward, terminated, truncated, info


def actions_taken(agent, mode: str, goal_from: str = "image", steps: int = 12) -> np.ndarray:
    env = InfoTamperer(make_env("spring", {}, steps), mode, steps)
    run_episodes(env, agent, 2, TEST_SEED, steps, goal_from, progress=False)
    return np.stack(env.actions)


@pytest.mark.parametrize("goal_from", ["image", "coords"])
def test_the_model_agent_cannot_read_the_true_state(goal_from):
    """The mpc loop with the state and goal removed from ``info``, or scrambled, makes the
    shipped model's agent take bitwise the same actions; the oracle, which does read the state,
    acts differently on the scrambled one (so the scrambling reaches what the loop passes on)."""
    model = pig_control.load_world_model("spring")
    normal = actions_taken(pig_control.make_agent(model), "keep", goal_from)
    for mode in ("remove", "scramble"):
        assert np.array_equal(actions_taken(pig_control.make_agent(model), mode, goal_from),
                              normal), mode
    oracle = actions_taken(pig_control.make_oracle("spring"), "keep", "coords")
    scrambled = actions_taken(pig_control.make_oracle("spring"), "scramble", "coords")
    assert not np.allclose(oracle, scrambled)


# ---- unsupervised training from frames alone -------------------------------------------------
#: A short run of the spring's recipe (configs/spring.yaml: an autoencoder phase, then the
#: dynamics phase's trajectory fit, its fitted horizon growing over 300 steps) on 100 sequences
#: of 12 frames. Measured (CPU time, one thread): 20 s autoencoder + 18 s dynamics; k 3.797
#: (5.1 % low), l 5.985 (0.3 %); with data and model seeds 1 and 2: see the commit message.
SHORT_RUN = ["training.steps=600", "training.autoencoder_steps=200",
             "training.dynamics_steps=400", "training.autoencoder_frames=32",
             "training.batch_size=8", "training.identify_warmup=300",
             "training.identify_sequences=100", "training.encode_sequences=100",
             "training.valid_sequences=2"]


def test_training_from_frames_alone_recovers_the_spring(tmp_path):
    """Only frames reach the trainer (the data's true states and parameters are dropped), and a
    short unsupervised run learns the spring constant k and the rest length l within 10 %."""
    from pig_control.config import load_config
    from pig_control.data import generate_dataset
    from pig_control.train import Trainer

    data = generate_dataset("spring", n_train=100, n_valid=2, n_test=1, seed=0, progress=False)
    frames_only = {key: data[key] for key in ("train_x", "valid_x")}
    config = load_config("spring", SHORT_RUN)
    trainer = Trainer(config, frames_only, tmp_path)
    for _ in range(config.training.steps):
        trainer.train_step()
    params = trainer.model.params
    assert params["k"] == pytest.approx(4.0, rel=0.1), params
    assert params["l"] == pytest.approx(6.0, rel=0.1), params
