"""One lock per run directory, so that two runs never write into the same folder at once.

A second ``train --out DIR``, ``compare --out DIR`` or benchmark run on a folder that a live run
holds is refused at once with one line (exit status 2) and writes nothing. The lock is an
operating-system file lock (:mod:`filelock`) on ``DIR/.pig_control.lock``: it is released
when the process ends, however it ends (kill -9 included), so a stale lock never blocks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from pig_control.errors import UserInputError

LOCK_NAME = ".pig_control.lock"


@contextmanager
def locked(directory: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of run directory ``directory`` (created if missing) for the body.

    Raises:
        UserInputError: another process holds it, or ``directory`` is not a directory.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UserInputError(f"run directory '{directory}' is a file, not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / LOCK_NAME, timeout=0, is_singleton=False)
    try:
        lock.acquire()
    except Timeout:
        raise UserInputError(f"run directory '{directory}' is in use by another run (it holds "
                             f"{directory / LOCK_NAME}); wait for it to end or choose another "
                             f"directory") from None
    try:
        yield directory
    finally:
        lock.release()
