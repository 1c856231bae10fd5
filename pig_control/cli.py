"""Shared plumbing for the ``python -m pig_control.*`` entry points.

Every entry point builds an :class:`argparse.ArgumentParser` with :func:`make_parser` and runs its
body through :func:`run_main`: bad input (a missing or corrupt file, a wrong shape, an unknown
scene or key, an invalid option value) becomes one line on stderr and exit status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pig_control.errors import UserInputError

#: Exceptions that mean "the user gave us something unusable", not "the code is broken".
USER_ERRORS = (UserInputError, ValueError, KeyError, FileNotFoundError, IsADirectoryError,
               PermissionError, OSError)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2 (argparse's own default)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser for ``python -m prog`` that reports bad options in one line."""
    return _Parser(prog=f"python -m {prog}", description=description)


def run_main(main: Callable[[Sequence[str] | None], int | None],
             argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)``; turn user errors into one line on stderr and return status 2."""
    try:
        status = main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 2
    return int(status or 0)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    The parent directory is created if missing. If the body raises, the temporary file is removed
    and ``path`` is left as it was: a good file is never left half-written or damaged.
    """
    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"{path} is a directory, not a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: a good file is never
    left half-written."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)


def write_json(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=False) + "\n").encode())


def machine_description() -> dict:
    """The machine a measurement ran on: processor model, system, CPUs, load, versions."""
    import platform

    import numpy as np
    import torch

    processor = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                processor = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    uname = platform.uname()
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"processor": processor or uname.machine, "system": f"{uname.system} {uname.release}",
            "machine": uname.machine, "cpu_count": os.cpu_count(), "load_average_1_5_15": load,
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__}
