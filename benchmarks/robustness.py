"""Robustness of unsupervised training across seeds: per scene, train with several seeds and
report, for every seed, whether the objects were found (reconstruction < 1.5 over the input and
prediction frames, the authors' measure; also over every frame, stricter) and the learned
parameters are within 5 % of the truth, and the prediction error against the authors' threshold.

    python benchmarks/robustness.py [--scenes spring,gravity,bouncing,mnist_spring]
        [--seeds 0,1,2,3,4] [--workers N | --ray | --ray-address ADDRESS]
        [--device cpu|cuda] [--out benchmarks/results/robustness.json]

Each run is ``python -m pig_control.train --config SCENE --seed S`` on the scene's default
dataset (generated once into data/SCENE.npz), then ``python -m pig_control.evaluate`` on its test
split. Every (scene, seed) is one unit of :mod:`pig_control.fanout`: ``--workers`` at a time
on this machine (default: the CPU count), or Ray tasks (``--ray``: all cores here;
``--ray-address``: a cluster whose nodes see this checkout at the same path), one CPU thread
each (``--unit-cpus``), a GPU each on ``--device cuda`` (``--unit-gpus``). The JSON carries
the provenance, and each row the commit its model was trained at (``code``, from the
checkpoint); ``wall_s`` is each run's training wall-clock (from its metrics.csv, so it adds up
across resumes). Each finished run's row is kept in RUNS/units/; rerunning the command reuses
them and resumes unfinished runs from their checkpoints, so seeds can be trained by several
invocations and gathered by one.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import envs  # noqa: E402
from pig_control import fanout  # noqa: E402
from pig_control.checkpoint import load_checkpoint  # noqa: E402
from pig_control.cli import (  # noqa: E402
    add_overwrite_option,
    check_output,
    make_parser,
    run_main,
    write_json,
)
from pig_control.errors import UserInputError  # noqa: E402
from pig_control.provenance import (  # noqa: E402
    add_allow_dirty,
    provenance,
    require_clean_tree,
)
from pig_control.runlock import locked  # noqa: E402


def run(command: list[str], log: Path) -> int:
    with log.open("w") as handle:
        return subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)


def ensure_data(scene: str) -> Path:
    path = ROOT / "data" / f"{scene}.npz"
    if not path.exists():
        subprocess.check_call([sys.executable, "-m", "pig_control.data", "generate", scene,
                               "--out", str(path), "--quiet"], cwd=ROOT)
    return path


def one_run(scene: str, seed: int, runs: str, device: str, export: str | None) -> dict:
    """Train and evaluate one (scene, seed) (a unit of the fan-out); returns its row."""
    runs, export = Path(runs), None if export is None else Path(export)
    out = runs / f"{scene}-s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    data = ROOT / "data" / f"{scene}.npz"
    train = [sys.executable, "-m", "pig_control.train", "--config", scene, "--seed", str(seed),
             "--data", str(data), "--out", str(out), "--no-progress", "--device", device]
    # continue a run cut off earlier; one killed before its first checkpoint starts afresh
    train.append("--resume" if (out / "last.pt").exists() else "--overwrite")
    status = run(train, out / "train.log")
    metrics = metrics_rows(out / "metrics.csv")
    row = {"scene": scene, "seed": seed, "train_status": status,
           "wall_s": training_seconds(metrics)}
    if status != 0:
        return row
    row["code"] = load_checkpoint(out / "last.pt").get("metadata", {}).get("code")
    report = out / "evaluate.json"
    if not report.exists() or report.stat().st_mtime < (out / "last.pt").stat().st_mtime:
        run([sys.executable, "-m", "pig_control.evaluate", "--checkpoint", str(out / "last.pt"),
             "--data", str(data), "--json", str(report), "--no-progress", "--device", device,
             "--overwrite"],
            out / "evaluate.log")
    if export is not None:
        from pig_control.checkpoint import export_model
        export.mkdir(parents=True, exist_ok=True)
        export_model(out / "last.pt", export / f"{scene}-s{seed}.pt", overwrite=True)
    if report.exists():
        result = json.loads(report.read_text())
        errors = result.get("param_rel_error") or {}
        row.update(params=result.get("params"), true_params=result.get("true_params"),
                   param_rel_error=errors, recons_error=result.get("recons_error"),
                   recons_error_input_pred=result.get("recons_error_input_pred"),
                   recons_curve=result.get("recons_curve"),
                   pred_error=result.get("pred_error"), extrap_error=result.get("extrap_error"),
                   position_error_px=result.get("position_error_px"),
                   seconds_to_5pct=seconds_to_5pct(metrics, {
                       name: result["true_params"][name] for name in errors}),
                   objects_found=result["success"]["objects_found"],
                   objects_found_every_frame=result["success"]["objects_found_every_frame"],
                   params_within_5pct=all(v is not None and v < 0.05 for v in errors.values()))
    return row


def metrics_rows(metrics: Path) -> list[dict]:
    """The rows of a run's metrics.csv (none when it does not exist)."""
    if not metrics.exists():
        return []
    with metrics.open() as handle:
        return list(csv.DictReader(handle))


