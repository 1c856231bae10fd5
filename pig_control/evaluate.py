"""Evaluate a trained PIG model on the test split of a dataset, as the paper does.

    python -m pig_control.evaluate --checkpoint CKPT --data F.npz [--json PATH] [--sequences N]
                                   [--figures DIR] [--batch-size B] [--device cpu|cuda]

For every test sequence the model encodes the first ``input_steps`` frames, estimates the
velocity and rolls its dynamics forward for ``pred_steps + extrap_steps`` frames (or as many as
the sequence holds); the decoder draws the predicted positions. Reported (``--json`` writes the
same as JSON):

- ``params``: the learned physical parameters; ``true_params``: those stored in the data file;
  ``param_rel_error``: ``|learned - true| / true`` for every identifiable parameter (gravity: only
  ``g m^2`` is identifiable, the model fixes ``m = 1``; see ``note``).
- ``camera``: the learned camera geometry of the model's system (pixels: the pendulum's pivot
  and matrix, the balls' walls), where it has one.
- ``pred_error``, ``extrap_error``: the paper's metric, the squared pixel error summed over each
  frame (pixels in [0, 1], 3 channels), averaged over the prediction (extrapolation) frames and
  over the sequences; ``extrap_curve``: the same per predicted step (index 0 is the first frame
  after the inputs; prediction frames first, then extrapolation frames).
- ``recons_error``: the autoencoder's error (encode, then decode) over every frame of the
  sequences; ``recons_error_input_pred``: the same over each sequence's input and prediction
  frames only, the frames the authors' reconstruction loss covers (the paper evaluates the
  extrapolation frames but never trains on them, and the autoencoder's error can grow over
  them: docs/results.md); ``recons_curve``: the error per frame index of the sequences;
  ``psnr`` / ``ssim`` (and ``extrap_psnr`` / ``extrap_ssim``) over the prediction
  (extrapolation) frames.
- ``position_error_px``: where the data holds true states, the mean Euclidean distance (pixels)
  between the encoder's positions and the true positions over all frames, with the model's object
  slots matched to the true objects by the one permutation that fits best over the whole test set
  (``object_order[i]`` is the true object of slot i); ``pred_position_error_px`` the same for the
  predicted positions over the prediction frames. No offset is removed: the renderer and the
  encoder share one pixel convention (pixel column j covers [j, j + 1), its centre is j + 0.5, so
  an object at x = 3.5 is centred on column 3), so a correct model has no systematic offset;
  ``position_offset_px`` reports the mean (x, y) offset per object for diagnosis.
- ``success``: the authors' thresholds: reconstruction (``recons_error_input_pred``, the
  authors' frames) below 1.5 means the objects were found (``objects_found_every_frame``: the
  same threshold on ``recons_error``, stricter); prediction below 3.0 (balls) or 30.0 (digits)
  means dynamics and parameters were learned.

Test sequences: ``test_x`` of a dataset file; for a rollouts file, the last 10 % of the episodes
(at least one) with their actions, the same episodes training holds out for validation.
"""

from __future__ import annotations

import itertools
import math
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pig_control.cli import add_overwrite_option, check_outputs, make_parser, run_main, write_json
from pig_control.config import Config, config_from_dict
from pig_control.errors import UserInputError, safe_reason
from pig_control.metrics import frame_sse, psnr, ssim
from pig_control.protocol import mean_summary
from pig_control.provenance import provenance

#: The authors' success thresholds (PAPER.md), in the paper's per-frame summed squared error.
RECONS_THRESHOLD = 1.5
PRED_THRESHOLD_BALLS = 3.0
PRED_THRESHOLD_DIGITS = 30.0
#: Sequences kept as examples for figures.
EXAMPLES = 4

POSITION_NOTE = ("positions in pixels, x = column, y = row; pixel column j covers [j, j + 1) and "
                 "its centre is j + 0.5 (renderer and encoder alike), so no offset is removed")
GRAVITY_NOTE = ("only g m^2 is identifiable from video: the model fixes m = 1 and learns g, "
                "so g is compared with the true g m^2")
PENDULUM_NOTE = ("only 3 g / (2 l) (and 3 gain / (m l^2)) is identifiable from video: "
                 "the relative error is that of 3 g / (2 l)")


