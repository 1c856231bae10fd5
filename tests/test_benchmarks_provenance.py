"""Every benchmark script refuses a dirty tree unless --allow-dirty, and then says so."""

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_entry

from pig_control import provenance
from pig_control.api import PRETRAINED_DIR

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*.py"))
DIRTY = {"commit": "0" * 40, "clean_tree": False, "changed_files": ["pig_control/mpc.py"]}


@pytest.fixture
def dirty(monkeypatch):
    """The checkout looks dirty to every benchmark (whatever the real tree's state)."""
    monkeypatch.setattr(provenance, "git_state", lambda repo=None: dict(DIRTY))
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def _script(name):
    return importlib.import_module(name)  # benchmarks/ is on sys.path (the dirty fixture)


def test_every_script_is_covered():
    assert set(SCRIPTS) == {"control_models_summary", "dataset_speed", "dmc", "dmc_frames",
                            "dmc_angle_error", "dmc_gap", "dmc_oracle_tuning", "dmc_plot",
                            "extrapolation", "fanout_timing", "gpu_check", "mpc_results",
                            "planner_speed", "recalibration", "refine_accuracy",
                            "rest_separation", "robustness",
                            "spring_velocity_weight", "training_memory", "training_speed"}


@pytest.mark.parametrize("name", SCRIPTS)
def test_dirty_tree_is_refused_before_any_work(capsys, tmp_path, dirty, name):
    out = tmp_path / "result.json"
    flag = {"dataset_speed": "--json", "mpc_results": "--results"}.get(name, "--out")
    status, _, err = run_entry(_script(name).main, capsys, [flag, str(out)])
    assert status == 2, err
    assert "uncommitted changes (pig_control/mpc.py)" in err and "--allow-dirty" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_allow_dirty_runs_and_the_file_says_so(capsys, tmp_path, dirty):
    out = tmp_path / "rest.json"
    status, _, err = run_entry(_script("rest_separation").main, capsys,
                               ["--goals", "2", "--out", str(out), "--allow-dirty"])
    assert status == 0, err
    block = json.loads(out.read_text())["provenance"]
    assert block["allow_dirty"] is True and block["clean_tree"] is False
    assert block["changed_files"] == ["pig_control/mpc.py"]
    assert block["command"].startswith("python benchmarks/rest_separation.py --goals 2")
    shipped = str(PRETRAINED_DIR / "spring_control.pt")
    assert block["inputs"][shipped]["sha256"] == provenance.sha256_file(shipped)


def test_dmc_gap_maps_true_coordinates_into_a_model_s(monkeypatch):
    """The true-to-model map: the cart's position by least squares, the angle's sign and
    offset from the circular mean, mirrored cameras included; and the stats of an episode."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    gap = importlib.import_module("dmc_gap")
    rng = np.random.default_rng(0)
    true = np.stack([rng.uniform(-1, 1, 200), rng.uniform(-np.pi, np.pi, 200)], 1)
    model = np.stack([-0.9 * true[:, 0] + 0.05, gap.wrap(-true[:, 1] + 0.2)], 1)
    mapping = gap.fit_map(true, model)
    assert mapping["linear"][0] == pytest.approx((-0.9, 0.05))
    assert mapping["angle_sign"] == -1.0 and mapping["angle_offset"] == pytest.approx(0.2)
    q, qd = gap.apply_map(mapping, np.array([0.5, 1.0]), np.array([1.0, 2.0]))
    np.testing.assert_allclose(q, [-0.4, -0.8])
    np.testing.assert_allclose(qd, [-0.9, -2.0])
    trace = [{"q": [0.2, 3.0], "action": 1.0}, {"q": [-0.4, 0.1], "action": -0.5},
             {"q": [0.2, -0.2], "action": 0.1}]
    stats = gap.episode_stats(trace)
    assert stats["first_upright_step"] == 1 and stats["upright_steps"] == 2
    assert stats["mean_abs_action_upright"] == pytest.approx(0.3)
    assert stats["mean_abs_cart_m_upright"] == pytest.approx(0.3)
