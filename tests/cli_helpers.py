"""Run a ``python -m pig_control.*`` entry point in-process, as the shell would."""

from __future__ import annotations

import torch

from pig_control.cli import run_main


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
