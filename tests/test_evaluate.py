"""``python -m pig_control.evaluate`` and the figures, on a tiny checkpoint and tiny data."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pig_control.checkpoint import load_model
from pig_control.cli import run_main
from pig_control.config import config_from_dict, load_config
from pig_control.data import generate_dataset, load_dataset, save_npz
from pig_control.errors import UserInputError
from pig_control.evaluate import evaluate, held_out_split, main, parameter_errors
from pig_control.provenance import sha256_file
from pig_control.train import Trainer

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TINY = ["training.steps=2", "training.autoencoder_steps=1", "training.dynamics_steps=0",
        "training.batch_size=2", "training.autoencoder_frames=4", "training.valid_sequences=1",
        "training.log_every=1", "training.checkpoint_every=1"]
KEYS = ("params", "true_params", "param_rel_error", "pred_error", "extrap_error", "recons_error",
        "extrap_curve", "psnr", "ssim", "position_error_px", "success")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny spring dataset (3 test sequences of 30 frames) and a 2-step checkpoint."""
    root = tmp_path_factory.mktemp("evaluate")
    data = generate_dataset("spring", n_train=4, n_valid=1, n_test=3, seed=0, progress=False)
    save_npz(root / "spring.npz", data)
    trainer = Trainer(load_config("spring", TINY), data, root / "run")
    trainer.fit(progress=False)
    return {"data": root / "spring.npz", "checkpoint": root / "run" / "last.pt", "root": root}


def cli(*args) -> int:
    return run_main(main, [str(a) for a in args])


