"""benchmarks/results/ holds only files a reader can rerun: each has a provenance block with its
command and commit, reports episodes only on reporting seeds, and is listed in the folder's
README. Runs that chose a setting (tuning seeds) belong in benchmarks/tuning/."""

import json
from pathlib import Path

import pytest

from pig_control.protocol import REPORTING_SEED

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
FILES = sorted(p for p in RESULTS.iterdir() if p.name != "README.md")


def _seeds(value, in_episodes=False):
    """Every episode seed a results file names: the ``seed`` of each entry of an ``episodes``
    list and every ``first_seed``, wherever they sit in the JSON. Training seeds (a robustness
    run's ``seed``, a model's training seed) are not episode seeds and are not collected."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "first_seed" and isinstance(item, int):
                yield item
            elif key == "seed" and in_episodes and isinstance(item, int):
                yield item
            elif key != "provenance":
                yield from _seeds(item, key == "episodes")
    elif isinstance(value, list):
        for item in value:
            yield from _seeds(item, in_episodes)


def test_only_json_results_and_the_readme():
    assert FILES, "no results files"
    assert [p.name for p in FILES if p.suffix != ".json"] == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_results_file_has_provenance_and_reporting_seeds(path):
    report = json.loads(path.read_text())
    block = report.get("provenance")
    assert block, f"{path.name} has no provenance block"
    assert block["command"] and len(block["commit"] or "") == 40
    assert "clean_tree" in block and "inputs" in block
    tuning = [seed for seed in _seeds(report) if seed < REPORTING_SEED]
    assert tuning == [], f"{path.name} names tuning seeds {tuning[:5]}"
    seeds = report.get("intervals", {}).get("seeds")
    assert seeds in (None, "reporting")


def test_readme_lists_every_results_file():
    readme = (RESULTS / "README.md").read_text()
    assert [p.name for p in FILES if f"`{p.name}`" not in readme] == []


def test_seed_finder_sees_nested_episode_seeds_and_not_training_seeds():
    report = {"provenance": {"argv": ["--seed", "0"]}, "runs": [{"scene": "spring", "seed": 0}],
              "models": [{"seed": 1, "episodes": [{"seed": 3}, {"seed": 10**6}]}],
              "intervals": {"first_seed": 7}}
    assert sorted(_seeds(report)) == [3, 7, 10**6]
