"""benchmarks/control_models_summary.py: pooling mpc results over trained models."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from control_models_summary import summarize_models  # noqa: E402

from pig_control.errors import UserInputError  # noqa: E402
from pig_control.protocol import episode_summary  # noqa: E402


def _report(successes, first_seed=10**6):
    episodes = [{"seed": first_seed + i, "success": s, "final_distance": 0.0 if s else 2.0,
                 "return": 1.0} for i, s in enumerate(successes)]
    return {"env": "spring", "model": "m.pt", "episodes": episodes,
            "intervals": episode_summary(episodes)}


def test_rates_spread_and_pooled_episodes():
    summary = summarize_models([_report([1, 1, 1, 0]), _report([1, 0, 0, 0])], ["a", "b"])
    assert summary["success_rate"] == {"mean": 0.5, "min": 0.25, "max": 0.75}
    assert summary["final_distance"]["max"] == 1.5
    assert summary["pooled"]["success"]["successes"] == 4
    assert summary["pooled"]["success"]["n"] == 8


def test_models_on_different_episodes_are_refused():
    with pytest.raises(UserInputError, match="same episodes"):
        summarize_models([_report([1, 1]), _report([1, 1], first_seed=10**6 + 5)], ["a", "b"])
