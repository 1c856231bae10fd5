"""benchmarks/dmc_plot.py draws the shipped DMC results files and refuses mixed inputs;
benchmarks/dmc_angle_error.py measures a learned angle against the simulator's."""

from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_entry

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
RESULTS = BENCHMARKS / "results"


@pytest.fixture
def dmc_plot(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import dmc_plot

    return dmc_plot


def test_plots_every_budget_and_the_oracle(dmc_plot, capsys, tmp_path):
    out = tmp_path / "frames.png"
    status, stdout, err = run_entry(dmc_plot.main, capsys, ["--out", str(out), "--allow-dirty"])
    assert status == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = [line.split() for line in stdout.splitlines() if line.startswith(("pig", "oracle"))]
    assert [line[0] for line in lines] == ["pig-mpc"] * 3 + ["oracle"]
    assert sorted(float(line[1]) for line in lines[:3]) == [996, 1996, 4990]


@pytest.mark.parametrize("argv, message", [
    (["--pig", f"{RESULTS}/dmc_pendulum_1000.json,{RESULTS}/dmc_pendulum_small_budgets.json"],
     "budget 1000 is in both"),
    (["--pig", f"{RESULTS}/mpc_spring_oracle.json"], "is not a benchmarks/dmc.py file"),
    (["--oracle", f"{RESULTS}/dmc_pendulum.json"], "is not an mpc --model oracle report"),
    (["--pig", "nope.json"], "no such results file"),
])
def test_bad_inputs_are_one_line_exit_2(dmc_plot, capsys, tmp_path, argv, message):
    out = tmp_path / "frames.png"
    status, _, err = run_entry(dmc_plot.main, capsys,
                               ["--out", str(out), "--allow-dirty", *argv])
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_angle_errors_are_wrapped_and_binned(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from dmc_angle_error import angle_errors

    true = np.array([3.1, -3.1, 0.2, 0.3, 1.0])
    learned = np.array([-3.1, 3.1, 0.2, 0.3, 1.1])  # 0.083 rad across the bottom, then exact
    result = angle_errors(learned, true)
    assert result["frames"] == 5
    assert result["max_abs_rad"] == pytest.approx(0.1)
    assert result["median_abs_rad"] == pytest.approx(2 * np.pi - 6.2)
    by_bin = {(round(b["from_rad"], 2)): b for b in result["bins"]}
    bottom_right = by_bin[round(np.pi - np.pi / 6, 2)]
    assert bottom_right["frames"] == 1
    assert bottom_right["mean_rad"] == pytest.approx(2 * np.pi - 6.2)
    assert by_bin[0.0]["frames"] == 2 and by_bin[0.0]["rms_rad"] == pytest.approx(0.0)
    assert by_bin[round(np.pi / 6, 2)]["mean_rad"] == pytest.approx(0.1)


def test_best_camera_recovers_the_camera_that_drew_the_points(monkeypatch):
    """Positions drawn by a known camera at known angles: the fit from a disturbed camera finds
    it again, and reading the angles back through it is exact."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import torch
    from dmc_angle_error import angle_errors, best_camera, learned_angles

    from pig_control.config import ModelConfig
    from pig_control.systems import resolve_system

    cell = resolve_system("pendulum_perspective").from_model_config(
        ModelConfig(physics="pendulum_perspective", n_objects=1, image_size=64, dt=0.04,
                    action_dim=1))
    truth = {"pivot_x": 32.0, "pivot_y": 29.0, "a_xx": 12.0, "a_xy": -4.0, "a_yx": 0.1,
             "a_yy": -13.0, "h_x": 0.004, "h_y": -0.12}
    angles = np.linspace(-3.1, 3.1, 200)
    cam = {k: torch.tensor(v, dtype=torch.float64) for k, v in truth.items()}
    positions = cell.to_pixels(torch.as_tensor(angles).reshape(-1, 1), cam).float()
    cell.set_camera({**truth, "a_xy": -1.0, "a_yy": -10.0, "h_y": -0.03})
    assert angle_errors(learned_angles(cell, positions), angles)["max_abs_rad"] > 0.02
    fitted = best_camera(cell, positions, angles.reshape(-1, 1))  # (N, k) coordinates
    assert fitted == pytest.approx(truth, abs=1e-3)
    assert angle_errors(learned_angles(cell, positions, fitted), angles)["max_abs_rad"] < 1e-3
