"""benchmarks/dmc_plot.py draws the shipped DMC results files and refuses mixed inputs."""

from pathlib import Path

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
