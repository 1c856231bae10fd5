"""The shipped models' manifest: the files match it, and a changed model gets a new entry."""

import json
import shutil

import pytest
import torch
from cli_helpers import run_entry

from pig_control import manifest
from pig_control.checkpoint import load_checkpoint, save_checkpoint
from pig_control.errors import UserInputError
from pig_control.provenance import sha256_file


def test_every_shipped_model_matches_its_last_manifest_entry():
    assert manifest.check() == []
    recorded = manifest.read_manifest()["files"]
    assert set(recorded) == {p.name for p in manifest.PRETRAINED_DIR.glob("*.pt")}
    for name, history in recorded.items():
        last = history[-1]
        assert last["sha256"] == sha256_file(manifest.PRETRAINED_DIR / name)
        assert last["training"]["command"], name  # every shipped model says how it was trained
    control = recorded["spring_control.pt"][-1]
    assert control["training"]["env_frames"] > 0 and control["recalibration"]["command"]


@pytest.fixture
def shipped(tmp_path):
    """A copy of one shipped model and an empty manifest beside it."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    shutil.copy(manifest.PRETRAINED_DIR / "pendulum_control.pt", folder)
    return folder / "pendulum_control.pt", folder / "MANIFEST.json"


def test_a_changed_model_gets_a_new_entry_never_an_overwrite(shipped):
    model, path = shipped
    assert manifest.check(model.parent, path) == ["pendulum_control.pt: no manifest entry"]
    first = manifest.add_entry(model, "first", path)
    assert manifest.check(model.parent, path) == []
    with pytest.raises(UserInputError, match="nothing to add"):
        manifest.add_entry(model, "same bytes", path)
    payload = load_checkpoint(model)
    payload["params"] = {k: v * 1.01 for k, v in payload["params"].items()}
    payload.pop("format")
    save_checkpoint(model, payload, overwrite=True)
    problems = manifest.check(model.parent, path)
    assert len(problems) == 1 and "sha256 differs" in problems[0]
    second = manifest.add_entry(model, "params changed", path)
    history = json.loads(path.read_text())["files"]["pendulum_control.pt"]
    assert [e["sha256"] for e in history] == [first["sha256"], second["sha256"]]
    assert history[0]["note"] == "first" and manifest.check(model.parent, path) == []


def test_metadata_that_is_missing_is_listed_as_unknown(tmp_path):
    payload = load_checkpoint(manifest.PRETRAINED_DIR / "pendulum_control.pt")
    payload.pop("format")
    payload["metadata"] = {"scene": "pendulum"}
    bare = tmp_path / "bare.pt"
    save_checkpoint(bare, payload)
    entry = manifest.describe(bare)
    assert set(entry["unknown"]) == set(manifest.TRAINING_FIELDS.values())
    assert entry["training"]["command"] is None and entry["sha256"] == sha256_file(bare)
    assert torch.load(bare, weights_only=True)["metadata"] == {"scene": "pendulum"}


def test_cli_check_and_add(capsys, shipped):
    model, path = shipped
    status, out, _ = run_entry(manifest.main, capsys, ["--manifest", str(path), "check"])
    assert status == 1 and "no manifest entry" in out
    status, out, _ = run_entry(manifest.main, capsys, ["--manifest", str(path), "add",
                                                       str(model), "--note", "n"])
    assert status == 0 and "added sha256" in out
    status, out, _ = run_entry(manifest.main, capsys, ["--manifest", str(path), "check"])
    assert status == 0 and "1 shipped models match" in out
    status, _, err = run_entry(manifest.main, capsys, ["--manifest", str(path), "add",
                                                       str(model)])
    assert status == 2 and "nothing to add" in err and len(err.strip().splitlines()) == 1
    path.write_text("{broken")
    status, _, err = run_entry(manifest.main, capsys, ["--manifest", str(path), "check"])
    assert status == 2 and "not valid JSON" in err
