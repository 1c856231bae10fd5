"""pig_control.fanout: serial and Ray runs give the same results, lost workers are retried,
reruns resume, and units that cannot run are refused before anything is written.

One local Ray (2 CPUs) serves the whole module."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from pig_control.errors import UserInputError
from pig_control.fanout import FanOut, Unit, connect, run_units

ray = pytest.importorskip("ray")

SERIAL, LOCAL_RAY = FanOut(), FanOut(ray=True, retries=1)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray for the module; this module's functions travel by value to its workers."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    connect(LOCAL_RAY, num_cpus=2)
    yield
    ray.shutdown()


def seeded_sum(seed: int, calls: str | None = None) -> dict:
    """A small seeded computation; appends a line to ``calls`` (a file) when it runs."""
    import torch

    if calls is not None:
        with open(calls, "a") as handle:
            handle.write(f"{seed}\n")
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(1000, generator=generator, dtype=torch.float64)
    return {"seed": seed, "sum": float(values.sum()), "threads": torch.get_num_threads(),
            "omp": os.environ.get("OMP_NUM_THREADS")}


def killed_once(marker: str) -> str:
    """Kill the worker process the first time (``marker`` does not exist yet), then answer."""
    if not Path(marker).exists():
        Path(marker).write_text("killed once")
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


def always_killed() -> str:
    os.kill(os.getpid(), signal.SIGKILL)
    return "unreachable"


def raises() -> str:
    raise ValueError("bad unit\nsecond line")


def bad_input() -> str:
    raise UserInputError("no such checkpoint 'x.pt'")


def sweep(calls: Path | None = None, cpus: float = 1.0) -> list[Unit]:
    extra = {} if calls is None else {"calls": str(calls)}
    return [Unit(f"seed={s}", seeded_sum, {"seed": s, **extra}, cpus=cpus) for s in (0, 1)]


def results(outcomes) -> dict:
    return {k: {n: v for n, v in o.result.items() if n != "omp"} for k, o in outcomes.items()}


def test_a_ray_sweep_gives_the_serial_results_and_sets_threads_per_unit(tmp_path):
    serial = run_units(sweep(cpus=2), SERIAL, tmp_path / "serial")
    fanned = run_units(sweep(), LOCAL_RAY, tmp_path / "ray")
    assert all(o.done and not o.reused for o in [*serial.values(), *fanned.values()])
    assert {k: o.result["sum"] for k, o in serial.items()} == \
        {k: o.result["sum"] for k, o in fanned.items()}
    assert [o.result["threads"] for o in serial.values()] == [2, 2]
    assert [o.result["omp"] for o in fanned.values()] == ["1", "1"]
    assert len({o.pid for o in fanned.values()} - {os.getpid()}) >= 1  # ran in workers
    stored = json.loads((tmp_path / "ray" / "seed=1.json").read_text())
    assert stored["status"] == "done" and stored["result"]["sum"] == fanned["seed=1"].result["sum"]
    assert stored["kwargs"] == {"seed": 1} and stored["backend"] == "local ray"


def test_a_killed_worker_is_retried_and_the_sweep_completes(tmp_path):
    units = [*sweep(), Unit("killed", killed_once, {"marker": str(tmp_path / "marker")})]
    outcomes = run_units(units, LOCAL_RAY, tmp_path / "out")
    assert (tmp_path / "marker").exists()  # the first attempt was killed
    assert all(o.done for o in outcomes.values())
    assert outcomes["killed"].result == "survived"


def test_a_unit_that_keeps_dying_or_raises_is_recorded_failed_without_losing_others(tmp_path):
    units = [*sweep(), Unit("dies", always_killed), Unit("raises", raises)]
    outcomes = run_units(units, LOCAL_RAY, tmp_path / "out")
    assert outcomes["seed=0"].done and outcomes["seed=1"].done
    assert outcomes["dies"].status == "failed" and "worker lost 2 times" in outcomes["dies"].error
    assert outcomes["raises"].error == "ValueError: bad unit"
    stored = json.loads((tmp_path / "out" / "dies.json").read_text())
    assert stored["status"] == "failed" and stored["result"] is None


@pytest.mark.parametrize("fanout", [SERIAL, LOCAL_RAY], ids=["serial", "ray"])
def test_bad_input_found_by_a_unit_stops_the_job_with_its_message(tmp_path, fanout):
    with pytest.raises(UserInputError, match="no such checkpoint 'x.pt'"):
        run_units([Unit("bad", bad_input)], fanout, tmp_path / "out")
    assert not (tmp_path / "out" / "bad.json").exists()


@pytest.mark.parametrize("fanout", [SERIAL, LOCAL_RAY], ids=["serial", "ray"])
def test_a_resumed_sweep_reruns_nothing_finished(tmp_path, fanout):
    calls = tmp_path / "calls.txt"
    first = run_units(sweep(calls), fanout, tmp_path / "out")
    assert sorted(calls.read_text().split()) == ["0", "1"]
    (tmp_path / "out" / "seed=1.json").unlink()  # as if the job was cut off before unit 1
    again = run_units(sweep(calls), fanout, tmp_path / "out")
    assert sorted(calls.read_text().split()) == ["0", "1", "1"]  # only the missing unit ran
    assert again["seed=0"].reused and not again["seed=1"].reused
    assert results(again) == results(first)


def test_a_failed_unit_is_run_again_on_resume_and_other_settings_are_refused(tmp_path):
    out, calls = tmp_path / "out", tmp_path / "calls"
    calls.mkdir()  # a unit that writes to it fails
    unit = Unit("u", seeded_sum, {"seed": 3, "calls": str(calls)})
    assert run_units([unit], SERIAL, out)["u"].error.startswith("IsADirectoryError")
    calls.rmdir()
    outcome = run_units([unit], SERIAL, out)["u"]
    assert outcome.done and not outcome.reused
    for other in (Unit("u", seeded_sum, {"seed": 4}), Unit("u", raises)):
        with pytest.raises(UserInputError, match="other settings"):
            run_units([other], SERIAL, out)


def test_a_unit_larger_than_every_node_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(UserInputError, match=r"asks for 64 CPUs .*\(largest: 2 CPUs"):
        run_units(sweep(cpus=64), LOCAL_RAY, tmp_path / "out")
    with pytest.raises(UserInputError, match="0 GPUs"):
        run_units([Unit("gpu", seeded_sum, {"seed": 0}, gpus=1)], LOCAL_RAY, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_unit_without_a_gpu_is_refused_serially(tmp_path):
    with pytest.raises(UserInputError, match="no CUDA device"):
        run_units([Unit("gpu", seeded_sum, {"seed": 0}, gpus=1)], SERIAL, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_cluster_is_one_clear_error():
    from pig_control.fanout import check_reachable

    with pytest.raises(UserInputError, match="no Ray cluster answers there"):
        check_reachable("127.0.0.1:1")
    with pytest.raises(UserInputError, match="host:port"):
        check_reachable("nowhere")


# --- python -m pig_control.mpc: episodes in blocks --------------------------------------------
def mpc(capsys, *argv: str) -> tuple[int, str, str]:
    from cli_helpers import run_entry

    from pig_control.mpc import main

    return run_entry(main, capsys, ["--quiet", "--max-steps", "8", *argv])


def episodes(path: Path) -> list[dict]:
    """Per-episode results without the wall-clock timing."""
    return [{k: v for k, v in e.items() if k != "ms_per_step"}
            for e in json.loads(path.read_text())["episodes"]]


def test_mpc_blocks_on_ray_give_the_serial_episodes(capsys, tmp_path):
    common = ["--env", "spring", "--model", "oracle", "--episodes", "2"]
    assert mpc(capsys, *common, "--json", str(tmp_path / "serial.json"))[0] == 0
    status, _, err = mpc(capsys, *common, "--ray", "--block-size", "1", "--json",
                         str(tmp_path / "ray.json"))
    assert status == 0, err
    assert episodes(tmp_path / "ray.json") == episodes(tmp_path / "serial.json")
    assert json.loads((tmp_path / "ray.json").read_text())["fanout"]["backend"] == "local ray"


def test_mpc_blocks_of_a_learned_model_resume_and_match_one_block(capsys, tmp_path):
    common = ["--env", "spring", "--episodes", "3"]
    assert mpc(capsys, *common, "--json", str(tmp_path / "one.json"))[0] == 0
    units = tmp_path / "units"
    blocks = [*common, "--block-size", "2", "--units-dir", str(units)]
    assert mpc(capsys, *blocks, "--json", str(tmp_path / "blocks.json"))[0] == 0
    assert episodes(tmp_path / "blocks.json") == episodes(tmp_path / "one.json")
    files = sorted(p.name for p in units.iterdir())
    assert files == ["episodes-0-1.json", "episodes-2-2.json"]
    written = {p: p.stat().st_mtime_ns for p in units.iterdir()}
    assert mpc(capsys, *blocks, "--json", str(tmp_path / "again.json"))[0] == 0
    assert {p: p.stat().st_mtime_ns for p in units.iterdir()} == written  # nothing rerun
    assert episodes(tmp_path / "again.json") == episodes(tmp_path / "one.json")
    status, _, err = mpc(capsys, *blocks, "--seed", "7")
    assert status == 2 and "other settings" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, words", [
    (["--ray-address", "127.0.0.1:1"], "no Ray cluster answers there"),
    (["--ray", "--unit-cpus", "64"], "asks for 64 CPUs"),
    (["--ray", "--device", "cuda"], "no CUDA device"),
    (["--ray", "--ray-address", "127.0.0.1:1"], "give one of them"),
    (["--ray", "--retries", "-1"], "--retries"),
    (["--ray", "--video", "x.gif"], "--video records"),
])
def test_mpc_fanout_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, argv,
                                                                     words):
    if "cuda" in argv and __import__("torch").cuda.is_available():
        pytest.skip("this machine has a GPU")
    report, units = tmp_path / "out.json", tmp_path / "units"
    status, _, err = mpc(capsys, "--env", "spring", "--model", "oracle", "--episodes", "2",
                         "--json", str(report), "--units-dir", str(units), *argv)
    assert status == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not report.exists() and not units.exists()


# --- python -m pig_control.compare: one unit per agent ----------------------------------------
def test_compare_on_ray_gives_the_serial_rows(capsys, tmp_path):
    from cli_helpers import run_entry

    from pig_control.compare import main

    def rows(name: str, *extra: str) -> list[dict]:
        report = tmp_path / f"{name}.json"
        status, _, err = run_entry(main, capsys, [
            "--env", "spring", "--algos", "ppo", "--obs", "state", "--steps", "128",
            "--pig-models", "", "--episodes", "1", "--out", str(tmp_path / name), "--json",
            str(report), "--quiet", *extra])
        assert status == 0, err
        timing = {"wall_s", "eval_s", "ms_per_step"}

        def untimed(row: dict) -> dict:
            kept = {k: v for k, v in row.items() if k not in timing}
            if "episodes" in kept:
                kept["episodes"] = [untimed(e) for e in kept["episodes"]]
            return kept

        return [untimed(r) for r in json.loads(report.read_text())["rows"]]

    serial = rows("serial")
    assert [r["agent"] for r in serial] == ["oracle", "ppo-state"]
    assert rows("ray", "--ray") == serial


# --- benchmarks/robustness.py: one unit per (scene, seed) -------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--scenes", "spring", "--ray", "--unit-cpus", "8"], "asks for 8 CPUs"),
    (["--scenes", "spring", "--ray-address", "127.0.0.1:1"], "no Ray cluster answers there"),
    (["--scenes", "springs"], "unknown scene"),
    (["--scenes", "spring", "--seeds", "a"], "--seeds"),
])
def test_robustness_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, argv,
                                                                    words):
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "robustness.py"
    spec = importlib.util.spec_from_file_location("robustness_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from cli_helpers import run_entry

    out, runs = tmp_path / "out.json", tmp_path / "runs"
    status, _, err = run_entry(module.main, capsys,
                               ["--out", str(out), "--runs", str(runs), "--allow-dirty",
                                *argv])
    assert status == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and not runs.exists()
