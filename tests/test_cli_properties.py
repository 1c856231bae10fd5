"""Property: whatever a user types into a command's options, it exits 0 or 2 and never shows a
traceback (issue 17).

Each command starts from a tiny argument list that runs in about a second; hypothesis then sets
one to three of its options to random and boundary values (negative, zero, huge, NaN, infinite,
text, empty, option-like) and config overrides to the same. Values that would be valid but mean
long work (a million episodes) are left out of the options that size the work: what is tested is
that bad values are refused cleanly, not that large jobs run. Every example runs in a fresh
temporary working directory (relative output paths land there) on copies of the inputs.
Examples are derandomized, so a run is repeatable; there are few of them, so the whole file
takes well under a minute.
"""

from __future__ import annotations

import os
import shutil
import string
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_helpers import run_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pig_control.compare import main as compare_main
from pig_control.data import generate_dataset, save_npz
from pig_control.data.__main__ import main as data_main
from pig_control.evaluate import main as evaluate_main
from pig_control.figures import main as figures_main
from pig_control.mpc import main as mpc_main
from pig_control.recalibrate import main as recalibrate_main
from pig_control.train import main as train_main

PRETRAINED = Path(__file__).resolve().parents[1] / "pig_control" / "pretrained"
TINY = ["training.steps=3", "training.autoencoder_steps=1", "training.dynamics_steps=1",
        "training.batch_size=2", "training.autoencoder_frames=4", "training.valid_sequences=1",
        "training.log_every=1", "training.checkpoint_every=2", "training.identify_frames=4",
        "training.encode_sequences=4", "training.identify_sequences=2"]
