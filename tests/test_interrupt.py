"""SIGTERM and SIGINT: a stop request at the next safe point (training), or at once with a
resume command (compare); the previous handlers come back afterwards."""

from __future__ import annotations

import os
import signal

import pytest
from cli_helpers import run_entry

import pig_control.compare as compare
from pig_control.interrupt import Interrupted, RaiseOnStop, StopRequests


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_request_is_recorded_not_fatal(number):
    before = signal.getsignal(number)
    with StopRequests() as stop:
        os.kill(os.getpid(), number)
        assert stop.signum == number
        with pytest.raises(KeyboardInterrupt):  # asked twice: stop now
            os.kill(os.getpid(), number)
    assert signal.getsignal(number) is before
    assert Interrupted(number).exit_status == 128 + number


def test_raise_on_stop_raises_at_once():
    with pytest.raises(Interrupted) as stopped, RaiseOnStop():
        os.kill(os.getpid(), signal.SIGTERM)
    assert stopped.value.exit_status == 143 and stopped.value.signal_name == "SIGTERM"


def test_compare_stopped_by_sigterm_keeps_its_rows_and_says_how_to_resume(tmp_path, capsys,
                                                                         monkeypatch):
    out = tmp_path / "run"
    argv = ["--env", "spring", "--algos", "", "--pig-models", "pretrained", "--episodes", "1",
            "--out", str(out), "--quiet"]
    real_row = compare.mpc_row

    def row_then_sigterm(name, *args, **kwargs):
        row = real_row(name, *args, **kwargs)
        if name == "pig-mpc":  # the second row: the oracle's is already kept
            os.kill(os.getpid(), signal.SIGTERM)
        return row

    monkeypatch.setattr(compare, "mpc_row", row_then_sigterm)
    status, _, err = run_entry(compare.main, capsys, argv)
    assert status == 143
    assert err.count("\n") == 1 and "resume with: python -m pig_control.compare" in err
    assert err.strip().endswith("--resume")
    assert len((out / "rows.jsonl").read_text().splitlines()) == 1  # the oracle's row
    monkeypatch.setattr(compare, "mpc_row", real_row)
    status, _, err = run_entry(compare.main, capsys, [*argv, "--resume"])
    assert status == 0, err
    assert len((out / "rows.jsonl").read_text().splitlines()) == 2
