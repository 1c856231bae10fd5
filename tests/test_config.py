"""Configuration: every bad value is refused by name in one line before any work, the shipped
configs and models pass, zero learning rates freeze, and the memory guard refuses what cannot fit.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from cli_helpers import TINY_TRAINING, run_entry

from pig_control.checkpoint import load_checkpoint
from pig_control.config import (
    CONFIG_DIR,
    Config,
    ModelConfig,
    check_training_memory,
    config_from_dict,
    load_config,
    training_memory_bytes,
)
from pig_control.errors import UserInputError
from pig_control.runlock import LOCK_NAME
from pig_control.train import Trainer, main

torch.set_num_threads(1)
PRETRAINED = Path(__file__).resolve().parents[1] / "pig_control" / "pretrained"
TINY = TINY_TRAINING


@pytest.fixture
def data(tiny_spring):
    return tiny_spring


@pytest.fixture
def small_npz(tiny_spring_npz):
    return tiny_spring_npz


def written(out: Path) -> list[str]:
    """What a run wrote into ``out``, besides the run directory's lock."""
    return sorted(p.name for p in out.glob("*") if p.name != LOCK_NAME) if out.exists() else []


# ---- issue 17, item 6: each reproduction is one line and exit 2, before any work ------------
@pytest.mark.parametrize("override, named", [
    ("training.identify_frames=0", "training.identify_frames"),
    ("model.n_objects=3", "model.n_objects"),
    ("training.physics_lr=-1", "training.physics_lr"),
    ("training.valid_sequences=-1", "training.valid_sequences"),
    ("training.lr=.inf", "training.lr"),
    ("training.lr=.nan", "training.lr"),
    ("training.identify_sequences=0", "training.identify_sequences"),
    ("training.autoencoder_frames=10000000", "training.autoencoder_frames"),
    ("training.appearance_lr=-0.5", "training.appearance_lr"),
    ("training.dynamics_steps=10000", "training.dynamics_steps"),
    ("model.template_size=64", "model.template_size"),
    ("model.wall_margin=16", "model.wall_margin"),
    ("model.physics=pendulum", "model.n_objects"),
    ("model.walls=1", "model.walls"),
    ("model.substeps=2.5", "model.substeps"),
    ("training.bogus=1", "training.bogus"),
    ("training=5", "training"),
    ("seed=-3", "seed"),
])
def test_bad_value_is_one_line_exit_2_before_any_work(tmp_path, small_npz, capsys, override,
                                                      named):
    out = tmp_path / "X"
    started = time.perf_counter()
    status, _, err = run_entry(main, capsys, ["--config", "spring", "--data", str(small_npz),
                                              "--out", str(out), "--no-progress", override])
    elapsed = time.perf_counter() - started
    assert status == 2
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err
    assert named in err
    assert elapsed < 2.0
    assert not written(out)  # no metrics, no checkpoint


def test_n_objects_must_match_the_data(tmp_path, small_npz, capsys):
    # a free cell takes any number of objects; the spring data shows 2
    status, _, err = run_entry(main, capsys, [
        "--config", "spring", "--data", str(small_npz), "--out", str(tmp_path / "X"),
        "--no-progress", "model.physics=free", "model.n_objects=3"])
    assert status == 2 and "2 objects" in err and "model.n_objects" in err
    assert not written(tmp_path / "X")


def test_every_problem_is_named_at_once():
    with pytest.raises(UserInputError) as caught:
        load_config("spring", ["training.lr=-1", "model.dt=0", "training.bogus=2"])
    for key in ("training.lr", "model.dt", "training.bogus"):
        assert key in str(caught.value)


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(UserInputError, match=r"'model.physic'.*known: .*physics"):
        load_config("spring", ["model.physic=free"])