#: Examples per command: few in CI; ``PIG_CLI_EXAMPLES=200 pytest tests/test_cli_properties.py``
#: searches deeper.
FEW = settings(max_examples=int(os.environ.get("PIG_CLI_EXAMPLES", "6")), deadline=None,
               derandomize=True, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ---- values ------------------------------------------------------------------------------------
#: Boundary values that are never a large valid size (safe for options that size the work).
SMALL_OR_BAD = ["-1", "0", "1", "2", "-0", "-2147483649", "1.5", "nan", "inf", "-inf", "1e-308",
                "0x10", "", " ", "abc", "=", "a=b", ",", "--", "-h", "3,2", "null", "[]", "{}"]
#: ... and huge values, for options whose size is guarded or costs nothing.
HUGE = ["2147483648", "9223372036854775808", "1e308", "99999999999999999999"]
TEXT = st.text(alphabet=string.ascii_letters + string.digits + "._-=,:+", max_size=8)


def small_or_bad():
    return st.one_of(st.sampled_from(SMALL_OR_BAD), st.integers(-3, 3).map(str), TEXT)


def anything():
    return st.one_of(st.sampled_from(SMALL_OR_BAD + HUGE), st.integers(-3, 3).map(str), TEXT,
                     st.floats(allow_nan=True, allow_infinity=True).map(repr))


def choices(*names):
    """One of ``names`` (valid) or a bad value."""
    return st.one_of(st.sampled_from(names), small_or_bad())


def pairs(prefix: str, names: list[str], values):
    """``NAME=VALUE`` with a known or unknown name."""
    name = st.one_of(st.sampled_from(names), TEXT)
    return st.builds(lambda n, v: f"{prefix}{n}={v}", name, values)


def argv_from(table: dict, extra=None):
    """One to three options of ``table`` ({flag: value strategy or None for a switch}) as argv,
    plus, optionally, positional items drawn from ``extra``."""
    flags = st.lists(st.sampled_from(sorted(table)), min_size=1, max_size=3, unique=True)

    def build(draw_flags, values, positional):
        argv = []
        for flag, value in zip(draw_flags, values, strict=True):
            argv += [flag] if value is None else [flag, value]
        return argv + positional

    def with_values(chosen):
        values = st.tuples(*[table[f] if table[f] is not None else st.none() for f in chosen])
        positional = st.lists(extra, max_size=2) if extra is not None else st.just([])
        return st.builds(build, st.just(chosen), values, positional)

    return flags.flatmap(with_values)


# ---- running -----------------------------------------------------------------------------------
@contextmanager
def fresh_directory(root: Path):
    """A new empty working directory under ``root`` for one example."""
    index = len(list(root.iterdir()))
    path = root / f"example{index}"
    path.mkdir()
    before = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(before)


def exits_cleanly(main, argv: list[str], capsys) -> None:
    """``main(argv)`` ends with status 0 or 2, one error line at most, no traceback."""
    try:
        status = run_status(main, argv)
    except SystemExit as stop:  # argparse: --help (0) or a bad option (2)
        status = stop.code
    err = capsys.readouterr().err
    assert status in (0, 2), (argv, status, err[-2000:])
    assert "Traceback" not in err, (argv, err[-2000:])
    if status == 2:
        assert "error" in err.splitlines()[-1], (argv, err[-2000:])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A tiny dataset, tiny rollouts, a copy of a shipped model and of a control model, and a
    finished tiny run directory."""
    root = tmp_path_factory.mktemp("inputs")
    data = root / "small.npz"
    save_npz(data, generate_dataset("spring", n_train=4, n_valid=2, n_test=2, seed=0,
                                    progress=False))
    rollouts = root / "rollouts.npz"
    assert run_status(data_main, ["rollouts", "spring", "--episodes", "2", "--steps", "6",
                                  "--out", str(rollouts), "--quiet", "--num-envs", "1"]) == 0
    for name in ("spring.pt", "spring_control.pt"):
        shutil.copy(PRETRAINED / name, root / name)
    run = root / "run"
    assert run_status(train_main, ["--config", "spring", "--data", str(data), "--out", str(run),
                                   "--no-progress", *TINY]) == 0
    return {"data": str(data), "rollouts": str(rollouts), "model": str(root / "spring.pt"),
            "control": str(root / "spring_control.pt"), "run": str(run)}


@pytest.fixture
def examples(tmp_path):
    return tmp_path


# ---- one property per command ------------------------------------------------------------------
GENERATE = {"--train": small_or_bad(), "--valid": small_or_bad(), "--test": small_or_bad(),
            "--seq-len": small_or_bad(), "--test-seq-len": small_or_bad(), "--seed": anything(),
            "--out": TEXT, "--json": TEXT, "--no-compress": None, "--quiet": None,
            "--overwrite": None}


@FEW
@given(argv_from(GENERATE), choices("spring", "bouncing", "gravity", "pendulum"))
def test_data_generate(examples, capsys, options, scene):
    with fresh_directory(examples):
        exits_cleanly(data_main, ["generate", scene, "--out", "g.npz", "--train", "2", "--valid",
                                  "1", "--test", "1", "--quiet", *options], capsys)


ROLLOUTS = {"--episodes": small_or_bad(), "--steps": small_or_bad(), "--out": TEXT,
            "--policy": choices("random", "colored"), "--beta": anything(),
            "--noise-std": anything(), "--num-envs": small_or_bad(), "--seed": anything(),
            "--json": TEXT, "--overwrite": None}


@FEW
@given(argv_from(ROLLOUTS), choices("spring", "pendulum", "mnist_spring"))
def test_data_rollouts(examples, capsys, options, scene):
    with fresh_directory(examples):
        exits_cleanly(data_main, ["rollouts", scene, "--episodes", "1", "--steps", "3", "--out",
                                  "r.npz", "--quiet", "--num-envs", "1", *options], capsys)


CONFIG_KEYS = ["training.lr", "training.physics_lr", "training.appearance_lr", "training.clip",
               "training.identify_frames", "training.autoencoder_frames", "training.batch_size",
               "training.valid_sequences", "training.lr_decay_at", "training.optimizer",
               "model.n_objects", "model.dt", "model.physics", "model.localizer",
               "model.image_size", "model.template_size", "model.walls", "model.wall_margin",
               "model.actuated_objects", "model.action_dim", "data.input_steps", "seed", "device",
               "scene", "training", "model.dt.x"]
TRAIN = {"--seed": anything(), "--steps": small_or_bad(), "--threads": small_or_bad(),
         "--device": choices("cpu", "cuda"), "--config": choices("spring", "spring_paper"),
         "--data": TEXT, "--resume": None, "--overwrite": None}


@FEW
@given(argv_from(TRAIN, extra=pairs("", CONFIG_KEYS, anything())))
def test_train(examples, capsys, inputs, options):
    with fresh_directory(examples):
        exits_cleanly(train_main, ["--config", "spring", "--data", inputs["data"], "--out", "run",
                                   "--no-progress", *TINY, *options], capsys)


EVALUATE = {"--sequences": small_or_bad(), "--batch-size": anything(),
            "--device": choices("cpu", "cuda"), "--json": TEXT, "--data": TEXT,
            "--checkpoint": TEXT, "--overwrite": None}


@FEW
@given(argv_from(EVALUATE))
def test_evaluate(examples, capsys, inputs, options):
    with fresh_directory(examples):
        exits_cleanly(evaluate_main, ["--checkpoint", inputs["model"], "--data", inputs["data"],
                                      "--no-progress", "--sequences", "2", *options], capsys)


PLANNER_OPTIONS = ["population", "iterations", "samples", "step_sizes", "damping", "elites",
                   "seed", "callback", "alpha", "init_std", "restarts", "lr", "temperature"]
MPC = {"--episodes": small_or_bad(), "--seed": anything(), "--horizon": anything(),
       "--max-steps": small_or_bad(), "--planner": choices("gn", "cem", "icem", "mppi", "grad",
                                                           "cmaes"),
       "--planner-option": pairs("", PLANNER_OPTIONS, small_or_bad()),
       "--cost-option": pairs("", ["velocity_weight", "terminal_weight", "action_weight"],
                              anything()),
       "--env-param": pairs("", ["k", "l", "dt", "wall_margin"], anything()),
       "--set-param": pairs("", ["k", "l", "gain"], anything()),
       "--goal-from": choices("image", "coords"), "--refine": small_or_bad(),
       "--model": choices("oracle", "pretrained"), "--env": choices("spring", "pendulum"),
       "--json": TEXT, "--device": choices("cpu", "cuda"), "--overwrite": None}


@FEW
@given(argv_from(MPC))
def test_mpc(examples, capsys, options):
    with fresh_directory(examples):
        exits_cleanly(mpc_main, ["--env", "spring", "--model", "oracle", "--episodes", "1",
                                 "--max-steps", "2", "--quiet", *options], capsys)


COMPARE = {"--algos": small_or_bad(), "--obs": choices("pixels", "state"),
           "--steps": small_or_bad(), "--max-frames": pairs("", ["ppo-state", "sac-pixels"],
                                                             anything()),
           "--episodes": small_or_bad(), "--seed": anything(), "--pig-frames": small_or_bad(),
           "--success-threshold": anything(), "--json": TEXT, "--plot": TEXT,
           "--env": choices("spring", "pendulum"), "--pig-models": TEXT, "--resume": None,
           "--overwrite": None}


@FEW
@given(argv_from(COMPARE))
def test_compare(examples, capsys, options):
    with fresh_directory(examples):
        exits_cleanly(compare_main, ["--env", "spring", "--algos", "", "--pig-models", "",
                                     "--no-oracle", "--episodes", "1", "--quiet", "--out", "cmp",
                                     *options], capsys)


RECALIBRATE = {"--refine": small_or_bad(), "--steps": small_or_bad(), "--lr": anything(),
               "--json": TEXT, "--out": TEXT, "--data": TEXT, "--overwrite": None}


@FEW
@given(argv_from(RECALIBRATE))
def test_recalibrate(examples, capsys, inputs, options):
    with fresh_directory(examples):
        exits_cleanly(recalibrate_main, ["--checkpoint", inputs["control"], "--data",
                                         inputs["rollouts"], "--out", "re.pt", "--steps", "1",
                                         "--quiet", *options], capsys)


FIGURES = {"--data": TEXT, "--out": TEXT, "--run": TEXT, "--overwrite": None}


@FEW
@given(argv_from(FIGURES))
def test_figures(examples, capsys, inputs, options):
    with fresh_directory(examples):
        exits_cleanly(figures_main, ["--run", inputs["run"], "--out", "figs", *options], capsys)
