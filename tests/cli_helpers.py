"""Run a ``python -m pig_control.*`` entry point in-process, as the shell would."""

from __future__ import annotations

import torch

from pig_control.cli import run_main

#: A training run of seconds: every phase, a checkpoint every 3 steps (``key=value`` overrides).
TINY_TRAINING = ["training.steps=6", "training.autoencoder_steps=2", "training.dynamics_steps=2",
                 "training.batch_size=2", "training.autoencoder_frames=4",
                 "training.valid_sequences=2", "training.log_every=1",
                 "training.checkpoint_every=3", "training.identify_frames=4"]


def run_status(main, argv: list[str]) -> int:
    """The exit status of ``main(argv)`` through :func:`run_main`; restores torch's thread
    count, which the entry points set."""
    threads = torch.get_num_threads()
    try:
        return run_main(main, argv)
    finally:
        torch.set_num_threads(threads)


def run_entry(main, capsys, argv: list[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``main(argv)`` through :func:`run_main`."""
    status = run_status(main, argv)
    out = capsys.readouterr()
    return status, out.out, out.err
