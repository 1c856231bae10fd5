"""``python -m pig_control.recalibrate``: physical parameters re-fitted in refined coordinates."""

from __future__ import annotations

import json

import pytest
import torch

from pig_control.api import PRETRAINED_DIR
from pig_control.checkpoint import load_checkpoint, load_model, save_checkpoint
from pig_control.data import collect_rollouts, save_npz
from pig_control.provenance import sha256_file
from pig_control.recalibrate import main

SPRING = PRETRAINED_DIR / "spring_control.pt"


@pytest.fixture(scope="module")
def rollouts(tmp_path_factory):
    """Coloured-noise rollouts of the actuated spring (k = 4, l = 6, gain 5): 24 x 24 steps."""
    path = tmp_path_factory.mktemp("recal") / "spring_rollouts.npz"
    data = collect_rollouts("spring", episodes=24, steps=24, policy="colored", seed=3,
                            num_envs=4, progress=False)
    save_npz(path, data)
    return path


@pytest.fixture(scope="module")
def detuned(tmp_path_factory):
    """The shipped spring model with k set to 3 (true 4) and l to 6.6 (true 6)."""
    model, payload = load_model(SPRING)
    model.cell.set_param("k", 3.0)
    model.cell.set_param("l", 6.6)
    path = tmp_path_factory.mktemp("recal") / "detuned.pt"
    save_checkpoint(path, {**{k: v for k, v in payload.items() if k != "format"},
                           "model": model.state_dict()})
    return path


def run(capsys, argv):
    from pig_control.cli import run_main

    status = run_main(main, argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_recovers_detuned_parameters_and_records_them(capsys, tmp_path, rollouts, detuned):
    out = tmp_path / "recal.pt"
    report = tmp_path / "recal.json"
    status, _, err = run(capsys, ["--checkpoint", str(detuned), "--data", str(rollouts),
                                  "--out", str(out), "--steps", "400", "--lr", "0.05",
                                  "--json", str(report), "--quiet"])
    assert status == 0, err
    result = json.loads(report.read_text())
    assert result["params_before"]["k"] == pytest.approx(3.0, rel=1e-5)
    assert result["params_after"]["k"] == pytest.approx(4.0, rel=0.05)
    assert result["params_after"]["l"] == pytest.approx(6.0, rel=0.02)
    assert result["loss_after"] < 0.2 * result["loss_before"]
    assert result["refine_iterations"] == 1  # the spring controller's default
    payload = load_checkpoint(out)  # weights_only
    recal = payload["metadata"]["recalibration"]
    assert recal["params_after"] == result["params_after"]
    assert recal["inputs"][str(detuned)]["sha256"] == sha256_file(detuned)
    assert recal["inputs"][str(rollouts)]["sha256"] == sha256_file(rollouts)
    assert result["out_sha256"] == sha256_file(out)
    assert result["provenance"]["inputs"] == recal["inputs"]
    assert payload["metadata"]["env_frames"] == load_checkpoint(SPRING)["metadata"]["env_frames"]
    assert "optimizer" not in payload and payload["params"]["k"] == result["params_after"]["k"]
    model, _ = load_model(out)
    detuned_model, _ = load_model(detuned)
    # only the physics changed
    for name, value in model.state_dict().items():
        if "cell." not in name:
            assert torch.equal(value, detuned_model.state_dict()[name]), name


@pytest.mark.parametrize("extra, words", [
    (["--steps", "0"], ["--steps", "at least 1"]),
    (["--lr", "-1"], ["--lr", "positive"]),
    (["--refine", "-2"], ["--refine", "at least 0"]),
    (["--lr", "1e30", "--steps", "5"], ["became", "not written"]),
])
def test_bad_options_exit_2_and_write_nothing(capsys, tmp_path, rollouts, extra, words):
    out = tmp_path / "recal.pt"
    status, _, err = run(capsys, ["--checkpoint", str(SPRING), "--data", str(rollouts),
                                  "--out", str(out), "--quiet", *extra])
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for word in words:
        assert word in err
    assert not out.exists()


def test_wrong_data_exits_2(capsys, tmp_path, rollouts):
    digits = PRETRAINED_DIR / "mnist_spring_control.pt"
    out = tmp_path / "recal.pt"
    status, _, err = run(capsys, ["--checkpoint", str(digits), "--data", str(rollouts),
                                  "--out", str(out), "--quiet"])
    assert status == 2 and "the model sees 64x64 px" in err and not out.exists()
    status, _, err = run(capsys, ["--checkpoint", str(SPRING), "--data",
                                  str(tmp_path / "missing.npz"), "--out", str(out), "--quiet"])
    assert status == 2 and "no such file" in err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    status, _, err = run(capsys, ["--checkpoint", str(bad), "--data", str(rollouts),
                                  "--out", str(out), "--quiet"])
    assert status == 2 and str(bad) in err and not out.exists()


def test_a_good_output_file_survives_a_failed_run(capsys, tmp_path, rollouts):
    out = tmp_path / "recal.pt"
    out.write_bytes(b"precious")
    status, _, _ = run(capsys, ["--checkpoint", str(SPRING), "--data", str(rollouts),
                                "--out", str(out), "--lr", "1e30", "--steps", "5", "--quiet"])
    assert status == 2 and out.read_bytes() == b"precious"


def test_rollouts_of_another_scene_exit_2(capsys, tmp_path, rollouts):
    from pig_control.data import load_dataset

    data = load_dataset(rollouts)
    data["scene"] = "bouncing"
    other = tmp_path / "other.npz"
    save_npz(other, data)
    out = tmp_path / "recal.pt"
    status, _, err = run(capsys, ["--checkpoint", str(SPRING), "--data", str(other),
                                  "--out", str(out), "--quiet"])
    assert status == 2 and "rollouts of bouncing" in err and not out.exists()
