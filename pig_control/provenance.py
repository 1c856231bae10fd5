"""Provenance: what a results file must say so that a reader can rerun it.

:func:`provenance` returns the one block every results file carries::

    {"command": "python -m pig_control.mpc --env spring ...",   # exact, shell-quoted
     "argv": [...],                                             # the same as a list
     "cwd": "...",
     "commit": "40 hex digits" | None,                          # None: not a git checkout
     "clean_tree": true | false | None,
     "changed_files": [...],                                    # what made the tree dirty
     "allow_dirty": false,                                      # a benchmark told to run dirty
     "inputs": {"path": {"sha256": "...", "bytes": N}, ...},    # every checkpoint / dataset read
     "packages": {"torch": "2.13.0+cpu", ...},
     "machine": {...},                                          # machine_description()
     "time_utc": "2026-12-02T05:00:00Z"}

The tree is "clean" when ``git status`` lists no change outside ``benchmarks/results/`` and
``benchmarks/tuning/`` (results and tuning files are outputs: a benchmark writing several of
them stays clean). Benchmarks call
:func:`require_clean_tree`, which refuses a dirty tree unless the user passed ``--allow-dirty``;
the block then records ``allow_dirty: true`` and the changed files.

    python -m pig_control.provenance                  # this checkout's block, as JSON
    python -m pig_control.provenance --require-clean  # exit 2 with one line on a dirty tree
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from pig_control.errors import UserInputError

#: The repository the package runs from (a git checkout in development, else site-packages).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Changes under these repository paths do not make the tree dirty: they are results, not code.
OUTPUT_DIRS = ("benchmarks/results/", "benchmarks/tuning/")
#: Distributions whose versions can change a figure.
PACKAGES = ("pig_control", "torch", "numpy", "scipy", "numba", "gymnasium", "stable-baselines3",
            "cma", "scikit-image", "mujoco", "shimmy", "dm-control", "ray")
#: Files hashed in blocks of this many bytes.
_BLOCK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(repo: str | os.PathLike = REPO_ROOT) -> dict:
    """``{commit, clean_tree, changed_files}`` of the checkout at ``repo``; all None when it
    is not a git checkout (an installed package)."""
    repo = Path(repo)
    commit = _git(repo, "rev-parse", "HEAD")
    status = _git(repo, "status", "--porcelain=v1", "--untracked-files=all")
    if commit is None or status is None:
        return {"commit": None, "clean_tree": None, "changed_files": None}
    changed = []
    for line in status.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if not path.startswith(OUTPUT_DIRS):
            changed.append(path)
    return {"commit": commit.strip(), "clean_tree": not changed, "changed_files": changed}


def require_clean_tree(allow_dirty: bool, repo: str | os.PathLike = REPO_ROOT) -> dict:
    """The git state; a dirty tree (or no git checkout) is refused unless ``allow_dirty``.

    Benchmarks call this before any work, so a figure never silently comes from code that no
    commit holds.
    """
    state = git_state(repo)
    if allow_dirty:
        return state
    if state["commit"] is None:
        raise UserInputError(f"{repo} is not a git checkout: no commit to record; pass "
                             "--allow-dirty to run anyway (the results file will say so)")
    if not state["clean_tree"]:
        shown = ", ".join(state["changed_files"][:5])
        more = " ..." if len(state["changed_files"]) > 5 else ""
        raise UserInputError(f"uncommitted changes ({shown}{more}): commit them, or pass "
                             "--allow-dirty (the results file will say so)")
    return state


def add_allow_dirty(parser) -> None:
    """The ``--allow-dirty`` option of a benchmark (see :func:`require_clean_tree`)."""
    parser.add_argument("--allow-dirty", action="store_true",
                        help="run on a tree with uncommitted changes (the results file then "
                        "records allow_dirty and the changed files)")


def parse_benchmark_args(parser, argv: Sequence[str] | None, script: str, output: str = "out"):
    """Parse a benchmark script's arguments, with the options every benchmark shares, and check
    before any work: ``--overwrite`` (the output ``args.<output>`` may be replaced) and
    ``--allow-dirty`` (:func:`require_clean_tree`). ``script`` is the script's ``__file__``.

    The namespace also carries what :func:`benchmark_provenance` needs: ``git`` (the state
    taken now, before the work), ``argv`` and ``script`` (``benchmarks/NAME.py``).
    """
    from pig_control.cli import add_overwrite_option, check_output

    add_overwrite_option(parser)
    add_allow_dirty(parser)
    args = parser.parse_args(argv)
    if getattr(args, output) is not None:
        check_output(getattr(args, output), args.overwrite)  # before the work, not after
    args.git = require_clean_tree(args.allow_dirty)
    args.argv, args.script = argv, f"benchmarks/{Path(script).name}"
    return args


def benchmark_provenance(args, inputs: Iterable[str | os.PathLike] = ()) -> dict:
    """The provenance block of a benchmark whose arguments came from
    :func:`parse_benchmark_args`; ``inputs``: every checkpoint and dataset it read."""
    return provenance(args.script, args.argv, inputs=inputs, allow_dirty=args.allow_dirty,
                      git=args.git)


def package_versions(names: Iterable[str] = PACKAGES) -> dict:
    """Installed version of each distribution, ``None`` where it is not installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


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


