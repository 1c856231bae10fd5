"""Every file a user hands us is loaded without unpickling, and a refusal never advises
unsafe loading (PyTorch's ``weights_only=False``, NumPy's ``allow_pickle``); NaN true states
are reported with a warning, not a silent null."""

from __future__ import annotations

import json
import os
import pickle
import random

import numpy as np
import pytest
import torch

from pig_control.checkpoint import load_checkpoint
from pig_control.cli import run_main
from pig_control.config import load_config
from pig_control.data import generate_dataset, load_dataset, save_npz
from pig_control.errors import UNSAFE_ADVICE, UserInputError, safe_reason
from pig_control.evaluate import main as evaluate_main
from pig_control.train import Trainer

torch.set_num_threads(1)


def assert_no_unsafe_advice(message: str) -> None:
    assert not any(phrase in message for phrase in UNSAFE_ADVICE), message


@pytest.mark.parametrize("content", [random.Random(0).randbytes(4096),
                                     pickle.dumps({"a": os.getcwd}),
                                     b"PK\x03\x04" + random.Random(1).randbytes(64)],
                         ids=["random-bytes", "pickled-global", "zip-header"])
def test_a_foreign_checkpoint_is_refused_without_unsafe_advice(tmp_path, content):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(UserInputError) as refused:
        load_checkpoint(path)
    message = str(refused.value)
    assert "model.pt" in message and "\n" not in message
    assert_no_unsafe_advice(message)


def test_a_pickled_npz_is_refused_without_unsafe_advice(tmp_path):
    path = tmp_path / "data.npz"
    with open(path, "wb") as handle:
        pickle.dump({"train_x": np.zeros(3)}, handle)
    with pytest.raises(UserInputError) as refused:
        load_dataset(path)
    assert "data.npz" in str(refused.value)
    assert_no_unsafe_advice(str(refused.value))
    with open(path, "wb") as handle:  # an object array inside a real archive
        np.savez(handle, train_x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(UserInputError) as refused:
        load_dataset(path)
    assert_no_unsafe_advice(str(refused.value))


def test_safe_reason_keeps_the_reason_and_drops_the_advice():
    torch_text = ("Weights only load failed. Re-running `torch.load` with `weights_only` set "
                  "to `False` will likely succeed.\nPlease file an issue: WeightsUnpickler "
                  "error: Unsupported global: GLOBAL os.system was not an allowed global by "
                  "default. Please use `torch.serialization.add_safe_globals([system])`.")
    assert safe_reason(pickle.UnpicklingError(torch_text)) == (
        "Unsupported global: GLOBAL os.system was not an allowed global by default.")
    assert safe_reason(ValueError("weights_only only")) == "ValueError"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("nan")
    data = generate_dataset("spring", n_train=4, n_valid=1, n_test=3, seed=0, progress=False)
    tiny = ["training.steps=1", "training.autoencoder_steps=1", "training.dynamics_steps=0",
            "training.batch_size=2", "training.autoencoder_frames=4",
            "training.valid_sequences=1", "training.checkpoint_every=1"]
    Trainer(load_config("spring", tiny), data, root / "run").fit(progress=False)
    return root / "run" / "last.pt", data


@pytest.mark.parametrize("bad, expected", [(1, "1 of 3 test sequences"), (3, "none of the 3")])
def test_nan_true_states_are_reported_with_a_warning(tmp_path, capsys, checkpoint, bad,
                                                     expected):
    path, data = checkpoint
    data = dict(data, test_states=data["test_states"].copy())
    data["test_states"][:bad, 5] = np.nan
    save_npz(tmp_path / "nan.npz", data)
    report_path = tmp_path / "report.json"
    assert run_main(evaluate_main, ["--checkpoint", str(path), "--data", str(tmp_path / "nan.npz"),
                                    "--json", str(report_path), "--no-progress"]) == 0
    report = json.loads(report_path.read_text())
    assert expected in report["position_warning"]
    assert expected in capsys.readouterr().err
    assert (report["position_error_px"] is None) == (bad == 3)
