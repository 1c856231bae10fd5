"""How far apart the spring scenes' objects at rest look to the encoder, before and after
render-and-compare, against the truth and the control model's rest length.

    python benchmarks/rest_separation.py [--goals 200] [--model SCENE=PATH]
        [--out benchmarks/results/rest_separation.json]

For every goal of the reporting episodes 10**6 .. 10**6 + N - 1 (a rest state: the objects 2 l
apart) the goal image is rendered, encoded by the shipped control model's encoder, and refined by
:func:`pig_control.model.decoder.fit_positions` with the controller's number of steps; the
report gives the mean and standard deviation of the encoded and refined separations (pixels),
the true one (2 l) and the model's own 2 l. A model whose physics was fitted to encoder
positions rests where the encoder says the objects rest; its controller sees refined ones.
Models trained before recalibration can be given with ``--model SCENE=PATH``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pig_control.api import PRETRAINED_DIR  # noqa: E402
from pig_control.checkpoint import load_model  # noqa: E402
from pig_control.cli import run_main, write_json  # noqa: E402
from pig_control.control.agent import SCENE_DEFAULTS  # noqa: E402
from pig_control.model.decoder import fit_positions  # noqa: E402
from pig_control.mpc import make_env  # noqa: E402
from pig_control.protocol import REPORTING_SEED  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402


def separations(scene_name: str, model_path: Path, goals: int) -> dict:
    env = make_env(scene_name, {})
    scene = env.unwrapped
    model, _ = load_model(model_path)
    refine = SCENE_DEFAULTS[scene_name]["refine_iterations"]
    encoded, refined, true = [], [], []
    with torch.no_grad():
        for seed in range(REPORTING_SEED, REPORTING_SEED + goals):
            _, info = env.reset(seed=seed)
            goal = np.asarray(info["goal"])
            image = torch.from_numpy(scene.render_states(goal)).permute(2, 0, 1)
            image = image.float().div(255.0).unsqueeze(0)
            start = model.encoder(image)
            for out, positions in ((encoded, start),
                                   (refined, fit_positions(model.decoder, image, start, refine))):
                p = positions[0].numpy()
                out.append(float(np.linalg.norm(p[0] - p[1])))
            true.append(float(np.linalg.norm(goal[0, :2] - goal[1, :2])))
    return {"model": str(model_path), "refine_iterations": refine,
            "true_mean": float(np.mean(true)), "model_2l": 2.0 * model.params["l"],
            "encoded_mean": float(np.mean(encoded)), "encoded_std": float(np.std(encoded)),
            "refined_mean": float(np.mean(refined)), "refined_std": float(np.std(refined))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goals", type=int, default=200)
    parser.add_argument("--model", action="append", default=[], metavar="SCENE=PATH")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/rest_separation.json"))
    args = parse_benchmark_args(parser, argv, __file__)
    torch.set_num_threads(1)
    paths = {scene: PRETRAINED_DIR / f"{scene}_control.pt" for scene in ("spring", "mnist_spring")}
    paths.update(dict(item.split("=", 1) for item in args.model))
    report = {scene: separations(scene, Path(path), args.goals) for scene, path in paths.items()}
    for scene, row in report.items():
        print(f"{scene:13s} true {row['true_mean']:.3f}  model 2l {row['model_2l']:.3f}  "
              f"encoded {row['encoded_mean']:.3f} +- {row['encoded_std']:.3f}  "
              f"refined {row['refined_mean']:.3f} +- {row['refined_std']:.3f} px")
    report["provenance"] = benchmark_provenance(args, list(paths.values()))
    write_json(args.out, report, overwrite=args.overwrite)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
