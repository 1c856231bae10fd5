"""Knowing a file is the one we wrote or read before: sha256 digests and a manifest of them.

``--resume`` compares the digest of its data with the one recorded in the checkpoint; files
that must never be loaded unless this tool wrote them (stable-baselines3 zips, which carry
pickled fields) are listed with their digest in a ``manifest.json`` beside them, written when
they are saved and checked before they are loaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pig_control.cli import write_json
from pig_control.errors import UserInputError
from pig_control.provenance import sha256_file

MANIFEST_NAME = "manifest.json"


def read_manifest(directory: str | os.PathLike) -> dict[str, str]:
    """``{file name: sha256}`` of ``directory/manifest.json``; {} when there is none."""
    path = Path(directory) / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserInputError(f"manifest '{path}' is unreadable ({type(error).__name__})") from None
    if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entries.items()):
        raise UserInputError(f"manifest '{path}' is not a mapping of file names to sha256")
    return entries


def record(path: str | os.PathLike) -> None:
    """Add ``path`` (just written by us) and its sha256 to the manifest of its folder."""
    path = Path(path)
    entries = read_manifest(path.parent)
    entries[path.name] = sha256_file(path)
    write_json(path.parent / MANIFEST_NAME, entries, overwrite=True)


def verify(path: str | os.PathLike) -> Path:
    """Return ``path`` if the manifest of its folder lists it with its current sha256.

    Raises:
        UserInputError: not listed (this tool did not write it) or its bytes changed since.
    """
    path = Path(path)
    expected = read_manifest(path.parent).get(path.name)
    if expected is None:
        raise UserInputError(f"'{path}' was not written by this tool (not in "
                             f"{path.parent / MANIFEST_NAME}): refused to load it")
    if not path.is_file() or os.path.islink(path):
        raise UserInputError(f"'{path}' is not a regular file: refused to load it")
    if sha256_file(path) != expected:
        raise UserInputError(f"'{path}' changed since this tool wrote it (sha256 differs from "
                             f"{path.parent / MANIFEST_NAME}): refused to load it")
    return path
