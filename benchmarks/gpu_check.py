"""Does a GPU train what the CPU trains? Each scene briefly on ``cuda`` and on ``cpu`` from the
same seed and data, then the learned parameters and the logged losses compared.

    python benchmarks/gpu_check.py [--scenes spring,gravity,bouncing,mnist_spring]
        [--autoencoder-steps 400] [--dynamics-steps 300] [--out benchmarks/results/gpu_check.json]

Every run is ``python -m pig_control.train`` on a small dataset generated once per scene (600
training sequences), with the scene's config shortened to ``--autoencoder-steps`` steps of the
autoencoder phase and ``--dynamics-steps`` of the dynamics phase (whose trajectory fit is where
CUDA once collapsed the digits' spring, l -> 0). All runs go at once (``--threads`` CPU
threads each), each cut off after ``--timeout`` seconds, so the check takes under 10 minutes
on a machine with a GPU and 8 or more cores. The JSON holds, per scene, both runs' final
parameters and losses (``cpu``, and ``checked``: the ``--device`` run), the relative
differences, the largest relative difference of the loss over the logged steps, and
``agree``: the same steps reached, every parameter within ``--param-tolerance`` (relative)
and the final loss within ``--loss-tolerance``. Runs on two devices are not bitwise equal
(another order of summation), and training amplifies differences, so the tolerances are on
outcomes, not bits.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control.cli import (  # noqa: E402
    add_overwrite_option,
    check_output,
    make_parser,
    run_main,
    write_json,
)
from pig_control.errors import UserInputError  # noqa: E402
from pig_control.provenance import add_allow_dirty, provenance, require_clean_tree  # noqa: E402

SCENES = ("spring", "gravity", "bouncing", "mnist_spring")
#: Losses compared between the two runs (whichever a run logs).
LOSSES = ("loss", "recons", "latent", "trajectory")
#: metrics.csv columns that are not learned values.
NOT_LEARNED = {"step", "wall_s", "phase", "loss", "recons", "pred", "latent", "trajectory",
               "segmentation", "valid_pred", "valid_recons"}


def build_parser():
    parser = make_parser("benchmarks/gpu_check.py", __doc__.splitlines()[0])
    parser.prog = "python benchmarks/gpu_check.py"
    parser.add_argument("--scenes", default=",".join(SCENES))
    parser.add_argument("--autoencoder-steps", type=int, default=400)
    parser.add_argument("--dynamics-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per run")
    parser.add_argument("--timeout", type=float, default=540.0, help="seconds per run")
    parser.add_argument("--param-tolerance", type=float, default=0.02)
    parser.add_argument("--loss-tolerance", type=float, default=0.10)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                        help="the device checked against the CPU (cpu: a dry run of the check "
                        "itself, whose two runs must agree exactly)")
    parser.add_argument("--work", default=str(ROOT / "runs" / "gpu_check"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu_check.json"))
    add_overwrite_option(parser)
    add_allow_dirty(parser)
    return parser


def train_command(scene: str, data: Path, out: Path, device: str, args) -> list[str]:
    a, d = args.autoencoder_steps, args.dynamics_steps
    return [sys.executable, "-m", "pig_control.train", "--config", scene, "--data", str(data),
            "--out", str(out), "--device", device, "--seed", str(args.seed),
            "--threads", str(args.threads),
            "--no-progress", f"training.steps={a + d}", f"training.autoencoder_steps={a}",
            f"training.dynamics_steps={d}", f"training.identify_warmup={d // 2}",
            "training.log_every=5", f"training.checkpoint_every={a + d}"]


def last_rows(metrics: Path) -> list[dict]:
    if not metrics.exists():
        return []
    with metrics.open() as handle:
        return list(csv.DictReader(handle))


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def compare(scene: str, runs: dict, args) -> dict:
    """Per-scene comparison of the two runs' metrics: every learned value (the columns of
    metrics.csv after the losses: physical parameters, camera, walls, gain) and the losses."""
    rows = {label: last_rows(run["out"] / "metrics.csv") for label, run in runs.items()}
    result = {"scene": scene, **{f"{d}_status": runs[d]["status"] for d in runs},
              **{f"{d}_seconds": runs[d]["seconds"] for d in runs}}
    if any(runs[d]["status"] != 0 or not rows[d] for d in runs):
        return {**result, "agree": False, "reason": "a run failed or timed out (see its log)"}
    final = {d: rows[d][-1] for d in rows}
    result["steps"] = {d: int(final[d]["step"]) for d in final}
    cpu, other = final["cpu"], final["checked"]
    params = [k for k in cpu if k not in NOT_LEARNED and cpu[k] not in (None, "")]
    result["params"] = {d: {p: float(final[d][p]) for p in params} for d in final}
    result["param_rel_diff"] = {p: relative(float(cpu[p]), float(other[p])) for p in params}
    losses = [k for k in LOSSES if cpu.get(k) and other.get(k)]
    result["final_losses"] = {d: {k: float(final[d][k]) for k in losses} for d in final}
    result["final_loss_rel_diff"] = {k: relative(float(cpu[k]), float(other[k]))
                                     for k in losses}
    by_step = {int(r["step"]): r for r in rows["checked"]}
    worst = 0.0
    for row in rows["cpu"]:
        other = by_step.get(int(row["step"]))
        if other and row.get("loss") and other.get("loss"):
            worst = max(worst, relative(float(row["loss"]), float(other["loss"])))
    result["max_loss_rel_diff_over_steps"] = worst
    result["agree"] = (result["steps"]["cpu"] == result["steps"]["checked"]
                       and all(v <= args.param_tolerance
                               for v in result["param_rel_diff"].values())
                       and result["final_loss_rel_diff"].get("loss", 1.0) <= args.loss_tolerance)
    return result


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    scenes = args.scenes.split(",")
    if set(scenes) - set(SCENES):
        raise UserInputError(f"unknown scene(s) {sorted(set(scenes) - set(SCENES))}; known: "
                             f"{', '.join(SCENES)}")
    if args.autoencoder_steps < 1 or args.dynamics_steps < 1:
        raise UserInputError("--autoencoder-steps and --dynamics-steps must be at least 1")
    check_output(args.out, args.overwrite)
    git = require_clean_tree(args.allow_dirty)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserInputError("no CUDA device is available: this check compares a GPU with "
                             "the CPU")
    work = Path(args.work)
    data = {}
    for scene in scenes:
        data[scene] = work / f"{scene}.npz"
        if not data[scene].exists():
            subprocess.check_call([sys.executable, "-m", "pig_control.data", "generate", scene,
                                   "--train", "600", "--valid", "60", "--test", "60",
                                   "--out", str(data[scene]), "--quiet"], cwd=ROOT)
    started = {}
    for scene in scenes:
        for label, device in (("cpu", "cpu"), ("checked", args.device)):
            out = work / f"{scene}-{label}"
            if out.exists():
                import shutil

                shutil.rmtree(out)
            out.mkdir(parents=True)
            log = (out / "train.log").open("w")
            started[scene, label] = {
                "out": out, "start": time.perf_counter(), "log": log,
                "process": subprocess.Popen(train_command(scene, data[scene], out, device, args),
                                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)}
    deadline = time.perf_counter() + args.timeout
    for run in started.values():
        try:
            run["status"] = run["process"].wait(timeout=max(1.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            run["process"].kill()
            run["status"] = "timed out"
        run["seconds"] = round(time.perf_counter() - run["start"], 1)
        run["log"].close()
    results = []
    for scene in scenes:
        result = compare(scene, {d: started[scene, d] for d in ("cpu", "checked")}, args)
        results.append(result)
        print(f"{scene}: {'agree' if result['agree'] else 'DIFFER'} "
              f"{ {k: round(v, 4) for k, v in result.get('param_rel_diff', {}).items()} } "
              f"final loss rel diff {result.get('final_loss_rel_diff', {}).get('loss')}",
              flush=True)
    write_json(args.out, {
        "provenance": provenance("benchmarks/gpu_check.py", argv, inputs=list(data.values()),
                                 allow_dirty=args.allow_dirty, git=git),
        "checked_device": args.device, "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
        "settings": {k: getattr(args, k) for k in ("autoencoder_steps", "dynamics_steps",
                                                    "seed", "param_tolerance",
                                                    "loss_tolerance")},
        "scenes": results, "all_agree": all(r["agree"] for r in results)},
        overwrite=args.overwrite)
    return 0 if all(r["agree"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(run_main(main))
