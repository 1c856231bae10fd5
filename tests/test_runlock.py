"""One lock per run directory: a second run on a folder in use is refused at once."""

from __future__ import annotations

import pytest

from pig_control.cli import run_main
from pig_control.compare import main as compare_main
from pig_control.errors import UserInputError
from pig_control.runlock import LOCK_NAME, locked
from pig_control.train import main as train_main


def test_a_second_holder_is_refused_and_the_lock_is_released(tmp_path):
    with locked(tmp_path / "run"):
        with pytest.raises(UserInputError, match="in use by another run"):
            with locked(tmp_path / "run"):
                pass
    with locked(tmp_path / "run"):  # released: free again
        pass


def test_a_file_is_not_a_run_directory(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserInputError, match="is a file"):
        with locked(tmp_path / "f"):
            pass


@pytest.mark.parametrize("command", ["train", "compare"])
def test_commands_refuse_a_run_directory_in_use(tmp_path, capsys, command):
    out = tmp_path / "run"
    argv = {"train": (train_main, ["--config", "spring", "--out", str(out), "--no-progress"]),
            "compare": (compare_main, ["--env", "spring", "--algos", "", "--pig-models", "",
                                       "--episodes", "1", "--out", str(out), "--quiet"])}
    main, args = argv[command]
    with locked(out):
        assert run_main(main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "in use by another run" in err and "\n" not in err
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written
