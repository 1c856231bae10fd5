"""The manifest of the shipped models: which bytes ship, and where they came from.

    python -m pig_control.manifest check            # every shipped file matches its entry
    python -m pig_control.manifest add pig_control/pretrained/spring_control.pt \\
        --note "retrained with the current recipe"

``pig_control/pretrained/MANIFEST.json`` holds, per file, a list of entries, oldest first; the
last one describes the file that ships now. An entry records the file's sha256 and size, and
what the checkpoint's own metadata says about how it was made: the training command, the code
version (commit) it was trained at, the data file, the seed, the environment frames it learned
from, and any recalibration (command, code version). What the metadata does not record is listed
under ``unknown`` rather than guessed. A changed model gets a new entry appended with ``add``;
an entry is never rewritten, and ``add`` refuses a file whose bytes the last entry already
describes. ``check`` fails (exit 1) when a shipped file differs from its last entry or has none.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Sequence
from pathlib import Path

from pig_control.cli import make_parser, run_main, write_json
from pig_control.errors import UserInputError
from pig_control.provenance import git_state, sha256_file

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
MANIFEST = PRETRAINED_DIR / "MANIFEST.json"
#: Training metadata copied into an entry (checkpoint key -> entry key).
TRAINING_FIELDS = {"command": "command", "code": "code_version", "data": "data", "seed": "seed",
                   "env_frames": "env_frames", "wall_clock_s": "wall_clock_s"}


def describe(path: str | os.PathLike, note: str | None = None) -> dict:
    """A manifest entry for the checkpoint at ``path`` (see the module docstring)."""
    from pig_control.checkpoint import load_checkpoint

    path = Path(path)
    payload = load_checkpoint(path)
    metadata = payload.get("metadata") or {}
    training = {key: metadata.get(name) for name, key in TRAINING_FIELDS.items()}
    unknown = [key for key, value in training.items() if value is None]
    if metadata.get("env_frames") == 0:
        training["env_frames_meaning"] = ("trained on a generated dataset, not on environment "
                                          "interaction")
    recalibration = metadata.get("recalibration")
    if recalibration is not None:
        recalibration = {key: recalibration.get(key) for key in
                         ("command", "code", "data", "params_before", "params_after", "inputs")
                         if key in recalibration}
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size,
            "scene": metadata.get("scene"), "training": training,
            "recalibration": recalibration, "unknown": unknown, "note": note}


def read_manifest(path: str | os.PathLike = MANIFEST) -> dict:
    """The manifest (``{"files": {name: [entries]}}``); an empty one if the file is absent."""
    path = Path(path)
    if not path.exists():
        return {"files": {}}
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserInputError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise UserInputError(f"{path} is not a model manifest (no 'files')")
    return manifest


def add_entry(model: str | os.PathLike, note: str | None = None,
              manifest_path: str | os.PathLike = MANIFEST, **extra) -> dict:
    """Append an entry for ``model`` (keyed by its file name) and write the manifest.

    Refuses a file whose sha256 equals the last entry's: nothing changed, nothing to record.
    ``extra`` items (e.g. ``shipped_in_commit``) are stored in the entry.
    """
    manifest = read_manifest(manifest_path)
    entry = describe(model, note)
    entry.update(extra)
    entry.setdefault("added_utc", datetime.datetime.now(datetime.timezone.utc)
                     .strftime("%Y-%m-%dT%H:%M:%SZ"))
    entry.setdefault("added_at_commit", git_state()["commit"])
    history = manifest["files"].setdefault(Path(model).name, [])
    if history and history[-1]["sha256"] == entry["sha256"]:
        raise UserInputError(f"{Path(model).name}: the last manifest entry already has sha256 "
                             f"{entry['sha256'][:12]}...; nothing to add")
    history.append(entry)
    write_json(manifest_path, manifest, overwrite=True)  # the old entries, plus this one
    return entry


def import_history(manifest_path: str | os.PathLike = MANIFEST,
                   directory: str | os.PathLike = PRETRAINED_DIR) -> list[str]:
    """Entries, from git history, for every shipped file that has none yet: one per commit that
    changed the file's bytes, oldest first, each marked with that commit and its date. Returns
    the names imported. Files that already have entries are left alone."""
    import subprocess
    import tempfile

    from pig_control.provenance import REPO_ROOT

    imported = []
    for path in sorted(Path(directory).glob("*.pt")):
        if read_manifest(manifest_path)["files"].get(path.name):
            continue
        relative = path.resolve().relative_to(REPO_ROOT)
        log = subprocess.run(["git", "-C", str(REPO_ROOT), "log", "--reverse",
                              "--format=%H %cI", "--", str(relative)],
                             capture_output=True, text=True, check=True).stdout.split("\n")
        for line in filter(None, log):
            commit, date = line.split()
            blob = subprocess.run(["git", "-C", str(REPO_ROOT), "show",
                                   f"{commit}:{relative}"], capture_output=True, check=False)
            if blob.returncode != 0:
                continue  # deleted at this commit
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / path.name
                copy.write_bytes(blob.stdout)
                try:
                    add_entry(copy, "imported from git history", manifest_path,
                              added_utc=date, added_at_commit=commit)
                except UserInputError:
                    continue  # the commit did not change the bytes
        imported.append(path.name)
    return imported


def check(directory: str | os.PathLike = PRETRAINED_DIR,
          manifest_path: str | os.PathLike = MANIFEST) -> list[str]:
    """Problems found (empty: every ``*.pt`` in ``directory`` matches its last entry)."""
    manifest = read_manifest(manifest_path)
    problems = []
    for path in sorted(Path(directory).glob("*.pt")):
        history = manifest["files"].get(path.name)
        if not history:
            problems.append(f"{path.name}: no manifest entry")
        elif sha256_file(path) != history[-1]["sha256"]:
            problems.append(f"{path.name}: sha256 differs from its last manifest entry (a "
                            "changed model needs a new entry: python -m pig_control.manifest "
                            "add)")
    for name in manifest["files"]:
        if not (Path(directory) / name).is_file():
            problems.append(f"{name}: in the manifest but not shipped")
    return problems


def build_parser():
    parser = make_parser("pig_control.manifest", "Check or extend the shipped models' manifest.")
    parser.add_argument("--manifest", default=str(MANIFEST),
                        help="manifest file (default: the package's pretrained/MANIFEST.json); "
                        "the models it describes lie beside it")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("check", help="every shipped file matches its last entry")
    add = sub.add_parser("add", help="append an entry for a changed or new model")
    add.add_argument("model", help="the checkpoint (normally pig_control/pretrained/NAME.pt)")
    add.add_argument("--note", default=None, help="why the model changed")
    sub.add_parser("import-history", help="entries from git history for shipped files that "
                   "have none (one per commit that changed the file)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.action == "add":
        entry = add_entry(args.model, args.note, args.manifest)
        print(f"{Path(args.model).name}: added sha256 {entry['sha256']}")
        return 0
    directory = Path(args.manifest).parent
    if args.action == "import-history":
        names = import_history(args.manifest, directory)
        print(f"imported the git history of {len(names)} files: {', '.join(names) or '-'}")
        return 0
    problems = check(directory, args.manifest)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{len(list(directory.glob('*.pt')))} shipped models match {args.manifest}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
