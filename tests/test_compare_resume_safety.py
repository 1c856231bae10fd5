"""compare --resume loads only SB3 zips it wrote and can verify, and unpickles nothing from
them; compare never deletes earlier work in --out unless told (--overwrite)."""

from __future__ import annotations

import base64
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
from cli_helpers import run_entry

from agents.sb3 import Baseline, pickled_fields
from pig_control.compare import main as compare_main
from pig_control.mpc import make_env

#: PPO from states for 128 frames, evaluated on one episode: a compare run of a few seconds.
ARGV = ["--env", "spring", "--algos", "ppo", "--obs", "state", "--pig-models", "",
        "--no-oracle", "--episodes", "1", "--quiet"]


class _Payload:
    """Unpickling this creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def tamper(zip_path: Path, field: str, marker: Path) -> None:
    """Replace field ``field`` of an SB3 zip's ``data`` record by a pickled payload."""
    with zipfile.ZipFile(zip_path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    record = json.loads(members["data"])
    record[field] = {":type:": "<class 'object'>",
                     ":serialized:": base64.b64encode(pickle.dumps(_Payload(marker))).decode()}
    members["data"] = json.dumps(record).encode()
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A compare --out holding PPO's checkpoint at 128 frames (and its manifest)."""
    out = tmp_path_factory.mktemp("compare") / "run"
    status = compare_main([*ARGV, "--steps", "128", "--out", str(out)])
    assert status == 0
    return out


def test_a_tampered_zip_is_refused_and_its_payload_never_runs(saved_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(saved_run, out)
    marker = tmp_path / "ran"
    tamper(out / "ppo-state" / "frames_128.zip", "observation_space", marker)
    status, _, err = run_entry(compare_main, capsys,
                               [*ARGV, "--steps", "128,256", "--out", str(out), "--resume"])
    assert status == 2
    assert "changed since this tool wrote it" in err and err.count("\n") == 1
    assert not marker.exists()


def test_a_zip_this_tool_did_not_write_is_refused(saved_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(saved_run, out)
    (out / "ppo-state" / "manifest.json").unlink()
    status, _, err = run_entry(compare_main, capsys,
                               [*ARGV, "--steps", "128,256", "--out", str(out), "--resume"])
    assert status == 2 and "not written by this tool" in err


def test_a_verified_zip_resumes(saved_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(saved_run, out)
    status, _, err = run_entry(compare_main, capsys,
                               [*ARGV, "--steps", "128,256", "--out", str(out), "--resume"])
    assert status == 0, err
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert [r["env_frames"] for r in rows][0] == 128 and rows[1]["env_frames"] >= 256
    # training went on from the loaded 128 frames (its log folder is named by where it began)
    assert (out / "ppo-state" / "logs" / "frames_128_256").is_dir()


@pytest.mark.parametrize("field", ["observation_space", "lr_schedule", "policy_class"])
def test_loading_unpickles_no_field_of_the_zip(tmp_path, field):
    """Even a zip that got past verification runs no code: every pickled field is replaced."""
    baseline = Baseline("ppo", "state", lambda: make_env("spring", {}), budget=256, seed=0)
    path = tmp_path / "ppo.zip"
    baseline.save(path)
    assert field in pickled_fields(path)
    marker = tmp_path / "ran"
    tamper(path, field, marker)
    baseline.load(path)
    assert not marker.exists()


def test_a_zip_with_an_unknown_pickled_field_is_refused(tmp_path):
    baseline = Baseline("ppo", "state", lambda: make_env("spring", {}), budget=256, seed=0)
    path = tmp_path / "ppo.zip"
    baseline.save(path)
    marker = tmp_path / "ran"
    tamper(path, "surprise", marker)
    with pytest.raises(ValueError, match="surprise"):
        baseline.load(path)
    assert not marker.exists()


def test_earlier_work_is_kept_unless_overwrite(saved_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(saved_run, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    status, _, err = run_entry(compare_main, capsys, [*ARGV, "--steps", "128", "--out", str(out)])
    assert status == 2 and "--overwrite" in err and "--resume" in err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    status, _, err = run_entry(compare_main, capsys,
                               [*ARGV, "--algos", "", "--out", str(out), "--overwrite"])
    assert status == 0, err
    assert not (out / "ppo-state").exists()
