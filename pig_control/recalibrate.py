"""Re-identify a world model's physical parameters in the coordinates its controller sees.

    python -m pig_control.recalibrate --checkpoint CKPT --data ROLLOUTS.npz --out NEW.pt
        [--refine N] [--steps 600] [--json PATH]

Training identifies the physical parameters (a spring's k and l, the action gain) on the
encoder's positions. The controller (:class:`pig_control.control.agent.ModelAgent`) refines
those positions by render-and-compare (:func:`pig_control.model.decoder.fit_positions`), and
where the encoder's error depends on the configuration the two coordinate systems disagree:
on the digits the encoder reads the pair's rest separation about half a pixel short, the refined
positions close to the truth (``benchmarks/results/rest_separation.json``), so a model whose
rest length was fitted to the former pulls the digits towards a state that is not at rest in
the latter. This command encodes and refines the same
training frames again (no new data: ``env_frames`` is unchanged) and fits the physical
parameters to them by the trajectory fit of training (:class:`pig_control.identify.TrajectoryFit`:
every chunk of frames away from the walls gets its own initial state, the cell rolls it
forward through the recorded actions), starting from the model's own values. Only the physical
parameters change; the encoder, decoder and velocity estimator are kept. The result is a
shippable checkpoint (no optimiser state) whose metadata records the parameters before and
after, and the command.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pig_control.checkpoint import code_version, load_model, save_checkpoint, shippable
from pig_control.cli import add_overwrite_option, check_outputs, make_parser, run_main, write_json
from pig_control.config import config_from_dict
from pig_control.errors import UserInputError
from pig_control.identify import TrajectoryFit, away_from_walls, chunk_sequences, initial_camera
from pig_control.model.decoder import fit_positions
from pig_control.provenance import provenance, sha256_file


def refined_positions(model, frames: np.ndarray, refine_iterations: int, batch: int = 64,
                      progress: bool = True) -> torch.Tensor:
    """Encoder positions of uint8 sequences ``frames`` (N, T, H, W, 3), each refined by
    ``refine_iterations`` render-and-compare steps: (N, T, n, 2) pixels."""
    from tqdm import tqdm

    n, t = frames.shape[:2]
    flat = frames.reshape(n * t, *frames.shape[2:])
    out = []
    with torch.no_grad():
        for start in tqdm(range(0, len(flat), batch), desc="encoding", disable=not progress,
                          leave=False):
            images = torch.from_numpy(flat[start:start + batch]).permute(0, 3, 1, 2)
            images = images.float().div(255.0)
            positions = model.encoder(images)
            out.append(fit_positions(model.decoder, images, positions, refine_iterations))
    return torch.cat(out).reshape(n, t, -1, 2)


def physical_values(model) -> dict:
    """The model's physical parameters, its camera geometry (``camera``: pixels, empty for the
    ball systems without walls) and its action gains (``gain``: one per entry of the system's
    log-gain, empty for an unactuated system)."""
    log_gain = getattr(model.cell, "log_gain", None)
    gain = [] if log_gain is None else log_gain.detach().exp().flatten().tolist()
    return {**model.params, "camera": model.cell.camera, "gain": gain}


def refit_physics(model, positions: torch.Tensor, actions: torch.Tensor, chunk_frames: int,
                  steps: int, lr: float = 1e-2, progress: bool = True) -> dict:
    """Fit ``model.cell``'s parameters (in place) to ``positions`` (N, T + 1, n, 2) driven by
    ``actions`` (N, T, d), in chunks of ``chunk_frames`` frames away from the walls (as the
    training's identification), from the system's camera guess from the positions where it has
    one (:func:`pig_control.identify.initial_camera`), by ``steps`` Adam steps of learning rate
    ``lr`` (on the log-parameters, camera values and log-gains).

    Returns ``{"chunks", "loss_before", "loss_after"}`` (the fit's robust loss, px^2).

    Raises:
        UserInputError: no chunk stays away from the walls, or the fit became NaN (the
            parameters are then restored).
    """
    from tqdm import tqdm

    config = model.config
    chunks, chunk_actions = chunk_sequences(positions, actions, chunk_frames)
    if config.walls:
        camera = model.cell.camera
        keep = away_from_walls(chunks, camera["wall_low"], camera["wall_high"])
        chunks, chunk_actions = chunks[keep], chunk_actions[keep]
    if len(chunks) == 0:
        raise UserInputError("no chunk of frames stays away from the walls: record longer or "
                             "more rollouts")
    cell = model.cell
    saved = {name: p.detach().clone() for name, p in cell.named_parameters()}
    initial_camera(cell, positions)
    fit = TrajectoryFit(chunks, chunk_actions, config.dt)
    optimizer = torch.optim.Adam(list(cell.parameters()), lr=lr)
    losses = []
    for _ in tqdm(range(steps), desc="fitting", disable=not progress, leave=False):
        loss = fit.loss(cell)
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            with torch.no_grad():
                for name, p in cell.named_parameters():
                    p.copy_(saved[name])
            raise UserInputError(f"the trajectory fit became {losses[-1]} after "
                                 f"{len(losses) - 1} steps; the checkpoint was not written "
                                 "(try a smaller --lr)")
        fit.zero_grad()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        fit.step()
        optimizer.step()
    with torch.no_grad():
        final = float(fit.loss(cell))
    return {"chunks": int(len(chunks)), "loss_before": losses[0] if losses else final,
            "loss_after": final}


def build_parser():
    parser = make_parser("pig_control.recalibrate", __doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a world model for control")
    parser.add_argument("--data", required=True,
                        help="the rollouts it was trained on (python -m pig_control.data "
                        "rollouts ...)")
    parser.add_argument("--out", required=True, help="where to write the recalibrated model")
    parser.add_argument("--refine", type=int, default=None, metavar="N",
                        help="render-and-compare steps per frame (default: the controller's "
                        "for the scene, as in pig_control.mpc)")
    parser.add_argument("--steps", type=int, default=600, help="Adam steps of the fit")
    parser.add_argument("--lr", type=float, default=1e-2,
                        help="learning rate of the log-parameters")
    parser.add_argument("--json", default=None, metavar="PATH")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_overwrite_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pig_control.control.agent import SCENE_DEFAULTS
    from pig_control.data import load_dataset

    torch.set_num_threads(1)
    torch.manual_seed(0)
    if args.steps < 1:
        raise UserInputError(f"--steps must be at least 1, got {args.steps}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UserInputError(f"--lr must be a positive number, got {args.lr}")
    if args.refine is not None and args.refine < 0:
        raise UserInputError(f"--refine must be at least 0, got {args.refine}")
    if Path(args.checkpoint).exists() and Path(args.out).exists() and \
            Path(args.out).resolve() == Path(args.checkpoint).resolve():
        raise UserInputError(f"--out '{args.out}' is the --checkpoint it recalibrates: write the "
                             f"recalibrated model to another file")
    check_outputs((args.out, args.json), args.overwrite)
    start = time.perf_counter()
    model, payload = load_model(args.checkpoint)
    config = model.config
    if model.cell is None:
        raise UserInputError(f"checkpoint '{args.checkpoint}' is a black-box model: it has no "
                             "physical parameters")
    data = load_dataset(args.data)
    if data["kind"] != "rollouts":
        raise UserInputError(f"{args.data}: a dataset, not rollouts (python -m pig_control.data "
                             "rollouts ...): recalibration needs the actions")
    frames, actions = data["frames"], data["actions"]
    if frames.shape[2:4] != (config.image_size, config.image_size):
        raise UserInputError(f"{args.data}: frames of {frames.shape[2]}x{frames.shape[3]} px, "
                             f"but the model sees {config.image_size}x{config.image_size} px")
    if actions.shape[2] != config.action_dim:
        raise UserInputError(f"{args.data}: {actions.shape[2]} action components, but the model "
                             f"takes {config.action_dim}")
    scene = (payload.get("metadata") or {}).get("scene") or data.get("scene")
    if data.get("scene") and scene != data["scene"]:
        raise UserInputError(f"{args.data}: rollouts of {data['scene']}, but the model was "
                             f"trained on {scene}")
    refine = args.refine
    if refine is None:
        refine = SCENE_DEFAULTS.get(scene, {}).get("refine_iterations", 0)

    before = physical_values(model)
    positions = refined_positions(model, frames, refine, progress=not args.quiet)
    chunk_frames = config_from_dict(payload["config"]).training.identify_frames
    fit = refit_physics(model, positions, torch.from_numpy(actions).float(), chunk_frames,
                        args.steps, args.lr, progress=not args.quiet)
    after = physical_values(model)
    block = provenance("pig_control.recalibrate", argv, inputs=[args.checkpoint, args.data])
    metadata = dict(payload.get("metadata") or {})
    metadata["recalibration"] = {"command": block["command"], "data": str(args.data),
                                 "commit": block["commit"], "clean_tree": block["clean_tree"],
                                 "inputs": block["inputs"],
                                 "refine_iterations": refine, "steps": args.steps,
                                 "lr": args.lr, "params_before": before,
                                 "params_after": after, "code": code_version(), **fit}
    save_checkpoint(args.out, {**shippable(payload), "model": model.state_dict(),
                               "params": model.params, "metadata": metadata},
                    overwrite=args.overwrite)
    report = {"checkpoint": str(args.checkpoint), "out": str(args.out), "scene": scene,
              "env_frames": metadata.get("env_frames"), "refine_iterations": refine,
              "params_before": before, "params_after": after, **fit,
              "wall_clock_s": time.perf_counter() - start,
              "out_sha256": sha256_file(args.out), "provenance": block}
    for name in after:
        print(f"{name:>6}: {before[name]} -> {after[name]}")
    print(f"fit over {fit['chunks']} chunks: loss {fit['loss_before']:.4f} -> "
          f"{fit['loss_after']:.4f} px^2; wrote {args.out}")
    if args.json:
        write_json(args.json, report, overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
