"""Shared plumbing for the ``python -m pig_control.*`` entry points.

Every entry point builds an :class:`argparse.ArgumentParser` with :func:`make_parser` and runs its
body through :func:`run_main`: bad input (a missing or corrupt file, a wrong shape, an unknown
scene or key, an invalid option value) becomes one line on stderr and exit status 2, never a
traceback.

Every output file is written through :func:`atomic_path` (or :func:`atomic_write_bytes`,
:func:`write_json` on top of it): regular files only, never through a link, no existing file
replaced without ``overwrite`` (``--overwrite``), temporary file synced and renamed, stale
temporary files of killed writers removed. ``docs/reliability.md`` lists the guarantees.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pig_control.errors import UserInputError
from pig_control.provenance import machine_description  # noqa: F401 - kept for callers

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


#: Help of ``--overwrite``, the option of every command that writes files.
OVERWRITE_HELP = "replace output files that already exist (default: refuse them)"
#: Temporary files without a process id in their name (older versions) count as stale after this.
STALE_TEMP_AGE_S = 3600.0


def add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    """``--overwrite``: without it, a command refuses to replace any output that exists."""
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def check_output(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse an output path that must not be written; return it as a :class:`Path`.

    Outputs are regular files only. A symbolic link at ``path`` is refused, never followed
    (name its target instead): writing through a link would replace the link, or a file
    somewhere else. A FIFO, socket, device or directory is refused. An existing regular file
    is refused unless ``overwrite``. A missing file is fine (its folder is created on write).
    Entry points call this before any long work, and :func:`atomic_path` again at the write.
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    if stat.S_ISLNK(mode):
        raise UserInputError(f"output '{path}' is a symbolic link (to '{os.readlink(path)}'): "
                             f"links are never written through; name the target instead")
    if stat.S_ISDIR(mode):
        raise UserInputError(f"output '{path}' is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise UserInputError(f"output '{path}' is not a regular file (a FIFO, socket or "
                             f"device): refused")
    if not overwrite:
        raise UserInputError(f"output '{path}' exists: pass --overwrite to replace it")
    return path


def check_outputs(paths, overwrite: bool = False) -> None:
    """:func:`check_output` on each path given (``None`` entries skipped); entry points call it
    on all their outputs before any work, so that a refusal costs nothing."""
    for path in paths:
        if path is not None:
            check_output(path, overwrite)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a number no process can have)
    return True


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files a killed writer of ``path`` left next to it; return them.

    Temporary files are named ``.NAME.PID.RANDOM.tmp``. One is stale when process PID no longer
    runs (a live writer's file is never touched); names without a PID (older versions) count
    as stale after :data:`STALE_TEMP_AGE_S` seconds. Only regular files of this user are
    removed, never links.
    """
    path = Path(path)
    prefix = _temp_prefix(path)
    removed = []
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        candidate = path.parent / name
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            continue
        middle = name[len(prefix):-len(".tmp")].split(".")
        if len(middle) == 2 and middle[0].isdigit():
            stale = not _process_alive(int(middle[0]))
        else:
            stale = time.time() - info.st_mtime > STALE_TEMP_AGE_S
        if stale:
            try:
                os.unlink(candidate)
                removed.append(candidate)
            except FileNotFoundError:
                pass
    return removed


def _fsync(path: str | os.PathLike, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: str, path: Path, overwrite: bool) -> None:
    """Move the finished temporary file onto ``path``. Without ``overwrite`` a hard link makes
    the step atomic and no-clobber: a file that appeared meanwhile is never replaced."""
    check_output(path, overwrite)
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise UserInputError(f"output '{path}' exists: pass --overwrite to replace it") from None
    except OSError:  # a file system without hard links: the check above has to do
        os.replace(tmp, path)
        return
    os.unlink(tmp)


@contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is synced and renamed onto ``path``.

    ``path`` must pass :func:`check_output` (a regular file or nothing; an existing file only
    with ``overwrite``). The parent directory is created if missing, and stale temporary files
    of ``path`` (:func:`remove_stale_temps`) are removed first. If the body raises, the
    temporary file is removed and ``path`` is left as it was: a good file is never left
    half-written or damaged.
    """
    path = check_output(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_temp_prefix(path)}{os.getpid()}.",
                               suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    try:
        yield Path(tmp)
        _fsync(tmp)
        _publish(tmp, path, overwrite)
        _fsync(path.parent, directory=True)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_path` (same checks and guarantees)."""
    with atomic_path(path, overwrite) as tmp, open(tmp, "wb") as handle:
        handle.write(data)


def write_json(path: str | os.PathLike, payload: dict, overwrite: bool = False) -> None:
    """Write ``payload`` as indented JSON through :func:`atomic_path`."""
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=False) + "\n").encode(),
                       overwrite)