# ---- loading -------------------------------------------------------------------------------
def load_checkpoint_model(path: str | Path, device: str = "cpu"):
    """:func:`pig_control.checkpoint.load_model`, with every way a file can be unreadable turned
    into a :class:`UserInputError` that names it. Returns (model in eval mode, payload)."""
    from pig_control.checkpoint import load_model

    try:
        return load_model(path, device)
    except UserInputError:
        raise
    except (KeyError, IndexError, TypeError, AttributeError, EOFError, OSError,
            pickle.UnpicklingError, RuntimeError) as error:
        raise UserInputError(
            f"checkpoint '{path}' is corrupt or not a checkpoint ({safe_reason(error)})") from None


def held_out_split(data: dict) -> dict:
    """The sequences to evaluate on: ``frames`` uint8 (N, T, H, W, 3), ``actions`` float32
    (N, T - 1, d) or None, ``states`` float32 (N, T, ...) or None."""
    if data.get("kind") == "rollouts":
        frames = data["frames"]
        n_test = max(1, len(frames) // 10)
        states = data.get("states")
        return {"frames": frames[-n_test:], "actions": data["actions"][-n_test:].astype(np.float32),
                "states": None if states is None else states[-n_test:]}
    if "test_x" not in data:
        raise UserInputError("the data file has no test split ('test_x')")
    return {"frames": data["test_x"], "actions": None, "states": data.get("test_states")}


def true_positions(scene: str | None, states: np.ndarray | None) -> np.ndarray | None:
    """True object positions (N, T, n, 2) in pixels from stored states, or None if unknown."""
    if states is None:
        return None
    if states.ndim == 4 and states.shape[-1] == 4:  # ball scenes: (N, T, n, 4) = x, y, vx, vy
        return np.asarray(states[..., :2], dtype=np.float64)
    if scene is None:
        return None
    try:
        import envs

        return np.asarray(envs.make_scene(scene).positions(states), dtype=np.float64)
    except (ValueError, NotImplementedError, IndexError, TypeError):
        return None


# ---- parameters ----------------------------------------------------------------------------
def parameter_errors(physics: str, learned: dict, true: dict) -> tuple[dict, str | None]:
    """Relative errors ``|learned - true| / |true|`` of the identifiable parameters, and a note.

    Gravity: only ``g m^2`` is identifiable, so the learned g (m fixed at 1) is compared with the
    true ``g m^2``. Pendulum: only ``3 g / (2 l)`` is, so that combination is compared.
    """
    def rel(a: float, b: float) -> float:
        return abs(a - b) / abs(b) if b else math.inf

    if not true or not learned:
        return {}, None
    if physics == "gravity":
        if "g" not in learned or "g" not in true:
            return {}, GRAVITY_NOTE
        m_true, m_model = float(true.get("m", 1.0)), float(learned.get("m", 1.0))
        return {"g": rel(learned["g"] * m_model**2, true["g"] * m_true**2)}, GRAVITY_NOTE
    if physics == "pendulum":
        if not {"g", "l"} <= set(learned) or not {"g", "l"} <= set(true):
            return {}, PENDULUM_NOTE
        return {"3g/(2l)": rel(1.5 * learned["g"] / learned["l"],
                               1.5 * true["g"] / true["l"])}, PENDULUM_NOTE
    return {name: rel(value, float(true[name])) for name, value in learned.items()
            if name in true}, None


# ---- the evaluation ------------------------------------------------------------------------
def _horizon(config: Config, length: int) -> tuple[int, int, int]:
    """(input, prediction, extrapolation) frames that sequences of ``length`` frames allow."""
    d = config.data
    if length < d.input_steps + 1:
        raise UserInputError(f"test sequences of {length} frames are too short: the model needs "
                             f"{d.input_steps} input frames and at least one frame to predict")
    predicted = min(d.pred_steps + d.extrap_steps, length - d.input_steps)
    pred = min(d.pred_steps, predicted)
    return d.input_steps, pred, predicted - pred


def _check_compatible(config: Config, split: dict) -> None:
    size = config.model.image_size
    frames = split["frames"]
    if frames.shape[0] == 0:
        raise UserInputError("the data file's test split holds no sequences")
    if tuple(frames.shape[2:]) != (size, size, 3):
        raise UserInputError(f"image size mismatch: the data's frames are {frames.shape[2]}x"
                             f"{frames.shape[3]} pixels but the model expects {size}x{size}")
    need = config.model.action_dim
    if need:
        have = 0 if split["actions"] is None else split["actions"].shape[-1]
        if have != need:
            raise UserInputError(f"the model takes actions of size {need}; the data has "
                                 f"{have or 'no actions'} (a rollouts file is needed)")


class _Sums:
    """Running sums over sequences, so big test sets never sit in memory as floats."""

    def __init__(self):
        self.n = 0
        self.curve = None
        self.psnr = None
        self.ssim = None
        self.recons_curve = None    # autoencoder error per frame index, summed over sequences
        self.position_sums = None   # per permutation: summed distance over encoded frames
        self.pred_position = None   # per permutation: summed distance over prediction frames
        self.offsets = None         # per permutation: summed (dx, dy) per slot
        self.position_count = 0
        self.pred_position_count = 0


def evaluate(model, config: Config, data: dict, *, sequences: int | None = None,
             batch_size: int = 64, device: str = "cpu", progress: bool | None = None,
             examples: int = EXAMPLES) -> tuple[dict, dict]:
    """Score ``model`` on the test split of ``data`` (a dict from :func:`load_dataset`).

    Args:
        model: a :class:`~pig_control.model.pig.PIGModel` (put in eval mode here).
        config: the model's run configuration (input, prediction and extrapolation steps).
        data: the dataset or rollouts file, as loaded.
        sequences: evaluate only the first N test sequences (None: all).
        batch_size: sequences per forward pass.
        device: torch device of ``model``.
        progress: show a progress bar (None: only for big sets on a terminal).
        examples: sequences whose frames are returned for figures.

    Returns:
        ``(report, examples)``: the report dict (see the module docstring) and the first
        ``examples`` sequences as float arrays in [0, 1], (k, T, H, W, 3): ``truth``, ``preds``
        (zeros over the input frames), ``recons``, plus ``input_steps``.
    """
    split = held_out_split(data)
    _check_compatible(config, split)
    frames_all, actions_all = split["frames"], split["actions"]
    n = len(frames_all) if sequences is None else min(int(sequences), len(frames_all))
    if n < 1:
        raise UserInputError(f"--sequences must be at least 1, got {sequences}")
    L, P, E = _horizon(config, frames_all.shape[1])
    total = L + P + E
    positions = true_positions(data.get("scene"), split["states"])
    if positions is not None and positions.shape[-2] != config.model.n_objects:
        positions = None  # the model tracks another number of objects: no matching possible
    perms = (list(itertools.permutations(range(config.model.n_objects)))
             if positions is not None and config.model.n_objects <= 6 else [])
    if not perms:
        positions = None
    finite, position_warning = _finite_states(positions, n)

    model.eval()
    sums = _Sums()
    per_sequence: dict[str, list[float]] = {"pred_error": [], "extrap_error": []}
    kept: dict[str, list] = {"truth": [], "preds": [], "recons": []}
    starts = range(0, n, batch_size)
    # tqdm: disable=None hides the bar when stderr is not a terminal.
    disable = (not progress) if progress is not None else (True if n <= 4 * batch_size else None)
    bar = tqdm(starts, desc="evaluate", unit="batch", disable=disable, leave=False)
    with torch.no_grad():
        for start in bar:
            stop = min(n, start + batch_size)
            x = torch.from_numpy(np.ascontiguousarray(frames_all[start:stop]))
            x = x.to(device).permute(0, 1, 4, 2, 3).float() / 255.0  # (B, T, 3, H, W)
            encoded = model.encode(x)                                # every frame
            recons = model.decode(encoded)
            actions = None
            if config.model.action_dim and actions_all is not None:
                a = torch.from_numpy(np.ascontiguousarray(actions_all[start:stop]))
                actions = a.to(device)[:, L - 1:total - 1]
            predicted = model.rollout(encoded[:, :L], P + E, actions)
            preds = model.decode(predicted)
            target = x[:, L:total]

            per_frame = frame_sse(preds, target).double().cpu()        # (B, P + E)
            per_sequence["pred_error"].extend(per_frame[:, :P].mean(1).tolist())
            if E:
                per_sequence["extrap_error"].extend(per_frame[:, P:].mean(1).tolist())
            err = per_frame.sum(0)                                      # (P + E,)
            sums.curve = err if sums.curve is None else sums.curve + err
            p = psnr(preds, target).double().sum(0).cpu()
            s = ssim(preds, target).double().sum(0).cpu()
            sums.psnr = p if sums.psnr is None else sums.psnr + p
            sums.ssim = s if sums.ssim is None else sums.ssim + s
            r = frame_sse(recons, x).double().sum(0).cpu()            # (T,)
            sums.recons_curve = r if sums.recons_curve is None else sums.recons_curve + r
            sums.n += stop - start

            rows = None if positions is None else finite[start:stop]
            if rows is not None and rows.any():  # sequences with finite true states only
                keep = torch.from_numpy(rows).to(encoded.device)
                _accumulate_positions(sums, perms, encoded[keep].double().cpu().numpy(),
                                      predicted[keep, :P].double().cpu().numpy(),
                                      positions[start:stop][rows], L, P)

            if len(kept["truth"]) < examples:
                k = min(examples - len(kept["truth"]), stop - start)
                pad = torch.zeros_like(x[:k, :L])
                for key, value in (("truth", x[:k, :total]),
                                   ("preds", torch.cat([pad, preds[:k]], 1)),
                                   ("recons", recons[:k, :total])):
                    kept[key].extend(value.permute(0, 1, 3, 4, 2).cpu().numpy())
    bar.close()

    curve = (sums.curve / sums.n).tolist()
    psnr_curve = (sums.psnr / sums.n).tolist()
    ssim_curve = (sums.ssim / sums.n).tolist()
    pred_error = _mean(curve[:P])
    scene = data.get("scene") or config.scene
    digits = scene == "mnist_spring" or config.scene == "mnist_spring"
    pred_threshold = PRED_THRESHOLD_DIGITS if digits else PRED_THRESHOLD_BALLS
    recons_curve = sums.recons_curve / sums.n  # every sequence holds the same frames
    recons_error = float(recons_curve.mean())
    recons_input_pred = float(recons_curve[:L + P].mean())

    learned = dict(model.params)
    true = dict(data.get("params") or {})
    rel_error, note = parameter_errors(config.model.physics, learned, true)
    report = {
        "scene": scene,
        "sequences": sums.n,
        "input_steps": L,
        "pred_steps": P,
        "extrap_steps": E,
        "params": learned,
        "true_params": true,
        "param_rel_error": rel_error,
    }
    if note:
        report["note"] = note
    cell = getattr(model, "cell", None)
    if cell is not None and getattr(cell, "log_gain", None) is not None:
        # ball systems: the gain of every (object, action pair); others: the learned gain
        gain = cell.push_matrix() if hasattr(cell, "push_matrix") else cell.gain()
        report["action_gain"] = torch.atleast_2d(gain).detach().tolist()
    if cell is not None and cell.camera:
        report["camera"] = cell.camera
    report.update({
        "pred_error": pred_error,
        "extrap_error": _mean(curve[P:]) if E else None,
        "recons_error": recons_error,
        "recons_error_input_pred": recons_input_pred,
        "recons_curve": recons_curve.tolist(),
        "extrap_curve": curve,
        "psnr": _mean(psnr_curve[:P]),
        "ssim": _mean(ssim_curve[:P]),
        "extrap_psnr": _mean(psnr_curve[P:]) if E else None,
        "extrap_ssim": _mean(ssim_curve[P:]) if E else None,
        # over sequences: each sequence's mean over its prediction (extrapolation) frames
        "intervals": {name: mean_summary(values) for name, values in per_sequence.items()
                      if values},
    })
    report.update(_position_report(sums, perms))
    if position_warning:
        report["position_warning"] = position_warning
    report["success"] = {
        "objects_found": bool(recons_input_pred < RECONS_THRESHOLD),
        "objects_found_every_frame": bool(recons_error < RECONS_THRESHOLD),
        "dynamics_learned": bool(pred_error < pred_threshold),
        "recons_threshold": RECONS_THRESHOLD,
        "pred_threshold": pred_threshold,
    }
    example_arrays = {key: np.stack(value) for key, value in kept.items()}
    example_arrays["input_steps"] = L
    return _finite(report), example_arrays


def _finite_states(positions: np.ndarray | None, n: int) -> tuple[np.ndarray | None, str | None]:
    """Which of the first ``n`` sequences have finite true positions in every frame, and a
    warning naming how many do not (they are left out of the position error), or None."""
    if positions is None:
        return None, None
    finite = np.isfinite(positions[:n]).reshape(n, -1).all(1)
    bad = int((~finite).sum())
    if not bad:
        return finite, None
    if bad == n:
        return finite, (f"none of the {n} test sequences has finite true states (NaN or "
                        f"infinite): no position error")
    return finite, (f"{bad} of {n} test sequences have NaN or infinite true states: left out "
                    f"of the position error")


def _accumulate_positions(sums: _Sums, perms, encoded, predicted, truth, L: int, P: int) -> None:
    """Add one batch's distances for every slot-to-object permutation."""
    t_enc = encoded.shape[1]
    truth = truth[:, :t_enc]
    if sums.position_sums is None:
        sums.position_sums = np.zeros(len(perms))
        sums.pred_position = np.zeros(len(perms))
        sums.offsets = np.zeros((len(perms), encoded.shape[2], 2))
    for i, perm in enumerate(perms):
        matched = truth[:, :, list(perm)]
        diff = encoded - matched
        sums.position_sums[i] += np.sqrt((diff**2).sum(-1)).sum()
        sums.offsets[i] += diff.sum((0, 1))
        pred_diff = predicted - matched[:, L:L + P]
        sums.pred_position[i] += np.sqrt((pred_diff**2).sum(-1)).sum()
    sums.position_count += encoded.shape[0] * encoded.shape[1] * encoded.shape[2]
    sums.pred_position_count += predicted.shape[0] * predicted.shape[1] * predicted.shape[2]


def _position_report(sums: _Sums, perms) -> dict:
    if sums.position_sums is None or not sums.position_count:
        return {"position_error_px": None, "pred_position_error_px": None,
                "object_order": None, "position_offset_px": None, "position_note": POSITION_NOTE}
    best = int(np.argmin(sums.position_sums))
    per_slot = sums.position_count / sums.offsets.shape[1]
    return {
        "position_error_px": float(sums.position_sums[best] / sums.position_count),
        "pred_position_error_px": float(sums.pred_position[best] / sums.pred_position_count)
        if sums.pred_position_count else None,
        "object_order": list(perms[best]),
        "position_offset_px": (sums.offsets[best] / per_slot).tolist(),
        "position_note": POSITION_NOTE,
    }


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _finite(value):
    """Replace NaN and infinities by None, so the report is valid JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---- output ---------------------------------------------------------------------------------
def _fmt(value, spec: str = ".4g") -> str:
    return "n/a" if value is None else format(value, spec)


def format_report(report: dict) -> str:
    """A readable table of the report."""
    lines = [f"PIG evaluation: {report.get('scene')}, {report['sequences']} test sequences "
             f"({report['input_steps']} input, {report['pred_steps']} prediction, "
             f"{report['extrap_steps']} extrapolation frames)"]
    if report.get("checkpoint"):
        lines.append(f"checkpoint {report['checkpoint']} (step {report.get('checkpoint_step')})")
    if report["params"]:
        lines.append("")
        lines.append(f"{'parameter':<12}{'learned':>10}{'true':>10}{'rel. error':>12}")
        rel = report["param_rel_error"]
        for name, value in report["params"].items():
            true = report["true_params"].get(name)
            error = rel.get(name)
            lines.append(f"{name:<12}{value:>10.4g}{_fmt(true):>10}"
                         f"{'n/a' if error is None else f'{100 * error:.1f} %':>12}")
        for name, error in rel.items():
            if name not in report["params"]:
                lines.append(f"{name:<12}{'':>10}{'':>10}{f'{100 * error:.1f} %':>12}")
        if report.get("note"):
            lines.append(f"note: {report['note']}")
    if report.get("action_gain") is not None:
        gains = "; ".join(f"object {i}: " + ", ".join(f"{g:.4g}" for g in row)
                          for i, row in enumerate(report["action_gain"]))
        lines.append(f"action gain (px / time unit^2 at action 1, per action pair): {gains}")
    s = report["success"]
    lines += [
        "",
        "error: squared pixel error summed over a frame (pixels in [0, 1]), mean over frames",
        f"{'reconstruction':<16}{_fmt(report['recons_error_input_pred']):>10}   input and "
        f"prediction frames; objects found (< {s['recons_threshold']:g}): "
        f"{'yes' if s['objects_found'] else 'no'}",
        f"{'':<16}{_fmt(report['recons_error']):>10}   every frame; "
        f"{'yes' if s['objects_found_every_frame'] else 'no'}",
        f"{'prediction':<16}{_fmt(report['pred_error']):>10}   dynamics learned "
        f"(< {s['pred_threshold']:g}): {'yes' if s['dynamics_learned'] else 'no'}",
        f"{'extrapolation':<16}{_fmt(report['extrap_error']):>10}",
        f"{'PSNR (dB)':<16}{_fmt(report['psnr'], '.2f'):>10}   extrapolation "
        f"{_fmt(report['extrap_psnr'], '.2f')}",
        f"{'SSIM':<16}{_fmt(report['ssim'], '.3f'):>10}   extrapolation "
        f"{_fmt(report['extrap_ssim'], '.3f')}",
    ]
    if report.get("position_error_px") is not None:
        lines.append(f"{'position (px)':<16}{_fmt(report['position_error_px'], '.3f'):>10}   "
                     f"encoder vs truth, all frames; predicted "
                     f"{_fmt(report['pred_position_error_px'], '.3f')} px "
                     f"(slots -> objects {report['object_order']})")
    return "\n".join(lines)


def build_parser():
    parser = make_parser("pig_control.evaluate",
                         "Evaluate a PIG model: parameters, prediction and extrapolation error.")
    parser.add_argument("--checkpoint", required=True,
                        help="checkpoint .pt (e.g. runs/spring/last.pt)")
    parser.add_argument("--data", required=True, help="dataset or rollouts .npz")
    parser.add_argument("--json", help="write the report as JSON to this path")
    parser.add_argument("--sequences", type=int, help="evaluate only the first N test sequences")
    parser.add_argument("--figures", help="write figures (Figure 2, Figure 4, curves, a GIF) here")
    parser.add_argument("--batch-size", type=int, default=64, help="sequences per forward pass")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_overwrite_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.sequences is not None and args.sequences < 1:
        raise UserInputError(f"--sequences must be at least 1, got {args.sequences}")
    if args.batch_size < 1:
        raise UserInputError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserInputError("--device cuda was asked for but no CUDA device is available")
    from pig_control.data import load_dataset
    from pig_control.figures import EVALUATION_FIGURES

    figures = [] if not args.figures else [Path(args.figures) / n for n in EVALUATION_FIGURES]
    check_outputs((args.json, *figures), args.overwrite)
    model, payload = load_checkpoint_model(args.checkpoint, args.device)
    config = config_from_dict(payload["config"])
    data = load_dataset(args.data)
    report, examples = evaluate(model, config, data, sequences=args.sequences,
                                batch_size=args.batch_size, device=args.device,
                                progress=False if args.no_progress else None)
    report = {"checkpoint": str(args.checkpoint), "checkpoint_step": payload.get("step"),
              "data": str(args.data), **report,
              "provenance": provenance("pig_control.evaluate", argv,
                                       inputs=[args.checkpoint, args.data])}
    print(format_report(report))
    if report.get("position_warning"):
        print(f"warning: {report['position_warning']}", file=sys.stderr)
    if args.figures:
        from pig_control.figures import write_evaluation_figures

        written = write_evaluation_figures(args.figures, model, examples,
                                           run_dir=Path(args.checkpoint).parent,
                                           true_params=report["true_params"],
                                           overwrite=args.overwrite)
        print(f"figures: {', '.join(str(p) for p in written)}")
    if args.json:
        write_json(args.json, report, overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
