"""Issue 17, item 7: inputs that used to end in a traceback are one line and exit status 2.

A malformed but safe checkpoint on ``--resume``, a model with NaN parameters, a corrupt
``metrics.csv``, planner options the command sets itself, a horizon that cannot fit in memory, a
``compare`` budget of one episode, rollouts of one episode.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_helpers import TINY_TRAINING, run_entry, run_status

from pig_control.checkpoint import load_checkpoint, save_checkpoint
from pig_control.compare import main as compare_main
from pig_control.control.budget import check_planning_memory, planning_memory_bytes
from pig_control.data import save_npz
from pig_control.errors import UserInputError
from pig_control.evaluate import main as evaluate_main
from pig_control.mpc import main as mpc_main
from pig_control.train import main as train_main

torch.set_num_threads(1)
TINY = TINY_TRAINING


def one_line_error(status: int, err: str) -> str:
    assert status == 2, err
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def small_npz(tiny_spring_npz):
    return tiny_spring_npz


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_npz):
    """A run stopped at step 3 of 6 (a checkpoint with optimiser and identification state)."""
    out = tmp_path_factory.mktemp("run") / "run"
    status = run_status(train_main, ["--config", "spring", "--data", str(small_npz),
                                     "--out", str(out), "--no-progress", "--steps", "3", *TINY])
    assert status == 0
    return out


def copy_run(trained, tmp_path, edit) -> list[str]:
    """A copy of the trained run whose checkpoint ``edit(payload)`` changed; the resume argv."""
    out = tmp_path / "run"
    out.mkdir()
    payload = load_checkpoint(trained / "last.pt")
    edit(payload)
    save_checkpoint(out / "last.pt", payload)
    (out / "metrics.csv").write_bytes((trained / "metrics.csv").read_bytes())
    return ["--config", "spring", "--out", str(out), "--resume", "--no-progress"]


# ---- a malformed but safe checkpoint on --resume ---------------------------------------------
def _wrong_rng(payload):
    payload["rng"] = payload["rng"][:10]


def _state_dict_mismatch(payload):
    name = next(iter(payload["model"]))
    payload["model"][name] = torch.zeros(3, 1, 7)


def _missing_weight(payload):
    payload["model"].pop(next(iter(payload["model"])))


def _set(key, value):
    def edit(payload):
        payload[key] = value
    return edit


@pytest.mark.parametrize("edit, expected", [
    (_wrong_rng, "cannot be resumed"),
    (_state_dict_mismatch, "cannot be resumed"),
    (_missing_weight, "cannot be resumed"),
    (_set("metadata", [1, 2]), "'metadata' is a list"),
    (_set("config", "spring"), "'config' is a str"),
    (_set("step", "3"), "'step' is a str"),
    (_set("optimizer", 7), "'optimizer' is a int"),
    (_set("params", {"k": "four"}), "'params'"),
], ids=["rng", "shape", "missing", "metadata", "config", "step", "optimizer", "params"])
def test_malformed_checkpoint_on_resume_is_one_line(trained, tmp_path, small_npz, capsys, edit,
                                                    expected):
    argv = copy_run(trained, tmp_path, edit)
    before = (tmp_path / "run" / "last.pt").read_bytes()
    status, _, err = run_entry(train_main, capsys, [*argv, "--data", str(small_npz)])
    assert expected in one_line_error(status, err)
    assert "last.pt" in err
    assert (tmp_path / "run" / "last.pt").read_bytes() == before  # untouched


def test_config_not_a_dict_is_named_even_with_an_override(trained, tmp_path, small_npz, capsys):
    argv = copy_run(trained, tmp_path, _set("config", ["not", "a", "dict"]))
    status, _, err = run_entry(train_main, capsys, [*argv, "training.lr=0.01"])
    assert "'config' is a list" in one_line_error(status, err)


def test_corrupt_metrics_csv_is_named_and_kept(trained, tmp_path, small_npz, capsys):
    argv = copy_run(trained, tmp_path, lambda payload: None)
    metrics = tmp_path / "run" / "metrics.csv"
    corrupt = metrics.read_bytes() + b"12x,oops\n\x00\xff\xfe\n"
    metrics.write_bytes(corrupt)
    status, _, err = run_entry(train_main, capsys, [*argv, "--data", str(small_npz)])
    assert str(metrics) in one_line_error(status, err) and "corrupt" in err
    assert metrics.read_bytes() == corrupt
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 3


def test_a_good_copy_still_resumes(trained, tmp_path, small_npz, capsys):
    argv = copy_run(trained, tmp_path, lambda payload: None)
    status, out, _ = run_entry(train_main, capsys, [*argv, "--data", str(small_npz)])
    assert status == 0 and "step 6" in out


# ---- models that cannot be used ----------------------------------------------------------------
def test_evaluate_refuses_nan_parameters(trained, tmp_path, small_npz, capsys):
    payload = load_checkpoint(trained / "last.pt")
    log_params = next(k for k in payload["model"] if k.endswith("log_params"))
    payload["model"][log_params] = torch.full_like(payload["model"][log_params], float("nan"))
    save_checkpoint(tmp_path / "nan.pt", payload)
    status, _, err = run_entry(evaluate_main, capsys, ["--checkpoint", str(tmp_path / "nan.pt"),
                                                       "--data", str(small_npz),
                                                       "--no-progress"])
    assert "NaN or infinite" in one_line_error(status, err) and log_params in err


def test_a_model_of_another_shape_names_what_differs(trained, tmp_path, small_npz, capsys):
    """A checkpoint whose tensors no longer fit this version's model (e.g. a camera that
    gained values) says which tensor differs and how, in one line, and exits 2."""
    payload = load_checkpoint(trained / "last.pt")
    name = next(k for k in payload["model"] if k.endswith("log_params"))
    payload["model"][name] = torch.cat([payload["model"][name], torch.zeros(1)])
    save_checkpoint(tmp_path / "old.pt", payload)
    status, _, err = run_entry(evaluate_main, capsys, ["--checkpoint", str(tmp_path / "old.pt"),
                                                       "--data", str(small_npz),
                                                       "--no-progress"])
    line = one_line_error(status, err)
    assert name in line and "in the file" in line and "another version" in line


def test_rollouts_of_one_episode_are_refused(tmp_path, capsys):
    data = tmp_path / "one.npz"
    frames = np.zeros((1, 12, 32, 32, 3), np.uint8)
    save_npz(data, {"frames": frames, "actions": np.zeros((1, 11, 2), np.float32),
                    "states": np.zeros((1, 12, 2, 4), np.float32), "kind": "rollouts",
                    "scene": "spring"})
    status, _, err = run_entry(train_main, capsys, [
        "--config", "spring_control", "--data", str(data), "--out", str(tmp_path / "run"),
        "--no-progress", *TINY])
    assert "at least 2" in one_line_error(status, err)


# ---- mpc ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, expected", [
    (["--planner-option", "callback=print"], "callback"),
    (["--planner-option", "seed=abc"], "--seed"),
    (["--planner-option", "device=cuda"], "--device"),
    (["--planner-option", "bogus=1"], "bogus"),
    (["--planner", "cmaes", "--planner-option", "diagonal=abc"], "true or false"),
    (["--horizon", "100000"], "GiB"),
    (["--planner", "cem", "--planner-option", "population=1000000000"], "GiB"),
])
def test_mpc_bad_planner_settings_are_one_line(capsys, extra, expected):
    status, _, err = run_entry(mpc_main, capsys, ["--env", "spring", "--model", "oracle",
                                                  "--episodes", "1", "--max-steps", "2",
                                                  "--quiet", *extra])
    assert expected in one_line_error(status, err)


def test_planning_memory_grows_with_horizon_and_batch():
    small = planning_memory_bytes("gn", 20, 2, 8, {"step_sizes": (1.0, 0.5)})
    assert planning_memory_bytes("gn", 200, 2, 8, {"step_sizes": (1.0, 0.5)}) > 50 * small
    cem = planning_memory_bytes("cem", 20, 2, 8, {"population": 200})
    assert planning_memory_bytes("cem", 20, 2, 8, {"population": 400}) == 2 * cem
    assert check_planning_memory("gn", 20, 2, 8, {}, limit_bytes=2**30) < 2**30
    with pytest.raises(UserInputError, match="horizon of 20000"):
        check_planning_memory("gn", 20000, 2, 8, {}, limit_bytes=2**30)


# ---- compare -----------------------------------------------------------------------------------
def test_compare_refuses_a_one_episode_budget_before_any_work(tmp_path, capsys):
    out = tmp_path / "cmp"
    status, _, err = run_entry(compare_main, capsys, [
        "--env", "pendulum", "--algos", "", "--pig-models", "", "--pig-frames", "201",
        "--episodes", "1", "--no-oracle", "--out", str(out), "--quiet"])
    assert "--pig-frames 201" in one_line_error(status, err) and "2 episodes" in err
    assert not (out / "pig_201").exists()
