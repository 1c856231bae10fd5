"""Published learning curves of pixel agents on the DeepMind Control Suite, to draw beside ours.

``dmc_pixels.csv`` holds, per task, method and frame budget, the mean return over the authors'
seeds, computed from their published score files (the ``source`` column names each file; the
DreamerV3 repository's ``scores/dmc_vision-*.json.gz`` collect DreamerV3's and the baselines'
runs). Frames count every env step, action repeats included; returns are DMC's (0-1,000 over
1,000 steps). These are other people's measurements, carried over as numbers, not rerun here.
"""

from __future__ import annotations

import csv
from pathlib import Path

CSV = Path(__file__).with_name("dmc_pixels.csv")
#: Methods drawn by default: the strongest published pixel agents and SAC from pixels.
DEFAULT_METHODS = ("dreamerv3", "drqv2", "sac")
#: How the methods are named in legends.
LABELS = {"dreamerv3": "DreamerV3", "drqv2": "DrQ-v2", "sac": "SAC (pixels)",
          "dreamerv2": "DreamerV2", "dreamerv1": "DreamerV1", "curl": "CURL",
          "ppo_fixhp": "PPO (pixels)"}


def task_of(env_id: str) -> str | None:
    """``dm_control/pendulum-swingup-v0`` -> ``pendulum_swingup``; None for other ids."""
    prefix = "dm_control/"
    if not env_id.startswith(prefix):
        return None
    return env_id[len(prefix):].rsplit("-v", 1)[0].replace("-", "_")


def learning_curves(task: str, methods=DEFAULT_METHODS) -> dict[str, dict]:
    """Per method: ``{"frames": [...], "mean_return": [...], "seeds": n, "source": ...}``,
    frames ascending; methods without rows for ``task`` are left out."""
    curves: dict[str, dict] = {}
    with CSV.open() as handle:
        for row in csv.DictReader(handle):
            if row["task"] != task or row["method"] not in methods:
                continue
            curve = curves.setdefault(row["method"], {"frames": [], "mean_return": [],
                                                      "seeds": int(row["seeds"]),
                                                      "source": row["source"]})
            curve["frames"].append(int(row["frames"]))
            curve["mean_return"].append(float(row["mean_return"]))
    for curve in curves.values():
        order = sorted(range(len(curve["frames"])), key=curve["frames"].__getitem__)
        curve["frames"] = [curve["frames"][i] for i in order]
        curve["mean_return"] = [curve["mean_return"][i] for i in order]
    return curves
