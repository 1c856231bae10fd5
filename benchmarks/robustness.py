"""Robustness of unsupervised training across seeds: per scene, train with several seeds and
report, for every seed, whether the objects were found (reconstruction < 1.5) and the learned
parameters are within 5 % of the truth, and the prediction error against the authors' threshold.

    python benchmarks/robustness.py [--scenes spring,gravity,bouncing,mnist_spring]
        [--seeds 0,1,2,3,4] [--workers N] [--device cpu|cuda]
        [--out benchmarks/results/robustness.json]

Each run is ``python -m pig_control.train --config SCENE --seed S`` on the scene's default
dataset (generated once into data/SCENE.npz), then ``python -m pig_control.evaluate`` on its test
split. Runs go in parallel, one CPU thread each (``--workers``, default: the CPU count). The
JSON names the machine and the commit, and each row the commit its model was trained at
(``code``, from the checkpoint); ``wall_s`` is each run's training wall-clock (from its
metrics.csv, so it adds up across resumes). Rerunning the command resumes unfinished runs and
reuses finished ones (a run is evaluated again only when its checkpoint is newer than its
report), so seeds can be trained by several invocations and gathered by one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control.checkpoint import load_checkpoint  # noqa: E402
from pig_control.cli import run_main, write_json  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402
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


def one_run(scene: str, seed: int, runs: Path, device: str, export: Path | None) -> dict:
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
                   pred_error=result.get("pred_error"), extrap_error=result.get("extrap_error"),
                   position_error_px=result.get("position_error_px"),
                   seconds_to_5pct=seconds_to_5pct(metrics, {
                       name: result["true_params"][name] for name in errors}),
                   objects_found=result["recons_error"] < 1.5,
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", default="spring,gravity,bouncing,mnist_spring")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--export", help="also write a shippable copy of every model here")
    parser.add_argument("--cuda-scenes", default="", help="scenes to train on the GPU instead")
    parser.add_argument("--runs", default=str(ROOT / "runs" / "robustness"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "robustness.json"))
    args = parse_benchmark_args(parser, argv, __file__)
    scenes = args.scenes.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    with ThreadPoolExecutor(len(scenes)) as pool:
        list(pool.map(ensure_data, scenes))
    runs = Path(args.runs)
    export = Path(args.export) if args.export else None
    jobs = [(scene, seed) for scene in scenes for seed in seeds]
    cuda_scenes = set(filter(None, args.cuda_scenes.split(",")))
    rows: list[dict] = []

    def job_done(row: dict) -> dict:
        rows.append(row)
        write_results(args, scenes, rows)  # as runs finish, so a cut-off run still reports
        return row

    with locked(runs), ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(lambda job: job_done(one_run(
            *job, runs, "cuda" if job[0] in cuda_scenes else args.device, export)), jobs))
    payload = write_results(args, scenes, rows)
    for row in sorted(rows, key=lambda r: (r["scene"], r["seed"])):
        print(json.dumps({k: row.get(k) for k in ("scene", "seed", "param_rel_error",
                                                   "recons_error", "pred_error", "wall_s")}))
    for scene, line in payload["summary"].items():
        print(f"{scene}: {line}")
    return 0


def write_results(args, scenes: list[str], rows: list[dict]) -> dict:
    summary = {}
    for scene in scenes:
        mine = [r for r in rows if r["scene"] == scene]
        good = [r for r in mine if r.get("objects_found") and r.get("params_within_5pct")]
        summary[scene] = (f"{len(good)} of {len(mine)} seeds found the objects and got every "
                          "parameter within 5 %")
    data = [ROOT / "data" / f"{scene}.npz" for scene in scenes]
    payload = {"provenance": benchmark_provenance(args, data),
               "workers": args.workers, "device": args.device,
               "cuda_scenes": args.cuda_scenes, "summary": summary,
               "runs": sorted(rows, key=lambda r: (r["scene"], r["seed"]))}
    write_json(args.out, payload, overwrite=True)
    return payload


if __name__ == "__main__":
    sys.exit(run_main(main))
