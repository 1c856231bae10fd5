"""Figures of a PIG model and its training run (matplotlib, Agg backend; GIFs with imageio).

- :func:`figure_sequences`: the paper's Figure 2, rows truth / prediction / reconstruction over
  time for a few test sequences.
- :func:`figure_templates`: the paper's Figure 4, the decoder's learned templates: masks,
  contents, their product, and the background.
- :func:`figure_curves`: losses and physical parameters from a run's ``metrics.csv``, the true
  parameters as dashed lines when known.
- :func:`prediction_gif`: an animated GIF, truth next to prediction.

Command line (the curves, and the templates where ``DIR/last.pt`` exists)::

    python -m pig_control.figures --run runs/spring [--data data/spring.npz] [--out DIR]

``python -m pig_control.evaluate ... --figures DIR`` writes all of them.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pig_control.cli import (  # noqa: E402
    add_overwrite_option,
    atomic_path,
    check_outputs,
    make_parser,
    run_main,
)
from pig_control.errors import UserInputError, safe_reason  # noqa: E402

LOSS_COLUMNS = ("loss", "recons", "pred", "latent", "valid_pred", "valid_recons")
NON_PARAM_COLUMNS = {"step", "wall_s", "phase", *LOSS_COLUMNS}
#: The files of a training run's curves, and of ``evaluate --figures`` (which adds the curves).
CURVE_FIGURES = ("loss.png", "params.png")
EVALUATION_FIGURES = ("figure2_sequences.png", "figure4_templates.png", "prediction.gif",
                      *CURVE_FIGURES)


def _save(fig, path: str | Path, overwrite: bool = False) -> Path:
    """Write a figure through :func:`pig_control.cli.atomic_path` (the suffix picks the format;
    an existing file is replaced only with ``overwrite``) and close it."""
    path = Path(path)
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120,
                    bbox_inches="tight")
    plt.close(fig)
    return path


def _image(ax, frame: np.ndarray, title: str | None = None) -> None:
    ax.imshow(np.clip(frame, 0.0, 1.0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)


# ---- Figure 2 ------------------------------------------------------------------------------
def figure_sequences(path: str | Path, truth: np.ndarray, preds: np.ndarray, recons: np.ndarray,
                     input_steps: int, max_sequences: int = 3, max_frames: int = 16,
                     overwrite: bool = False) -> Path:
    """The paper's Figure 2: per sequence, rows truth / prediction / reconstruction over time.

    Drawn as one composed image (fast): frames separated by a 1 px white gap, an orange frame
    around the first predicted frame, the prediction row empty over the input frames.

    Args:
        truth, preds, recons: float arrays (k, T, H, W, 3) in [0, 1]; ``preds`` is ignored over
            the first ``input_steps`` frames (those frames are inputs, not predictions).
        input_steps: frames given to the model.
        max_sequences: sequences drawn (one block of three rows each).
        max_frames: frames drawn per row (the first ones).
    """
    k = min(max_sequences, len(truth))
    t = min(max_frames, truth.shape[1])
    if k < 1 or t < 1:
        raise UserInputError("no frames to draw")
    h, w = truth.shape[2:4]
    gap, block_gap = 2, 6
    rows = ("truth", "prediction", "reconstruction")
    height = k * (3 * (h + gap)) + (k - 1) * block_gap
    canvas = np.ones((height, t * (w + gap) - gap, 3), dtype=np.float32)
    labels = []
    for s in range(k):
        for r, frames in enumerate((truth, preds, recons)):
            top = s * (3 * (h + gap) + block_gap) + r * (h + gap)
            labels.append((top + h / 2, rows[r] if k == 1 else f"{rows[r]} {s}"))
            for j in range(t):
                left = j * (w + gap)
                if r == 1 and j < input_steps:
                    canvas[top:top + h, left:left + w] = 0.85  # inputs: nothing predicted
                    continue
                canvas[top:top + h, left:left + w] = np.clip(frames[s, j], 0.0, 1.0)
    scale = 60.0 / max(h, 1)  # about 0.6 inch per frame
    fig, ax = plt.subplots(figsize=(max(4.0, t * (w + gap) * scale / 100 + 1.5),
                                    height * scale / 100 + 0.8))
    ax.imshow(canvas, interpolation="nearest")
    if input_steps < t:
        for s in range(k):
            top = s * (3 * (h + gap) + block_gap) + (h + gap)
            left = input_steps * (w + gap)
            ax.add_patch(plt.Rectangle((left - 1, top - 1), w + 1, h + 1, fill=False,
                                       edgecolor="tab:orange", linewidth=1.5))
    ax.set_yticks([y for y, _ in labels], [name for _, name in labels], fontsize=7)
    ax.set_xticks([j * (w + gap) + w / 2 for j in range(t)], [str(j) for j in range(t)],
                  fontsize=7)
    ax.tick_params(length=0)
    ax.set_xlabel("frame", fontsize=8)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(f"truth / prediction / reconstruction ({input_steps} input frames; "
                 "prediction starts at the orange frame)", fontsize=8)
    return _save(fig, path, overwrite)


# ---- Figure 4 ------------------------------------------------------------------------------
def template_images(decoder) -> dict[str, np.ndarray]:
    """The decoder's templates as images in [0, 1]: ``masks`` (n, t, t) (each object alone
    against the background: sigmoid of its logit), ``contents`` (n, t, t, 3), ``products``
    (n, t, t, 3) and ``background`` (H, W, 3)."""
    import torch

    with torch.no_grad():
        masks = torch.sigmoid(decoder.mask_logits[:, 0]).cpu().numpy()
        contents = torch.sigmoid(decoder.content_logits).permute(0, 2, 3, 1).cpu().numpy()
        background = torch.sigmoid(decoder.background_logits[0]).permute(1, 2, 0).cpu().numpy()
    return {"masks": masks, "contents": contents, "products": masks[..., None] * contents,
            "background": background}


def figure_templates(path: str | Path, model, overwrite: bool = False) -> Path:
    """The paper's Figure 4: per object its mask, content and their product; the background."""
    images = template_images(model.decoder)
    n = images["masks"].shape[0]
    fig, axes = plt.subplots(n + 1, 3, figsize=(5.0, 1.7 * (n + 1)), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(images["masks"][i], cmap="gray", vmin=0.0, vmax=1.0,
                          interpolation="nearest")
        axes[i, 0].set_xticks([])
        axes[i, 0].set_yticks([])
        axes[i, 0].set_ylabel(f"object {i}", fontsize=8)
        _image(axes[i, 1], images["contents"][i])
        _image(axes[i, 2], images["products"][i])
        if i == 0:
            for ax, title in zip(axes[0], ("mask", "content", "mask x content"), strict=True):
                ax.set_title(title, fontsize=8)
    _image(axes[n, 0], images["background"], "background")
    axes[n, 1].axis("off")
    axes[n, 2].axis("off")
    scale = float(np.exp(model.decoder.log_scale.detach().cpu().numpy()))
    fig.suptitle(f"learned templates (scale {scale:.3g})", fontsize=9)
    return _save(fig, path, overwrite)


# ---- curves from metrics.csv ---------------------------------------------------------------
def read_metrics(path: str | Path) -> dict[str, np.ndarray | list]:
    """``metrics.csv`` as columns: numeric columns as float arrays (NaN where empty), ``phase``
    as a list of strings."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"metrics file '{path}' not found")
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserInputError(f"metrics file '{path}' is unreadable "
                             f"({safe_reason(error)})") from None
    if not rows or "step" not in rows[0]:
        raise UserInputError(f"metrics file '{path}' holds no rows (or no 'step' column)")
    columns: dict[str, np.ndarray | list] = {}
    for key in rows[0]:
        if key == "phase":
            columns[key] = [r.get(key) or "" for r in rows]
            continue
        values = []
        for r in rows:
            text = r.get(key)
            try:
                values.append(float(text) if text not in (None, "") else math.nan)
            except ValueError:
                raise UserInputError(f"metrics file '{path}': column '{key}' holds "
                                     f"{text!r}, not a number") from None
        columns[key] = np.asarray(values)
    return columns


def _phase_spans(steps: np.ndarray, phases: list[str]) -> list[tuple[str, float, float]]:
    spans = []
    for step, phase in zip(steps, phases, strict=True):
        if spans and spans[-1][0] == phase:
            spans[-1] = (phase, spans[-1][1], step)
        else:
            spans.append((phase, spans[-1][2] if spans else 0.0, step))
    return spans


def split_columns(columns: dict, param_names: Sequence[str] | None = None):
    """(loss columns, parameter columns) of a ``metrics.csv``.

    The trainer writes ``step, wall_s, phase``, the losses, ``valid_pred, valid_recons`` and then
    the physical parameters; ``param_names`` (e.g. a checkpoint's ``params``) overrides that.
    """
    header = [c for c in columns if c not in ("step", "wall_s", "phase")]
    if param_names is not None:
        params = [c for c in param_names if c in columns]
    elif "valid_recons" in header:
        params = header[header.index("valid_recons") + 1:]
    else:
        params = [c for c in header if c not in NON_PARAM_COLUMNS]
    return [c for c in header if c not in params], params


def figure_curves(metrics: str | Path, out_dir: str | Path, true_params: dict | None = None,
                  param_names: Sequence[str] | None = None, overwrite: bool = False) -> list[Path]:
    """Loss curves (``loss.png``, log scale, training phases shaded) and physical-parameter
    curves (``params.png``, the true values dashed where known) from a ``metrics.csv``.

    ``param_names``: which columns are physical parameters (default: see :func:`split_columns`).
    """
    columns = read_metrics(metrics)
    out_dir = Path(out_dir)
    steps = columns["step"]
    losses, names = split_columns(columns, param_names)
    written = []
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for key in losses:
        if key in columns:
            values = np.where(columns[key] > 0, columns[key], np.nan)  # gaps stay gaps
            if np.isfinite(values).any():
                if key.startswith("valid"):  # only at checkpoints: join the points
                    ok = np.isfinite(values)
                    ax.plot(steps[ok], values[ok], "o-", markersize=3, linewidth=1, label=key)
                else:
                    ax.plot(steps, values, "-", linewidth=1, label=key)
    if "phase" in columns:
        shades = {"autoencoder": "tab:blue", "dynamics": "tab:green", "joint": "tab:red"}
        for phase, lo, hi in _phase_spans(steps, columns["phase"]):
            ax.axvspan(lo, hi, color=shades.get(phase, "grey"), alpha=0.06)
            ax.text((lo + hi) / 2, 1.0, phase, transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (squared pixel error per frame;\nlatent: squared px)", fontsize=8)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    written.append(_save(fig, out_dir / "loss.png", overwrite))

    if names:
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        true_params = true_params or {}
        for i, name in enumerate(names):
            colour = f"C{i}"
            ax.plot(steps, columns[name], "-", color=colour, linewidth=1.2, label=name)
            true = _true_value(name, true_params)
            if true is not None:
                ax.axhline(true, color=colour, linestyle="--", linewidth=1,
                           label=f"{name} true ({true:g})")
        ax.set_xlabel("step")
        ax.set_ylabel("physical parameter")
        ax.legend(fontsize=7)
        written.append(_save(fig, out_dir / "params.png", overwrite))
    return written


def _true_value(name: str, true_params: dict) -> float | None:
    """The true value to draw for a learned parameter (gravity's g: the identifiable g m^2)."""
    if name not in true_params:
        return None
    value = float(true_params[name])
    if name == "g" and "m" in true_params and "l" not in true_params:
        value *= float(true_params["m"]) ** 2
    return value


# ---- GIF -----------------------------------------------------------------------------------
def prediction_gif(path: str | Path, truth: np.ndarray, preds: np.ndarray, input_steps: int,
                   max_sequences: int = 4, scale: int = 4, fps: float = 5.0,
                   overwrite: bool = False) -> Path:
    """An animated GIF: per sequence (stacked vertically) truth on the left, prediction on the
    right; during the input frames the right side shows the input with a grey bar on top."""
    import imageio.v2 as imageio

    k = min(max_sequences, len(truth))
    if k < 1:
        raise UserInputError("no frames to animate")
    t, h, w = truth.shape[1:4]
    gap = 2
    frames = []
    for j in range(t):
        canvas = np.ones((k * (h + gap) - gap, 2 * w + gap, 3), dtype=np.float32)
        for s in range(k):
            top = s * (h + gap)
            canvas[top:top + h, :w] = truth[s, j]
            right = truth[s, j] if j < input_steps else preds[s, j]
            canvas[top:top + h, w + gap:] = right
            if j < input_steps:
                canvas[top:top + 1, w + gap:] = 0.5
        big = np.kron(np.clip(canvas, 0, 1), np.ones((scale, scale, 1), dtype=np.float32))
        frames.append((big * 255 + 0.5).astype(np.uint8))
    path = Path(path)
    with atomic_path(path, overwrite) as tmp:
        imageio.mimsave(tmp, frames, format="GIF", duration=1000.0 / fps, loop=0)
    return path


# ---- all of them ---------------------------------------------------------------------------
def write_evaluation_figures(out_dir: str | Path, model, examples: dict,
                             run_dir: str | Path | None = None,
                             true_params: dict | None = None,
                             overwrite: bool = False) -> list[Path]:
    """Figure 2, Figure 4, the GIF and, where ``run_dir/metrics.csv`` exists, the curves
    (:data:`EVALUATION_FIGURES`); existing files are replaced only with ``overwrite``."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserInputError(f"--figures '{out_dir}' is a file, not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = int(examples["input_steps"])
    written = [
        figure_sequences(out_dir / "figure2_sequences.png", examples["truth"],
                         examples["preds"], examples["recons"], steps, overwrite=overwrite),
        figure_templates(out_dir / "figure4_templates.png", model, overwrite),
        prediction_gif(out_dir / "prediction.gif", examples["truth"], examples["preds"], steps,
                       overwrite=overwrite),
    ]
    if run_dir is not None and (Path(run_dir) / "metrics.csv").is_file():
        written += figure_curves(Path(run_dir) / "metrics.csv", out_dir, true_params,
                                 param_names=list(model.params), overwrite=overwrite)
    return written


def true_params_of(data_path: str | Path | None) -> dict:
    """The ``params`` stored in a dataset or rollouts file (only that key is read), or {}."""
    if not data_path or not Path(data_path).is_file():
        return {}
    try:
        with np.load(data_path, allow_pickle=False) as npz:
            if "params" not in npz.files:
                return {}
            value = json.loads(npz["params"].item())
    except (OSError, ValueError, EOFError, KeyError, TypeError):
        raise UserInputError(f"data file '{data_path}' is unreadable") from None
    return value if isinstance(value, dict) else {}


def build_parser():
    parser = make_parser("pig_control.figures", "Figures of a training run: losses, parameters, "
                         "and the learned templates where DIR/last.pt exists.")
    parser.add_argument("--run", required=True, help="run directory holding metrics.csv")
    parser.add_argument("--data", help="dataset .npz whose true parameters to draw (default: the "
                        "data recorded in DIR/last.pt, if it is still there)")
    parser.add_argument("--out", help="where the figures go (default: DIR/figures)")
    add_overwrite_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run = Path(args.run)
    if not run.is_dir():
        raise UserInputError(f"run directory '{run}' not found")
    out = Path(args.out) if args.out else run / "figures"
    check_outputs([out / name for name in (*CURVE_FIGURES, "figure4_templates.png")],
                  args.overwrite)
    checkpoint = run / "last.pt"
    model, payload = None, {}
    if checkpoint.is_file():
        from pig_control.evaluate import load_checkpoint_model

        model, payload = load_checkpoint_model(checkpoint)
    data_path = args.data or payload.get("metadata", {}).get("data")
    if args.data and not Path(args.data).is_file():
        raise UserInputError(f"data file '{args.data}' not found")
    written = figure_curves(run / "metrics.csv", out, true_params_of(data_path),
                            param_names=None if model is None else list(model.params),
                            overwrite=args.overwrite)
    if model is not None:
        written.append(figure_templates(out / "figure4_templates.png", model, args.overwrite))
    print("\n".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