def training_seconds(rows: list[dict]) -> float | None:
    """The training wall-clock (s) of the last metrics row."""
    return round(float(rows[-1]["wall_s"]), 1) if rows else None


def seconds_to_5pct(rows: list[dict], true_params: dict) -> float | None:
    """Training wall-clock (s) at the first logged step from which every identifiable parameter
    (``true_params``: name -> true value) stays within 5 % of the truth (None: never, or
    nothing to learn)."""
    if not true_params:
        return None
    reached = None
    for row in rows:
        if all(row.get(k) and abs(float(row[k]) - v) < 0.05 * abs(v)
               for k, v in true_params.items()):
            reached = reached if reached is not None else float(row["wall_s"])
        else:
            reached = None
    return reached


def build_parser():
    parser = make_parser("benchmarks/robustness.py", __doc__.splitlines()[0])
    parser.prog = "python benchmarks/robustness.py"
    parser.add_argument("--scenes", default="spring,gravity,bouncing,mnist_spring")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--workers", type=int, default=os.cpu_count(),
                        help="runs at a time without Ray (default: the CPU count)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--export", help="also write a shippable copy of every model here")
    parser.add_argument("--cuda-scenes", default="", help="scenes to train on the GPU instead")
    parser.add_argument("--runs", default=str(ROOT / "runs" / "robustness"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "robustness.json"))
    add_overwrite_option(parser)
    add_allow_dirty(parser)
    fanout.add_arguments(parser, "CPUs (and threads) per run (default 1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    spread = fanout.from_arguments(args)
    if args.workers < 1:
        raise UserInputError(f"--workers must be at least 1, got {args.workers}")
    spread = dataclasses.replace(spread, workers=args.workers)
    scenes = args.scenes.split(",")
    unknown = sorted(set(scenes) - set(envs.SCENES))
    if unknown:
        raise UserInputError(f"unknown scene(s) {', '.join(unknown)}; known: "
                             f"{', '.join(envs.SCENES)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise UserInputError(f"--seeds must be integers, got '{args.seeds}'") from None
    check_output(args.out, args.overwrite)  # later writes replace this run's own results
    args.git = require_clean_tree(args.allow_dirty)
    args.argv = argv
    cuda_scenes = set(filter(None, args.cuda_scenes.split(",")))
    runs = Path(args.runs).resolve()
    export = str(Path(args.export).resolve()) if args.export else None
    devices = {scene: "cuda" if scene in cuda_scenes else args.device for scene in scenes}
    units = [fanout.Unit(f"{scene}-s{seed}", one_run, {
        "scene": scene, "seed": seed, "runs": str(runs), "export": export,
        "device": devices[scene]}, **fanout.unit_resources(args, devices[scene] == "cuda"))
        for scene in scenes for seed in seeds]
    fanout.check_placeable(units, spread)  # before any data or run folder is made
    with ThreadPoolExecutor(len(scenes)) as pool:
        list(pool.map(ensure_data, scenes))
    rows: list[dict] = []

    def keep(outcome) -> None:  # in the driver, as runs finish, so a cut-off job still reports
        if outcome.done:
            rows.append(outcome.result)
            write_results(args, spread, scenes, rows)

    with locked(runs):
        outcomes = fanout.run_units(units, spread, runs / "units", on_outcome=keep)
    payload = write_results(args, spread, scenes, rows)
    for row in sorted(rows, key=lambda r: (r["scene"], r["seed"])):
        print(json.dumps({k: row.get(k) for k in ("scene", "seed", "param_rel_error",
                                                   "recons_error", "pred_error", "wall_s")}))
    for scene, line in payload["summary"].items():
        print(f"{scene}: {line}")
    return fanout.report_failures(outcomes)


def write_results(args, spread, scenes: list[str], rows: list[dict]) -> dict:
    summary = {}
    for scene in scenes:
        mine = [r for r in rows if r["scene"] == scene]
        good = [r for r in mine if r.get("objects_found") and r.get("params_within_5pct")]
        summary[scene] = (f"{len(good)} of {len(mine)} seeds found the objects and got every "
                          "parameter within 5 %")
    data = [ROOT / "data" / f"{scene}.npz" for scene in scenes]
    payload = {"provenance": provenance("benchmarks/robustness.py", args.argv, inputs=data,
                                        allow_dirty=args.allow_dirty, git=args.git),
               "workers": args.workers, "device": args.device, "fanout": spread.label,
               "cuda_scenes": args.cuda_scenes, "summary": summary,
               "runs": sorted(rows, key=lambda r: (r["scene"], r["seed"]))}
    write_json(args.out, payload, overwrite=True)
    return payload


if __name__ == "__main__":
    sys.exit(run_main(main))
