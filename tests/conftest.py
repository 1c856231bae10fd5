"""Test-session setup and fixtures shared by every test file.

MuJoCo (DMC through Shimmy) picks its OpenGL backend once, when its renderer is first imported:
headless EGL must be chosen before any test imports it, whatever the order tests run in (a
user's own MUJOCO_GL wins). The fixtures give the tests that run the commands a tiny spring
dataset.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import pytest  # noqa: E402

from pig_control.data import generate_dataset, save_npz  # noqa: E402


@pytest.fixture(scope="session")
def tiny_spring():
    """A tiny spring dataset (6 / 2 / 2 sequences of the paper's lengths), as a dict."""
    return generate_dataset("spring", n_train=6, n_valid=2, n_test=2, seed=0, progress=False)


@pytest.fixture(scope="session")
def tiny_spring_npz(tmp_path_factory, tiny_spring):
    """:func:`tiny_spring` written to a file."""
    path = tmp_path_factory.mktemp("data") / "small.npz"
    save_npz(path, tiny_spring)
    return path
