"""python -m pig_control.paired: two results files compared on the same episodes."""

import json

import pytest
from cli_helpers import run_entry

from pig_control.paired import main


def _write_run(path, successes, env="spring", first_seed=10**6, distance_shift=0.0):
    episodes = [{"seed": first_seed + i, "success": s, "final_distance": 1.0 + 0.01 * i
                 + distance_shift, "return": -10.0 - 0.1 * i} for i, s in enumerate(successes)]
    path.write_text(json.dumps({"env": env, "episodes": episodes}))
    return str(path)


def test_verdicts_and_json(capsys, tmp_path):
    a = _write_run(tmp_path / "a.json", [i % 3 == 0 for i in range(60)])
    b = _write_run(tmp_path / "b.json", [True] * 60, distance_shift=-0.2)
    out = tmp_path / "diff.json"
    status, stdout, err = run_entry(main, capsys, [a, b, "--json", str(out)])
    assert status == 0, err
    assert "60 paired episodes of spring (reporting seeds)" in stdout
    report = json.loads(out.read_text())
    assert report["success"]["only_b"] == 40 and report["success"]["only_a"] == 0
    assert report["success"]["verdict"] == "improvement"
    assert report["final_distance"]["verdict"] == "improvement"
    assert report["return"]["verdict"] == "no significant difference"
    assert report["final_distance"]["mean_difference"] == pytest.approx(-0.2)
    assert set(report["provenance"]["inputs"]) == {a, b}


def test_a_few_episodes_are_not_an_improvement(capsys, tmp_path):
    a = _write_run(tmp_path / "a.json", [True] * 190 + [False] * 10)
    b = _write_run(tmp_path / "b.json", [True] * 194 + [False] * 6)
    status, stdout, _ = run_entry(main, capsys, [a, b])
    assert status == 0
    assert "success" in stdout and "no significant difference" in stdout
    assert "improvement" not in stdout


@pytest.mark.parametrize("make_b, words", [
    (lambda p: _write_run(p, [True] * 5, first_seed=0), ["same episodes"]),
    (lambda p: _write_run(p, [True] * 5, env="pendulum"), ["different envs"]),
    (lambda p: (p.write_text("{not json"), str(p))[1], ["not a JSON file"]),
    (lambda p: (p.write_text('{"rows": []}'), str(p))[1], ["per-episode"]),
    (lambda p: str(p.with_name("missing.json")), ["no such results file"]),
])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, make_b, words):
    a = _write_run(tmp_path / "a.json", [True] * 5)
    b = make_b(tmp_path / "b.json")
    out = tmp_path / "diff.json"
    status, _, err = run_entry(main, capsys, [a, b, "--json", str(out)])
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for word in words:
        assert word in err
    assert not out.exists()
