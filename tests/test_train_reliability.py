"""Training runs that are stopped, resumed, overwritten or run twice at once lose nothing and
mix nothing: SIGTERM saves and says how to resume, --resume checks its data, a run directory
in use or holding an earlier run is refused."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from filelock import FileLock, Timeout

from pig_control.checkpoint import load_checkpoint
from pig_control.cli import run_main
from pig_control.config import load_config
from pig_control.data import generate_dataset, load_dataset, save_npz
from pig_control.runlock import LOCK_NAME
from pig_control.train import Trainer, main

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
#: Every phase, checkpoints only at step 25 and the end: a stop at another step must save.
TINY = ["training.steps=40", "training.autoencoder_steps=10", "training.dynamics_steps=10",
        "training.batch_size=4", "training.autoencoder_frames=8", "training.valid_sequences=2",
        "training.log_every=1", "training.checkpoint_every=25"]
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "spring_tiny.npz"
    save_npz(path, generate_dataset("spring", n_train=8, n_valid=2, n_test=2, seed=0,
                                    progress=False))
    return path


def train_command(data_file: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pig_control.train", "--config", "spring", "--data",
            str(data_file), "--out", str(out), "--no-progress", *TINY, *extra]


def logged_steps(out: Path) -> int:
    try:
        return max(0, len((out / "metrics.csv").read_text().splitlines()) - 1)
    except FileNotFoundError:
        return 0


def start_training(data_file: Path, out: Path, tmp_path: Path) -> subprocess.Popen:
    """A training subprocess, returned once it has logged a few steps (so it is mid-run)."""
    process = subprocess.Popen(train_command(data_file, out), cwd=tmp_path, env=ENV, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while logged_steps(out) < 3:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return process


def same_parameters(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_saves_and_resume_ends_as_an_uninterrupted_run(tmp_path, data_file):
    out = tmp_path / "run"
    process = start_training(data_file, out, tmp_path)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 128 + signal.SIGTERM, err
    stopped = load_checkpoint(out / "last.pt")["step"]
    assert 3 <= stopped < 40 and stopped != 25
    assert logged_steps(out) == stopped
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith(f"SIGTERM at step {stopped}: saved ")
    command = shlex.split(last_line.split("resume with: ", 1)[1])
    assert command[:3] == ["python", "-m", "pig_control.train"] and "--resume" in command
    resumed = subprocess.run([sys.executable, *command[1:]], cwd=tmp_path, env=ENV, text=True,
                             capture_output=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    final = load_checkpoint(out / "last.pt")
    assert final["step"] == 40 and logged_steps(out) == 40
    reference = Trainer(load_config("spring", TINY), load_dataset(data_file), tmp_path / "ref")
    reference.fit(progress=False)
    assert same_parameters(final["model"], reference.model.state_dict())


def test_a_second_concurrent_training_is_refused_and_writes_nothing(tmp_path, data_file):
    out = tmp_path / "run"
    first = start_training(data_file, out, tmp_path)
    try:
        with pytest.raises(Timeout):  # the first run holds the lock
            FileLock(out / LOCK_NAME, timeout=0, is_singleton=False).acquire()
        before = {p.name: p.stat().st_size for p in out.iterdir()}
        second = subprocess.run(train_command(data_file, out, "--overwrite"), cwd=tmp_path,
                                env=ENV, text=True, capture_output=True, timeout=600)
        assert second.returncode == 2
        assert second.stderr.count("\n") == 1 and "in use by another run" in second.stderr
        assert set(before) <= {p.name for p in out.iterdir()}
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=600)
    steps = [line.split(",")[0] for line in (out / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == [str(i) for i in range(1, len(steps) + 1)]  # one run's rows, in order


def cli(*args: str) -> int:
    return run_main(main, [str(a) for a in args])


def test_resume_refuses_other_data_naming_both_files(tmp_path, data_file, capsys):
    out = tmp_path / "run"
    data = tmp_path / "d.npz"
    data.write_bytes(data_file.read_bytes())
    assert cli("--config", "spring", "--data", data, "--out", out, "--no-progress", "--steps",
               "2", *TINY) == 0
    before = (out / "last.pt").read_bytes()
    other = tmp_path / "other.npz"
    save_npz(other, generate_dataset("spring", n_train=8, n_valid=2, n_test=2, seed=1,
                                     progress=False))
    assert cli("--config", "spring", "--out", out, "--resume", "--data", other) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "d.npz" in err and "other.npz" in err
    # the same path, regenerated with another seed: refused too
    data.write_bytes(other.read_bytes())
    assert cli("--config", "spring", "--out", out, "--resume") == 2
    assert "sha256" in capsys.readouterr().err
    assert (out / "last.pt").read_bytes() == before


def test_an_earlier_run_is_replaced_only_with_overwrite(tmp_path, data_file, capsys):
    out = tmp_path / "run"
    common = ["--config", "spring", "--data", data_file, "--out", out, "--no-progress", *TINY]
    assert cli(*common, "--steps", "2") == 0
    before = (out / "last.pt").read_bytes()
    assert cli(*common, "--steps", "1") == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err
    assert (out / "last.pt").read_bytes() == before
    assert cli(*common, "--steps", "1", "--overwrite") == 0
    assert load_checkpoint(out / "last.pt")["step"] == 1
    assert logged_steps(out) == 1
    assert cli(*common, "--resume", "--overwrite") == 2


@pytest.mark.parametrize("resume", [[], ["--resume"]])
def test_a_link_in_the_run_folder_is_refused_before_training(tmp_path, data_file, capsys,
                                                             resume):
    out = tmp_path / "run"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("keep")
    (out / "metrics.csv").symlink_to(elsewhere)
    assert cli("--config", "spring", "--data", data_file, "--out", out, "--no-progress",
               *TINY, *(resume or ["--overwrite"])) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert elsewhere.read_text() == "keep" and (out / "metrics.csv").is_symlink()


def test_a_corrupt_metrics_file_on_resume_is_named(tmp_path, data_file, capsys):
    out = tmp_path / "run"
    assert cli("--config", "spring", "--data", data_file, "--out", out, "--no-progress",
               "--steps", "2", *TINY) == 0
    (out / "metrics.csv").write_text("step,wall_s\nnot a number,1\n")
    assert cli("--config", "spring", "--out", out, "--resume", "--no-progress") == 2
    err = capsys.readouterr().err.strip()
    assert "metrics.csv" in err and "\n" not in err