def test_yaml_numbers_and_nulls_are_read_as_meant():
    config = load_config("spring", ["training.lr=3e-4", "model.dt=1",
                                    "training.physics_lr=null"])
    assert config.training.lr == 3e-4 and isinstance(config.model.dt, float)
    assert config.training.rate("physics") == 3e-4
    with pytest.raises(UserInputError, match="model.localizer"):
        load_config("spring", ["model.localizer=3"])


def test_a_config_that_is_not_a_mapping_is_refused(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(UserInputError, match="mapping"):
        load_config(bad)
    with pytest.raises(UserInputError, match="mapping"):
        config_from_dict([1, 2])


def test_assignment_is_validated_too():
    config = load_config("spring")
    with pytest.raises(ValueError, match="greater than 0"):
        config.training.lr = 0.0


def test_models_built_in_code_are_checked():
    with pytest.raises(ValueError, match="exactly 2"):
        ModelConfig(physics="spring", n_objects=1)


# ---- what passes ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
def test_shipped_configs_pass_and_fit_a_small_machine(name):
    config = load_config(name)
    assert config_from_dict(config.to_dict()) == config
    assert training_memory_bytes(config) < 12 * 2**30


@pytest.mark.parametrize("path", sorted(PRETRAINED.glob("*.pt")), ids=lambda p: p.stem)
def test_shipped_models_configs_pass(path):
    assert isinstance(config_from_dict(load_checkpoint(path)["config"]), Config)


# ---- zero learning rates freeze; an infinite one is refused; divergence tells the truth -------
def test_zero_appearance_and_physics_rates_freeze_them(tmp_path, data):
    config = load_config("spring", [*TINY, "training.appearance_lr=0", "training.physics_lr=0"])
    trainer = Trainer(config, data, tmp_path)
    frozen = [p.detach().clone() for p in (*trainer.model.appearance_parameters(),
                                           *trainer.model.physics_parameters())]
    networks = [p.detach().clone() for p in trainer.model.network_parameters()]
    trainer.fit(progress=False)
    after = (*trainer.model.appearance_parameters(), *trainer.model.physics_parameters())
    assert all(torch.equal(a, b) for a, b in zip(frozen, after, strict=True))
    assert not all(torch.equal(a, b) for a, b in
                   zip(networks, trainer.model.network_parameters(), strict=True))


def test_divergence_before_any_checkpoint_says_none_was_kept(tmp_path, small_npz, capsys):
    status, _, err = run_entry(main, capsys, [
        "--config", "spring", "--data", str(small_npz), "--out", str(tmp_path / "run"),
        "--no-progress", *TINY, "training.autoencoder_steps=0", "training.dynamics_steps=0",
        "training.lr=1e30", "training.clip=0"])
    assert status == 2 and err.count("\n") == 1
    assert "no checkpoint was written" in err and "was kept" not in err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_divergence_after_a_checkpoint_names_it(tmp_path, small_npz, capsys):
    out = tmp_path / "run"
    common = ["--config", "spring", "--data", str(small_npz), "--out", str(out), "--no-progress"]
    assert run_entry(main, capsys, [*common, *TINY, "--steps", "3"])[0] == 0
    status, _, err = run_entry(main, capsys, [*common, "--resume", "training.lr=1e30",
                                              "training.physics_lr=1e30", "training.clip=0"])
    assert status == 2 and "last good checkpoint" in err and str(out / "last.pt") in err
    assert load_checkpoint(out / "last.pt")["step"] == 3


# ---- the memory guard -----------------------------------------------------------------------
def test_memory_estimate_grows_with_the_batch_and_the_guard_names_the_keys():
    small = load_config("spring", ["training.autoencoder_frames=1000"])
    large = load_config("spring", ["training.autoencoder_frames=100000"])
    assert training_memory_bytes(large) == pytest.approx(100 * training_memory_bytes(small))
    limit = 8 * 2**30
    assert check_training_memory(small, limit) == training_memory_bytes(small)
    with pytest.raises(UserInputError, match=r"about \d+\.\d GiB.*autoencoder_frames \(100000\)"):
        check_training_memory(large, limit)
