"""Fixtures shared by the tests that run the commands on a tiny spring dataset."""

from __future__ import annotations

import pytest

from pig_control.data import generate_dataset, save_npz


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