def all_finite(value) -> bool:
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(all_finite(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is not None


def test_evaluate_writes_every_key_with_finite_values(files, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert cli("--checkpoint", files["checkpoint"], "--data", files["data"], "--json", out) == 0
    report = json.loads(out.read_text())
    for key in KEYS:
        assert key in report, key
        assert all_finite(report[key]), (key, report[key])
    assert report["sequences"] == 3
    inputs = report["provenance"]["inputs"]
    assert inputs[str(files["data"])]["sha256"] == sha256_file(files["data"])
    assert inputs[str(files["checkpoint"])]["sha256"] == sha256_file(files["checkpoint"])
    assert report["provenance"]["command"].startswith("python -m pig_control.evaluate ")
    assert (report["input_steps"], report["pred_steps"], report["extrap_steps"]) == (4, 6, 20)
    assert len(report["extrap_curve"]) == 26
    assert report["true_params"] == {"k": 4.0, "l": 6.0}
    assert set(report["param_rel_error"]) == {"k", "l"}
    k = report["params"]["k"]
    assert report["param_rel_error"]["k"] == pytest.approx(abs(k - 4.0) / 4.0)
    assert report["pred_error"] == pytest.approx(np.mean(report["extrap_curve"][:6]))
    assert report["extrap_error"] == pytest.approx(np.mean(report["extrap_curve"][6:]))
    assert set(report["success"]) >= {"objects_found", "dynamics_learned"}
    assert report["success"]["pred_threshold"] == 3.0
    # the encoder's position error recomputed by hand: all frames, the better slot order
    model, _ = load_model(files["checkpoint"])
    data = load_dataset(files["data"])
    frames = torch.from_numpy(data["test_x"]).permute(0, 1, 4, 2, 3).float() / 255.0
    with torch.no_grad():
        encoded = model.encode(frames).double().numpy()
    truth = data["test_states"][:, : encoded.shape[1], :, :2]
    errors = {order: np.linalg.norm(encoded - truth[:, :, list(order)], axis=-1).mean()
              for order in ((0, 1), (1, 0))}
    best = min(errors, key=errors.get)
    assert report["object_order"] == list(best)
    assert report["position_error_px"] == pytest.approx(errors[best], rel=1e-5)
    # reconstruction by hand: over every frame, and over the 10 input and prediction frames,
    # the authors' measure, which the objects-found threshold applies to
    with torch.no_grad():
        recons = ((model.decode(model.encode(frames)) - frames) ** 2).sum((-3, -2, -1)).numpy()
    assert report["recons_error"] == pytest.approx(recons.mean(), rel=1e-5)
    assert report["recons_error_input_pred"] == pytest.approx(recons[:, :10].mean(), rel=1e-5)
    assert report["recons_curve"] == pytest.approx(recons.mean(0).tolist(), rel=1e-5)
    assert report["success"]["objects_found"] == (recons[:, :10].mean() < 1.5)
    assert report["success"]["objects_found_every_frame"] == (recons.mean() < 1.5)
    printed = capsys.readouterr().out
    assert "prediction" in printed and "extrapolation" in printed and "k" in printed


def test_batching_and_sequence_count_do_not_change_the_numbers(files):
    model, payload = load_model(files["checkpoint"])
    config = config_from_dict(payload["config"])
    data = load_dataset(files["data"])
    whole, _ = evaluate(model, config, data, batch_size=64)
    single, _ = evaluate(model, config, data, batch_size=1)
    for key in ("pred_error", "extrap_error", "recons_error", "psnr", "ssim",
                "position_error_px"):
        assert single[key] == pytest.approx(whole[key], rel=1e-5), key
    first, examples = evaluate(model, config, data, sequences=1)
    assert first["sequences"] == 1
    assert examples["truth"].shape == (1, 30, 32, 32, 3)
    assert np.all(examples["preds"][:, :4] == 0) and examples["input_steps"] == 4


def test_metric_is_the_papers_summed_squared_pixel_error(files):
    """pred_error recomputed by hand from the model's own outputs."""
    model, payload = load_model(files["checkpoint"])
    config = config_from_dict(payload["config"])
    data = load_dataset(files["data"])
    report, _ = evaluate(model, config, data)
    x = torch.from_numpy(data["test_x"]).permute(0, 1, 4, 2, 3).float() / 255.0
    with torch.no_grad():
        enc = model.encode(x)
        preds = model.decode(model.rollout(enc[:, :4], 6))
    manual = ((preds - x[:, 4:10]) ** 2).sum((2, 3, 4)).mean().item()
    assert report["pred_error"] == pytest.approx(manual, rel=1e-5)


def test_errors_carry_a_bootstrap_interval_over_sequences(files):
    """Each error's interval is over the test sequences (n of them), around the same mean."""
    model, payload = load_model(files["checkpoint"])
    report, _ = evaluate(model, config_from_dict(payload["config"]), load_dataset(files["data"]))
    for name in ("pred_error", "extrap_error"):
        summary = report["intervals"][name]
        assert summary["n"] == report["sequences"] == 3
        assert summary["mean"] == pytest.approx(report[name], rel=1e-9)
        low, high = summary["bootstrap_95"]
        assert low <= summary["mean"] <= high and low < high


def test_perfect_positions_give_zero_position_error():
    """The position metric against a model whose encoder returns the true positions."""
    data = generate_dataset("spring", n_train=1, n_valid=0, n_test=2, test_seq_len=12, seed=1,
                            progress=False)
    config = load_config("spring")
    from pig_control.model.pig import PIGModel

    model = PIGModel(config.model, config.data.input_steps)
    truth = torch.from_numpy(data["test_states"][..., :2]).double()

    def encode(frames):
        return truth[:, :frames.shape[1]].flip(2).float()  # slots swapped: matching finds it

    model.encode = encode
    report, _ = evaluate(model, config, data)
    assert report["position_error_px"] == pytest.approx(0.0, abs=1e-5)
    assert report["object_order"] == [1, 0]
    np.testing.assert_allclose(report["position_offset_px"], np.zeros((2, 2)), atol=1e-5)
    assert (report["pred_steps"], report["extrap_steps"]) == (6, 2)  # 12-frame sequences


def test_parameter_errors_use_identifiable_combinations():
    errors, note = parameter_errors("gravity", {"g": 66.0}, {"g": 60.0, "m": 1.0})
    assert errors == {"g": pytest.approx(0.1)} and "g m^2" in note
    errors, _ = parameter_errors("gravity", {"g": 240.0}, {"g": 60.0, "m": 2.0})
    assert errors == {"g": pytest.approx(0.0)}  # g m^2 = 240 either way
    errors, note = parameter_errors("spring", {"k": 4.26, "l": 6.17}, {"k": 4.0, "l": 6.0})
    assert errors == {"k": pytest.approx(0.065), "l": pytest.approx(0.17 / 6)} and note is None
    errors, note = parameter_errors("pendulum", {"g": 20.0, "m": 1.0, "l": 2.0},
                                    {"g": 10.0, "m": 1.0, "l": 1.0})
    assert errors == {"3g/(2l)": pytest.approx(0.0)} and "3 g / (2 l)" in note
    assert parameter_errors("free", {}, {}) == ({}, None)


def test_rollouts_are_evaluated_on_their_last_tenth_with_actions(tmp_path):
    from pig_control.data import collect_rollouts

    rollouts = collect_rollouts("spring", episodes=10, steps=12, seed=0, progress=False,
                                num_envs=2)
    split = held_out_split(rollouts)
    assert len(split["frames"]) == 1 and split["actions"].shape == (1, 12, 2)
    np.testing.assert_array_equal(split["frames"], rollouts["frames"][-1:])
    config = load_config("spring", ["model.action_dim=2", "model.actuated_objects=[0]"])
    from pig_control.model.pig import PIGModel

    model = PIGModel(config.model, config.data.input_steps)
    report, _ = evaluate(model, config, rollouts)
    assert (report["pred_steps"], report["extrap_steps"]) == (6, 3)  # 13 frames per episode
    assert report["action_gain"] == [[1.0], [0.0]]  # object x action pair: ball 0 pushed
    assert all_finite({k: report[k] for k in KEYS})
    # Changing the actions changes the prediction: they reach the physics cell.
    changed = dict(rollouts, actions=-rollouts["actions"])
    other, _ = evaluate(model, config, changed)
    assert other["extrap_curve"] != report["extrap_curve"]
    # A model that needs actions refuses a dataset without them.
    with pytest.raises(UserInputError, match="actions"):
        evaluate(model, config, generate_dataset("spring", n_train=1, n_valid=0, n_test=1,
                                                 progress=False))


def test_figures_are_written(files, tmp_path):
    figures = tmp_path / "figures"
    assert cli("--checkpoint", files["checkpoint"], "--data", files["data"], "--sequences", 2,
               "--figures", figures) == 0
    names = {p.name for p in figures.iterdir()}
    assert {"figure2_sequences.png", "figure4_templates.png", "prediction.gif", "loss.png",
            "params.png"} <= names
    import imageio.v2 as imageio

    gif = imageio.mimread(figures / "prediction.gif")
    assert len(gif) == 30


def test_figures_cli_draws_the_run_curves(files, tmp_path):
    from pig_control.figures import main as figures_main
    from pig_control.figures import read_metrics

    out = tmp_path / "curves"
    run = files["checkpoint"].parent
    assert run_main(figures_main, ["--run", str(run), "--out", str(out)]) == 0
    assert {"loss.png", "params.png", "figure4_templates.png"} <= {p.name for p in out.iterdir()}
    columns = read_metrics(run / "metrics.csv")
    assert list(columns["step"]) == [1.0, 2.0]
    assert run_main(figures_main, ["--run", str(tmp_path / "nowhere")]) == 2


# ---- bad input -----------------------------------------------------------------------------
def test_bad_inputs_exit_2_in_one_line(files, tmp_path, capsys):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"hello world, this is not a checkpoint")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(files["checkpoint"].read_bytes()[:500])
    bad_npz = tmp_path / "bad.npz"
    bad_npz.write_bytes(b"not an npz")
    gravity = tmp_path / "gravity.npz"  # 36 x 36 frames for a 32 x 32 model
    save_npz(gravity, generate_dataset("gravity", n_train=1, n_valid=0, n_test=1,
                                       progress=False))
    cases = [
        (["--checkpoint", tmp_path / "missing.pt", "--data", files["data"]], "missing.pt"),
        (["--checkpoint", garbage, "--data", files["data"]], "garbage.pt"),
        (["--checkpoint", truncated, "--data", files["data"]], "truncated.pt"),
        (["--checkpoint", files["checkpoint"], "--data", tmp_path / "none.npz"], "none.npz"),
        (["--checkpoint", files["checkpoint"], "--data", bad_npz], "bad.npz"),
        (["--checkpoint", files["checkpoint"], "--data", gravity], "image size"),
        (["--checkpoint", files["checkpoint"], "--data", files["data"], "--sequences", 0],
         "--sequences"),
    ]
    for args, expected in cases:
        assert cli(*args) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err and expected in err, (args, err)


def test_bad_input_exits_2_without_traceback_or_json(files, tmp_path):
    out = tmp_path / "report.json"
    out.write_text("{\"kept\": true}\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-m", "pig_control.evaluate", "--checkpoint", str(files["checkpoint"]),
         "--data", str(tmp_path / "none.npz"), "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert json.loads(out.read_text()) == {"kept": True}  # a good file is never overwritten
