"""The one writer (pig_control.cli.atomic_path and friends): regular files only, no silent
overwrite, temporary files cleaned, data synced before the rename; and the CLIs that use it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from pig_control import cli
from pig_control.checkpoint import save_checkpoint
from pig_control.cli import atomic_path, check_output, remove_stale_temps, run_main, write_json
from pig_control.errors import UserInputError
from pig_control.mpc import main as mpc_main
from pig_control.recalibrate import main as recalibrate_main

ROOT = Path(__file__).resolve().parents[1]
#: One short oracle episode: the cheapest command that writes a --json report.
MPC = ["--env", "spring", "--model", "oracle", "--episodes", "1", "--max-steps", "3", "--quiet"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err, err
    return err


def test_a_symlink_as_json_is_refused_and_left_alone(tmp_path, capsys):
    target = tmp_path / "t.json"
    target.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert run_main(mpc_main, [*MPC, "--json", str(link)]) == 2
    assert "symbolic link" in one_line_error(capsys)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "keep"
    # --overwrite does not make a link writable either
    assert run_main(mpc_main, [*MPC, "--json", str(link), "--overwrite"]) == 2
    assert link.is_symlink() and target.read_text() == "keep"


def test_a_fifo_as_json_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert run_main(mpc_main, [*MPC, "--json", str(fifo), "--overwrite"]) == 2
    assert "not a regular file" in one_line_error(capsys)
    assert fifo.is_fifo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.json"]


def test_a_device_is_refused_before_anything_is_written():
    with pytest.raises(UserInputError, match="not a regular file"):
        check_output("/dev/null", overwrite=True)


def test_an_existing_output_needs_overwrite(tmp_path, capsys):
    report = tmp_path / "run.json"
    report.write_text("earlier")
    assert run_main(mpc_main, [*MPC, "--json", str(report)]) == 2
    assert "--overwrite" in one_line_error(capsys)
    assert report.read_text() == "earlier"
    assert run_main(mpc_main, [*MPC, "--json", str(report), "--overwrite"]) == 0
    assert report.read_text().startswith("{")


def test_no_clobber_holds_when_the_file_appears_during_the_write(tmp_path):
    path = tmp_path / "out.json"
    with pytest.raises(UserInputError, match="exists"):
        with atomic_path(path) as tmp:
            tmp.write_text("new")
            path.write_text("someone else's")  # appeared while we were writing
    assert path.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_stale_temporary_files_are_removed_and_live_ones_kept(tmp_path):
    path = tmp_path / "last.pt"
    dead_pid = 2**22 + 12345  # above Linux's pid_max: no process has it
    dead = tmp_path / f".last.pt.{dead_pid}.abcd1234.tmp"
    live = tmp_path / f".last.pt.{os.getpid()}.efgh5678.tmp"
    old = tmp_path / ".last.pt.zyxw9876.tmp"  # an older version's name: no pid
    fresh = tmp_path / ".last.pt.qrst4321.tmp"
    other = tmp_path / f".other.pt.{dead_pid}.abcd1234.tmp"
    for p in (dead, live, old, fresh, other):
        p.write_bytes(b"partial")
    long_ago = time.time() - 2 * cli.STALE_TEMP_AGE_S
    os.utime(old, (long_ago, long_ago))
    link = tmp_path / f".last.pt.{dead_pid}.link0000.tmp"
    link.symlink_to(tmp_path / "elsewhere")
    save_checkpoint(path, {"config": {}, "model": {}})
    assert path.is_file()
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"last.pt", live.name, fresh.name, other.name, link.name}
    assert remove_stale_temps(path) == []


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "report.json"
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_checkpoints_are_synced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace, real_link = os.fsync, os.replace, os.link
    monkeypatch.setattr(cli.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(cli.os, "link", lambda a, b: (events.append("rename"), real_link(a, b)))
    monkeypatch.setattr(cli.os, "replace",
                        lambda a, b: (events.append("rename"), real_replace(a, b)))
    save_checkpoint(tmp_path / "a.pt", {"config": {}, "model": {}})
    assert events == ["fsync", "rename", "fsync"]  # file, rename, then its directory


def test_write_json_replaces_only_when_told(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"a": 1})
    with pytest.raises(UserInputError, match="exists"):
        write_json(path, {"a": 2})
    write_json(path, {"a": 2}, overwrite=True)
    assert '"a": 2' in path.read_text()


def test_recalibrate_refuses_to_write_over_its_own_checkpoint(tmp_path, capsys):
    model = tmp_path / "model.pt"
    shutil.copy(ROOT / "pig_control" / "pretrained" / "spring_control.pt", model)
    before = model.read_bytes()
    status = run_main(recalibrate_main, ["--checkpoint", str(model), "--data",
                                         str(tmp_path / "unused.npz"), "--out", str(model),
                                         "--overwrite", "--quiet"])
    assert status == 2
    assert "is the --checkpoint" in one_line_error(capsys)
    assert model.read_bytes() == before