def command_argv(program: str | None, argv: Sequence[str] | None) -> list[str]:
    """The command as typed: ``python -m PROGRAM ARGS`` for a module's ``main(argv)``
    (``argv`` None: this process's own arguments), or this process's command line when
    ``program`` is None."""
    if program is None:
        return ["python", *sys.argv]
    args = list(sys.argv[1:] if argv is None else argv)
    if program.endswith(".py"):
        return ["python", program, *args]
    return ["python", "-m", program, *args]


def input_hashes(paths: Iterable[str | os.PathLike]) -> dict:
    """``{path: {sha256, bytes}}`` of each input file (``path`` as given)."""
    out = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise UserInputError(f"input {path} is not a readable file")
        out[str(path)] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


def provenance(program: str | None = None, argv: Sequence[str] | None = None,
               inputs: Iterable[str | os.PathLike] = (), allow_dirty: bool = False,
               git: dict | None = None) -> dict:
    """The provenance block of a results file (see the module docstring).

    ``program``: the module (``pig_control.mpc``) or script path (``benchmarks/x.py``) that ran,
    ``argv`` its arguments; ``inputs``: every checkpoint and dataset file it read; ``git``: a
    state already taken (by :func:`require_clean_tree` before the work started), else taken now.
    """
    argv_list = command_argv(program, argv)
    state = git if git is not None else git_state()
    return {
        "command": shlex.join(argv_list),
        "argv": argv_list,
        "cwd": os.getcwd(),
        "commit": state["commit"],
        "clean_tree": state["clean_tree"],
        "changed_files": state["changed_files"],
        "allow_dirty": bool(allow_dirty),
        "inputs": input_hashes(inputs),
        "packages": package_versions(),
        "machine": machine_description(),
        "time_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print this checkout's provenance block; with ``--require-clean``, refuse a dirty tree
    (shell benchmarks call this first)."""
    import json

    from pig_control.cli import make_parser

    parser = make_parser("pig_control.provenance", "Print the provenance block of this checkout, "
                         "or (--require-clean) fail on uncommitted changes.")
    parser.add_argument("--require-clean", action="store_true",
                        help="exit 2 with one line when the tree has uncommitted changes")
    args = parser.parse_args(argv)
    if args.require_clean:
        require_clean_tree(False)
        return 0
    print(json.dumps(provenance("pig_control.provenance", argv), indent=2))
    return 0


if __name__ == "__main__":
    from pig_control.cli import run_main

    raise SystemExit(run_main(main))
