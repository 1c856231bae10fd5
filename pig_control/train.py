"""Unsupervised training of a PIG model from frames (and actions, for actuated data).

    python -m pig_control.train --config configs/spring.yaml [--data F.npz] [--out DIR]
                                [--resume] [--seed S] [--device cpu|cuda] [key=value ...]

Only frames (and the actions that were applied) reach the model: never true states, positions or
parameters. Training runs in up to three phases (``training`` section of the config):

1. autoencoder: the encoder and decoder learn to find and draw the objects, on single frames;
2. dynamics: the encoder is frozen, every training frame is encoded once, and the velocity
   estimator and physics cell are fitted to the encoded trajectories (no images: fast);
3. joint: everything together on the paper's loss, prediction + alpha x reconstruction (+ the
   position-space prediction loss when ``latent_weight`` > 0).

The paper's recipe is phase 3 alone (``configs/*_paper.yaml``). Writes ``DIR/last.pt`` (atomic,
every ``checkpoint_every`` steps and at the end), ``DIR/metrics.csv`` and, where TensorBoard is
installed, event files. ``--resume`` continues from ``DIR/last.pt`` exactly where it stopped.
"""

from __future__ import annotations

import csv
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pig_control import precision
from pig_control.checkpoint import code_version, load_checkpoint, save_checkpoint
from pig_control.cli import atomic_path, check_output, make_parser, run_main
from pig_control.config import (
    Config,
    apply_overrides,
    check_training_memory,
    config_from_dict,
    load_config,
)
from pig_control.errors import UserInputError, safe_reason
from pig_control.identify import (
    TrajectoryFit,
    chunk_sequences,
    fit_horizon,
    fittable_chunks,
    initial_camera,
)
from pig_control.interrupt import Interrupted, StopRequests
from pig_control.metrics import frame_sse, position_sse
from pig_control.model.pig import PIGModel
from pig_control.provenance import sha256_file
from pig_control.runlock import locked


class TrainingDiverged(UserInputError):
    """The loss or a parameter became NaN or infinite."""


def split_sequences(data: dict, input_steps: int, pred_steps: int):
    """Training and validation (frames, actions) from a dataset or a rollouts file.

    Frames become uint8 tensors (N, T, 3, H, W); actions float tensors (N, T - 1, d) or None.
    Rollouts are split 90 / 10 by episode.
    """
    if data.get("kind") == "rollouts":
        frames, actions = data["frames"], data["actions"].astype(np.float32)
        if len(frames) < 2:
            raise UserInputError(f"the rollouts hold {len(frames)} episode(s); training needs at "
                                 f"least 2 (one or more to learn from, one to validate on)")
        n_valid = max(1, len(frames) // 10)
        parts = [(frames[:-n_valid], actions[:-n_valid]), (frames[-n_valid:], actions[-n_valid:])]
    else:
        parts = [(data["train_x"], None), (data["valid_x"], None)]
    out = []
    for frames, actions in parts:
        if frames.shape[1] < input_steps + pred_steps:
            raise UserInputError(f"sequences of {frames.shape[1]} frames are shorter than "
                                 f"input_steps + pred_steps = {input_steps + pred_steps}")
        tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 1, 4, 2, 3).contiguous()
        out.append((tensor, None if actions is None else torch.from_numpy(actions)))
    return out


def check_data_objects(config: Config, data: dict) -> None:
    """A dataset of ball scenes records states (N, T, objects, 4): x, y, vx, vy per object
    (only their shape is read, never the values); the config must find as many objects."""
    states = data.get("train_states", data.get("states"))
    if states is None or states.ndim != 4 or states.shape[-1] != 4:
        return
    if states.shape[2] != config.model.n_objects:
        raise UserInputError(f"the data shows {states.shape[2]} objects but the config's "
                             f"model.n_objects is {config.model.n_objects}")


def check_data_matches(config: Config, frames: torch.Tensor, actions) -> None:
    """The data must have the image size and action size the model expects."""
    size = config.model.image_size
    if tuple(frames.shape[-3:]) != (3, size, size):
        raise UserInputError(f"the data's frames are {tuple(frames.shape[-2:])} pixels but the "
                             f"config's model.image_size is {size}")
    d = 0 if actions is None else actions.shape[-1]
    if config.model.action_dim and d != config.model.action_dim:
        raise UserInputError(f"the config expects actions of size {config.model.action_dim}; "
                             f"the data has {d or 'none'}")


class Trainer:
    """Owns the model, the optimiser, the data and the step counter of one run.

    Args:
        config: the validated run configuration.
        data: a dict from :func:`pig_control.data.load_dataset`.
        out_dir: where checkpoints and metrics go.
        metadata: provenance recorded in every checkpoint (command, data path, ...).
    """

    def __init__(self, config: Config, data: dict, out_dir: str | Path,
                 metadata: dict | None = None):
        self.config, self.out_dir = config, Path(out_dir)
        self.device = torch.device(config.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise UserInputError("--device cuda was asked for but no CUDA device is available")
        precision.configure()  # no TF32, deterministic cuDNN: a GPU run computes as the CPU
        torch.manual_seed(config.seed)
        t, d = config.training, config.data
        check_data_objects(config, data)
        (self.frames, self.actions), (self.valid_frames, self.valid_actions) = split_sequences(
            data, d.input_steps, d.pred_steps)
        check_data_matches(config, self.frames, self.actions)
        self.model = PIGModel(config.model, d.input_steps).to(self.device)
        self.model.set_background(median_frame(self.frames, self.generator_for_background()))
        if config.model.localizer == "colour":
            self.model.encoder.set_colour_model(*object_colour(
                self.frames, self.model.encoder.background, self.generator_for_background()))
        groups = [{"params": params, "base_lr": lr} for params, lr in self._parameter_groups()]
        for group in groups:
            group["lr"] = group["base_lr"]
        if t.optimizer == "adam":
            self.optimizer = torch.optim.Adam(groups)
        else:
            self.optimizer = torch.optim.RMSprop(groups)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.wall_s = 0.0
        self.metadata = dict(metadata or {})
        self._encoded = None  # phase 2: encoder positions of the training frames
        # training.autoencoder_keep_best: the best weights so far ({"model", "error", "step"})
        self._autoencoder_best: dict | None = None
        self._fit: TrajectoryFit | None = None  # phase 2: the trajectory fit

    def _parameter_groups(self) -> list[tuple[list, float]]:
        """(parameters, learning rate) for networks, appearance and physics; empty ones left out."""
        t = self.config.training
        return [(params, lr) for params, lr in (
            (self.model.network_parameters(), t.lr),
            (self.model.appearance_parameters(), t.rate("appearance")),
            (self.model.physics_parameters(), t.rate("physics"))) if params]

    def generator_for_background(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.config.seed + 1)

    # ---- phases -------------------------------------------------------------------------
    def phase(self, step: int) -> str:
        t = self.config.training
        if step < t.autoencoder_steps:
            return "autoencoder"
        if step < t.autoencoder_steps + t.dynamics_steps:
            return "dynamics"
        return "joint"

    def _window(self, batch: int, among: torch.Tensor | None = None):
        """A random batch of training windows: frames (B, L+P, 3, H, W) float, actions or None,
        and the sequence and frame indices. ``among``: draw only from these sequences (the
        indices returned are then positions in ``among``)."""
        d = self.config.data
        length = d.input_steps + d.pred_steps
        n, total = self.frames.shape[:2]
        count = n if among is None else len(among)
        idx = torch.randint(count, (batch,), generator=self.generator)
        start = torch.randint(total - length + 1, (batch,), generator=self.generator)
        steps = start[:, None] + torch.arange(length)
        rows = idx if among is None else among[idx]
        frames = None
        if among is None:
            frames = self.frames[rows[:, None], steps].to(self.device).float() / 255.0
        actions = None
        if self.actions is not None:
            between = steps[:, :-1].clamp_max(self.actions.shape[1] - 1)
            actions = self.actions[rows[:, None], between]
            actions = actions.to(self.device)
        return frames, actions, idx, steps

    def _autoencoder_loss(self) -> dict:
        t = self.config.training
        n, total = self.frames.shape[:2]
        idx = torch.randint(n, (t.autoencoder_frames,), generator=self.generator)
        step = torch.randint(total, (t.autoencoder_frames,), generator=self.generator)
        frames = self.frames[idx, step].to(self.device).float() / 255.0
        positions, segmentation, shares = self.model.encoder.segment(frames)
        recons_loss = frame_sse(self.model.decoder(positions), frames).mean()
        losses = {"loss": recons_loss, "recons": recons_loss}
        return self._add_segmentation(losses, frames, segmentation, shares)

    def _add_segmentation(self, losses: dict, frames, segmentation, shares) -> dict:
        """The encoder's segmentation loss, plus a prior that every object owns an equal share
        of the foreground (keeps an object from owning nothing while another owns two)."""
        t = self.config.training
        if t.segmentation_weight and self.config.model.localizer == "centroid":
            balance = ((shares - 1.0 / shares.shape[-1]) ** 2).sum(-1).mean()
            seg = frame_sse(segmentation, frames).mean() + t.balance_weight * balance
            losses["loss"] = losses["loss"] + t.segmentation_weight * seg
            losses["segmentation"] = seg
        return losses

    @torch.no_grad()
    def _autoencoder_check(self) -> float | None:
        """Reconstruction error (squared pixel error summed per frame, mean over frames) of up
        to 256 fixed validation frames; None without validation sequences."""
        if len(self.valid_frames) == 0:
            return None
        count = self.valid_frames.shape[0] * self.valid_frames.shape[1]
        stride = max(1, count // 256)
        frames = self.valid_frames.flatten(0, 1)[::stride][:256]
        frames = frames.to(self.device).float() / 255.0
        self.model.eval()
        error = frame_sse(self.model.decoder(self.model.encoder(frames)), frames).mean().item()
        self.model.train()
        return error

    def _keep_best_autoencoder(self) -> None:
        """``training.autoencoder_keep_best``: every ``log_every`` steps of the autoencoder
        phase remember the weights if they draw the validation frames best so far; at the
        phase's last step go back to the best (the config's docstring says why)."""
        t = self.config.training
        if not (t.autoencoder_keep_best and 0 < self.step <= t.autoencoder_steps):
            return
        end = self.step == t.autoencoder_steps
        if self.step % t.log_every and not end:
            return
        error = self._autoencoder_check()
        if error is None:
            return
        best = self._autoencoder_best
        if best is None or error < best["error"]:
            best = self._autoencoder_best = {
                "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "error": error, "step": self.step}
        if end:
            self.model.load_state_dict(best["model"])
            self.metadata["autoencoder_kept"] = {"step": best["step"], "error": best["error"],
                                                 "last_step_error": error}
            self._autoencoder_best = None

    @torch.no_grad()
    def _encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Encoder positions (N, T, n, 2) of uint8 sequences (N, T, 3, H, W), in chunks."""
        self.model.eval()
        chunks = [self.model.encode(frames[i:i + 64].to(self.device).float() / 255.0)
                  for i in range(0, len(frames), 64)]
        self.model.train()
        return torch.cat(chunks)

    def _start_identification(self) -> None:
        """Encode a random subset of the training sequences once and set up the trajectory fit
        and the velocity estimator's windows on it (phase 2)."""
        t = self.config.training
        self._fit_rng = self.generator.get_state()
        chosen = torch.randperm(len(self.frames), generator=self.generator)[: t.encode_sequences]
        self._chosen = chosen
        self._encoded = self._encode(self.frames[chosen])
        fitted = chosen[: t.identify_sequences]
        actions = None if self.actions is None else self.actions[fitted].to(self.device)
        chunks, chunk_actions = chunk_sequences(self._encoded[: len(fitted)], actions,
                                                t.identify_frames)
        if self.model.cell is not None:
            if self.step == self.config.training.autoencoder_steps:  # a fresh fit, not a resume
                initial_camera(self.model.cell, self._encoded,
                               None if self.actions is None else self.actions[chosen])
            chunks, chunk_actions = fittable_chunks(self.model.cell, chunks, chunk_actions)
        self._fit = TrajectoryFit(chunks, chunk_actions, self.config.model.dt)

    def _dynamics_loss(self) -> dict:
        """Phase 2: physical parameters by trajectory fitting; the velocity estimator learns to
        start predictions from the input frames with the physics held fixed."""
        if self._fit is None:
            self._start_identification()
        d = self.config.data
        fit_loss = None
        if self.model.cell is not None:
            t = self.config.training
            horizon = fit_horizon(self.step - t.autoencoder_steps, t.identify_warmup,
                                  self._fit.positions.shape[1])
            fit_loss = self._fit.loss(self.model.cell, horizon)
            self._fit.zero_grad()
        _, actions, idx, steps = self._window(self.config.training.batch_size, self._chosen)
        positions = self._encoded[idx[:, None], steps]
        if self.model.cell is not None:  # windows the system sees whole (System.in_view)
            seen = self.model.cell.in_view(positions).all(1)
            if seen.any() and not seen.all():
                positions = positions[seen]
                actions = None if actions is None else actions[seen]
        future_actions = None if actions is None else actions[:, d.input_steps - 1:]
        past_actions = None if actions is None else actions[:, : d.input_steps - 1]
        frozen = self.model.physics_parameters()
        for p in frozen:
            p.requires_grad_(False)
        try:
            predicted = self.model.rollout(positions[:, : d.input_steps], d.pred_steps,
                                           future_actions, past_actions)
        finally:
            for p in frozen:
                p.requires_grad_(True)
        latent = position_sse(predicted, positions[:, d.input_steps:]).mean()
        if fit_loss is None:  # the black-box baseline: nothing physical to fit
            return {"loss": latent, "latent": latent}
        return {"loss": latent + fit_loss, "latent": latent, "trajectory": fit_loss}

    def _joint_loss(self) -> dict:
        t, d = self.config.training, self.config.data
        frames, actions, _, _ = self._window(t.batch_size)
        out = self.model(frames, d.pred_steps, actions)
        pred_loss = frame_sse(out["preds"], frames[:, d.input_steps:]).mean()
        recons_loss = frame_sse(out["recons"], frames).mean()
        latent = position_sse(out["predicted"], out["encoded"][:, d.input_steps:].detach()).mean()
        loss = pred_loss + t.alpha * recons_loss + t.latent_weight * latent
        losses = {"loss": loss, "pred": pred_loss, "recons": recons_loss, "latent": latent}
        if t.segmentation_weight and self.config.model.localizer == "centroid":
            some = frames[:, :: max(1, frames.shape[1] // 2)].flatten(0, 1)  # a few frames
            _, segmentation, shares = self.model.encoder.segment(some)
            losses = self._add_segmentation(losses, some, segmentation, shares)
        return losses

    # ---- one step -----------------------------------------------------------------------
    def _set_learning_rates(self) -> None:
        t = self.config.training
        decay = t.lr_decay if self.step >= t.lr_decay_at * t.steps else 1.0
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] / decay

    def _clip_gradients(self, phase: str) -> None:
        """Element-wise clip to [-clip, clip] (the paper's); in the dynamics phase the physical
        parameters only with ``training.clip_physics`` (see :class:`TrainingConfig`)."""
        t = self.config.training
        if t.clip <= 0:
            return
        exempt = set()
        if phase == "dynamics" and not t.clip_physics:
            exempt = {id(p) for p in self.model.physics_parameters()}
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None and id(p) not in exempt:
                    p.grad.clamp_(-t.clip, t.clip)

    def train_step(self) -> dict:
        """One optimiser step of the current phase; returns the losses as floats."""
        phase = self.phase(self.step)
        self._set_learning_rates()
        if phase != "dynamics":
            self._encoded, self._fit = None, None
        losses = {"autoencoder": self._autoencoder_loss, "dynamics": self._dynamics_loss,
                  "joint": self._joint_loss}[phase]()
        if not torch.isfinite(losses["loss"]):
            raise TrainingDiverged(f"the loss became {losses['loss'].item()} at step "
                                   f"{self.step}; training stopped: {self._kept()}")
        self.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        self._clip_gradients(phase)
        self.optimizer.step()
        if phase == "dynamics" and self._fit is not None:
            self._fit.step()
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            raise TrainingDiverged(f"a model parameter became NaN or infinite at step "
                                   f"{self.step}; training stopped: {self._kept()}")
        self.step += 1
        self._keep_best_autoencoder()
        return {"phase": phase, **{k: v.item() for k, v in losses.items()}}

    def _kept(self) -> str:
        """What a diverged run leaves behind, for its error message."""
        path = self.out_dir / "last.pt"
        if path.is_file():
            return f"the last good checkpoint '{path}' was kept"
        return f"no checkpoint was written to '{self.out_dir}'"

    # ---- validation, checkpoints --------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict:
        """Prediction and reconstruction error on the first validation sequences (their start)."""
        d = self.config.data
        n = min(self.config.training.valid_sequences, len(self.valid_frames))
        if n == 0:
            return {}
        length = d.input_steps + d.pred_steps
        frames = self.valid_frames[:n, :length].to(self.device).float() / 255.0
        actions = None
        if self.valid_actions is not None:
            actions = self.valid_actions[:n, :length].to(self.device)
        self.model.eval()
        out = self.model(frames, d.pred_steps, actions)
        self.model.train()
        return {"valid_pred": frame_sse(out["preds"], frames[:, d.input_steps:]).mean().item(),
                "valid_recons": frame_sse(out["recons"], frames).mean().item()}

    def state(self, with_optimizer: bool = True) -> dict:
        payload = {
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "params": self.model.params,
            "step": self.step,
            "metadata": {**self.metadata, "wall_clock_s": self.wall_s, "code": code_version(),
                         "seed": self.config.seed},
        }
        if with_optimizer:
            payload["optimizer"] = self.optimizer.state_dict()
            if self._fit is not None:
                payload["identification"] = self._fit.state_dict()
                payload["identification_rng"] = self._fit_rng
            payload["rng"] = self.generator.get_state()
            if self._autoencoder_best is not None:
                payload["autoencoder_best"] = self._autoencoder_best
        return payload

    def save(self, path: str | Path | None = None) -> Path:
        path = Path(path or self.out_dir / "last.pt")
        save_checkpoint(path, self.state(), overwrite=True)  # this run's own, under its lock
        return path

    def load_state(self, payload: dict) -> None:
        """Restore model, optimiser, sampling state and step from a checkpoint payload
        (:func:`resumable_checkpoint`); one that does not fit this run is a UserInputError."""
        if "optimizer" not in payload or "rng" not in payload:
            raise UserInputError("this checkpoint holds no optimiser state (a shipped model?): "
                                 "it cannot be resumed")
        try:
            self._restore(payload)
        except (RuntimeError, ValueError, TypeError, KeyError, IndexError) as error:
            raise UserInputError(f"checkpoint '{self.out_dir / 'last.pt'}' does not fit this "
                                 f"run and cannot be resumed ({type(error).__name__}: "
                                 f"{safe_reason(error)[:200]})") from None

    def _restore(self, payload: dict) -> None:
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        groups = zip(self.optimizer.param_groups, self._parameter_groups(), strict=True)
        for group, (_, rate) in groups:
            group["base_lr"] = rate  # learning-rate overrides apply on resume too
        self.generator.set_state(payload["rng"])
        self.step = int(payload["step"])
        if "identification" in payload:
            self.generator.set_state(payload["identification_rng"])
            self._start_identification()
            self._fit.load_state_dict(payload["identification"])
            self.generator.set_state(payload["rng"])
        self.wall_s = float(payload.get("metadata", {}).get("wall_clock_s", 0.0))
        best = payload.get("autoencoder_best")
        if best is not None:  # the same tensors as the model's, an error and a step
            ours = self.model.state_dict()
            if not (isinstance(best, dict) and isinstance(best.get("model"), dict)
                    and best["model"].keys() == ours.keys()
                    and all(best["model"][k].shape == v.shape for k, v in ours.items())
                    and isinstance(best.get("error"), float) and isinstance(best.get("step"), int)):
                raise ValueError("its 'autoencoder_best' does not match the model")
        self._autoencoder_best = best

    # ---- the loop -----------------------------------------------------------------------
    def _step_logged_and_saved(self, end: int, log: MetricsLog, bar) -> dict:
        """One step, its metrics row every ``log_every`` steps and a checkpoint (after
        validation) every ``checkpoint_every`` steps and at ``end``; returns its losses."""
        t = self.config.training
        started = time.perf_counter()
        last = self.train_step()
        self.wall_s += time.perf_counter() - started
        if self.step % t.log_every == 0 or self.step == end:
            row = {"step": self.step, "wall_s": round(self.wall_s, 2), **last,
                   **self.model.params}
            if self.step % t.checkpoint_every == 0 or self.step == end:
                row.update(self.validate())
            log.write(row)
            bar.set_postfix({k: f"{v:.3g}" if isinstance(v, float) else v
                             for k, v in row.items() if k not in ("step", "wall_s")})
        if self.step % t.checkpoint_every == 0 or self.step == end:
            self.save()
        bar.update(1)
        return last

    def fit(self, progress: bool = True, max_steps: int | None = None) -> dict:
        """Train until ``training.steps`` (or ``max_steps`` more steps); checkpoint as it goes.

        A SIGTERM or SIGINT (:class:`pig_control.interrupt.StopRequests`) ends the current step,
        saves a resumable checkpoint and raises :class:`pig_control.interrupt.Interrupted`.
        """
        t = self.config.training
        end = t.steps if max_steps is None else min(t.steps, self.step + max_steps)
        log = MetricsLog(self.out_dir, self.step, self.model.params)
        bar = tqdm(total=t.steps, initial=self.step, disable=not progress, desc="train",
                   dynamic_ncols=True)
        last = {}
        try:
            with StopRequests() as stop:
                while self.step < end:
                    last = self._step_logged_and_saved(end, log, bar)
                    if stop.signum is not None:  # a safe point: the step is complete
                        if self.step % t.checkpoint_every and self.step != end:
                            self.save()
                        raise Interrupted(stop.signum)
        finally:
            bar.close()
            log.close()
        return last


class MetricsLog:
    """metrics.csv (and TensorBoard events where installed) for one run directory.

    On resume, rows past the checkpoint's step are dropped so the file matches the run.
    """

    def __init__(self, out_dir: Path, step: int, params: dict):
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / "metrics.csv"
        self.fields = ["step", "wall_s", "phase", "loss", "recons", "pred", "latent", "trajectory",
                       "segmentation", "valid_pred", "valid_recons", *params]
        kept = read_metrics_rows(self.path, step) if step > 0 and self.path.exists() else []
        with atomic_path(self.path, overwrite=True) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, self.fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(kept)
        self.handle = self.path.open("a", newline="")
        self.writer = csv.DictWriter(self.handle, self.fields, extrasaction="ignore")
        self.tensorboard = None
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.tensorboard = SummaryWriter(str(out_dir / "tensorboard"), purge_step=step or None)
        except ImportError:
            pass

    def write(self, row: dict) -> None:
        self.writer.writerow(row)
        self.handle.flush()
        if self.tensorboard is not None:
            for key, value in row.items():
                if isinstance(value, float) and key != "wall_s":
                    self.tensorboard.add_scalar(key, value, row["step"])

    def close(self) -> None:
        self.handle.close()
        if self.tensorboard is not None:
            self.tensorboard.close()


def read_metrics_rows(path: Path, step: int) -> list[dict]:
    """The rows of an earlier run's metrics.csv up to ``step`` (those past the checkpoint are
    dropped, so the file matches the resumed run)."""
    try:
        with path.open(newline="") as handle:
            return [row for row in csv.DictReader(handle) if int(row.get("step") or 0) <= step]
    except (ValueError, TypeError, UnicodeDecodeError, csv.Error) as error:
        raise UserInputError(f"'{path}' is corrupt ({type(error).__name__}: "
                             f"{safe_reason(error)}); move it away to resume without the earlier "
                             f"rows") from None


#: What resuming reads from a checkpoint, and the type each must have.
RESUME_FIELDS = {"config": dict, "model": dict, "optimizer": dict, "rng": torch.Tensor,
                 "step": int, "metadata": dict, "params": dict}


def resumable_checkpoint(path: Path) -> dict:
    """The checkpoint at ``path`` with the fields resuming reads checked for their types."""
    payload = load_checkpoint(path)
    if "optimizer" not in payload or "rng" not in payload:
        raise UserInputError(f"checkpoint '{path}' holds no optimiser state (a shipped model?): "
                             "it cannot be resumed")
    payload.setdefault("metadata", {})
    for key, kind in RESUME_FIELDS.items():
        value = payload.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UserInputError(f"checkpoint '{path}' cannot be resumed: its '{key}' is a "
                                 f"{type(value).__name__}, not a {kind.__name__}")
    if not all(isinstance(v, float) for v in payload["params"].values()):
        raise UserInputError(f"checkpoint '{path}' cannot be resumed: its 'params' are not all "
                             f"numbers")
    if payload["step"] < 0:
        raise UserInputError(f"checkpoint '{path}' cannot be resumed: step {payload['step']}")
    recorded = payload["metadata"].get("data")
    if recorded is not None and not isinstance(recorded, str):
        raise UserInputError(f"checkpoint '{path}' cannot be resumed: its metadata's 'data' is "
                             f"a {type(recorded).__name__}, not a path")
    return payload


def median_frame(frames: torch.Tensor, generator: torch.Generator,
                 count: int = 2000) -> torch.Tensor:
    """The per-pixel median (3, H, W) in [0, 1] of up to ``count`` random frames: the static
    background of the scene, learned from the data (objects move, so the median is background)."""
    flat = frames.flatten(0, 1)
    idx = torch.randperm(len(flat), generator=generator)[:count]
    return flat[idx].float().median(0).values / 255.0


def object_colour(frames: torch.Tensor, background: torch.Tensor, generator: torch.Generator,
                  count: int = 500) -> tuple[torch.Tensor, float]:
    """The ``colour`` localizer's score (:func:`pig_control.model.encoder.fit_object_colour`)
    from up to ``count`` random frames of uint8 sequences (N, T, 3, H, W)."""
    from pig_control.model.encoder import fit_object_colour

    flat = frames.flatten(0, 1)
    idx = torch.randperm(len(flat), generator=generator)[:count]
    try:
        return fit_object_colour(flat[idx].float() / 255.0, background.cpu(),
                                 generator=generator)
    except ValueError as error:
        raise UserInputError(f"model.localizer colour: {error}") from None


def default_data_path(config: Config) -> Path:
    return Path("data") / f"{config.scene}.npz"


def obtain_data(config: Config, data_path: str | None) -> tuple[dict, str]:
    """Load the data named on the command line, in the config, or generate the scene's default."""
    from pig_control.data import load_dataset

    path = data_path or config.data.path
    if path is None:
        path = default_data_path(config)
        if not path.exists():
            from pig_control.data.generate import generate_dataset
            from pig_control.data.io import save_npz

            print(f"generating the {config.scene} dataset into {path} (once)", file=sys.stderr)
            n = config.data.train
            save_npz(path, generate_dataset(config.scene, n_train=n, n_valid=max(1, n // 10),
                                            n_test=max(1, n // 10), seed=1234))
    return load_dataset(path), str(path)


def data_fingerprint(path: str, data: dict) -> dict:
    """What identifies the training data in a checkpoint: the file's sha256 and array shapes."""
    return {"data_sha256": sha256_file(path),
            "data_shapes": {key: list(value.shape) for key, value in data.items()
                            if isinstance(value, np.ndarray) and value.ndim}}


def check_same_data(recorded: dict, current: dict, out_dir: Path) -> None:
    """Refuse to resume on data other than the run's own (another file, or the same file
    regenerated). Checkpoints from before digests were recorded are resumed as they are."""
    old = recorded.get("data_sha256")
    if old is None or old == current["data_sha256"]:
        return
    raise UserInputError(
        f"--resume refused: the run in '{out_dir}' was trained on '{recorded.get('data')}' "
        f"(sha256 {old[:16]}, shapes {recorded.get('data_shapes')}) but the data now is "
        f"'{current['data']}' (sha256 {current['data_sha256'][:16]}, shapes "
        f"{current['data_shapes']}); resume with the same data or start a new run")


def build_parser():
    parser = make_parser("pig_control.train", "Train a PIG model from video, unsupervised.")
    parser.add_argument("--config", required=True,
                        help="YAML config (a path, or a shipped name such as spring)")
    parser.add_argument("--data", help="dataset .npz (default: the config's data.path)")
    parser.add_argument("--out", help="run directory (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh in an --out that holds an earlier run (its last.pt "
                             "and metrics.csv are replaced); without it such a folder is refused")
    parser.add_argument("--seed", type=int, help="random seed (overrides the config)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="overrides the config")
    parser.add_argument("--steps", type=int, help="stop after this many more steps (the schedule "
                        "still follows training.steps)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch (default 1: small convolutions gain little "
                             "from more, and a second thread slows badly on a shared machine)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. training.lr=3e-4")
    return parser


def resume_command(args, out_dir: Path) -> str:
    """The command that continues this run (its data path is in the checkpoint)."""
    words = ["python", "-m", "pig_control.train", "--config", args.config, "--out", str(out_dir),
             "--resume"]
    if args.data:
        words += ["--data", args.data]
    if args.threads != 1:
        words += ["--threads", str(args.threads)]
    return shlex.join(words)


def print_outcome(step: int, outcome: str, params: dict, out_dir: Path) -> None:
    """The command's last line: step, outcome, learned parameters, checkpoint."""
    learned = ", ".join(f"{k} = {v:.4g}" for k, v in params.items())
    print(f"step {step}: {outcome}; {learned or 'no physical parameters'}; "
          f"checkpoint {out_dir / 'last.pt'}")


#: Files whose presence makes a folder an earlier run's.
RUN_FILES = ("last.pt", "metrics.csv")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out_dir = Path(args.out or Path("runs") / Path(args.config).stem)
    if args.resume and args.overwrite:
        raise UserInputError("--resume continues the run in --out and --overwrite replaces it: "
                             "choose one")
    with locked(out_dir):
        return train_in(out_dir, args, argv)


def train_in(out_dir: Path, args, argv: Sequence[str] | None) -> int:
    """The body of :func:`main`, run while this process holds the lock of ``out_dir``."""
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.device:
        overrides.append(f"device={args.device}")
    for name in RUN_FILES:  # a link or FIFO in the run folder is refused, before any work
        check_output(out_dir / name, overwrite=True)
    if args.resume:
        payload = resumable_checkpoint(out_dir / "last.pt")
        config = config_from_dict(apply_overrides(payload["config"], overrides))
    else:
        config = load_config(args.config, overrides)
        earlier = [name for name in RUN_FILES if os.path.lexists(out_dir / name)]
        if earlier and not args.overwrite:
            raise UserInputError(f"'{out_dir}' holds an earlier run ({', '.join(earlier)}): pass "
                                 f"--resume to continue it, --overwrite to start afresh, or "
                                 f"choose another --out")
    if args.data is not None and not args.data.strip():
        raise UserInputError("--data is empty: name a dataset .npz, or leave --data out")
    if args.threads < 1:
        raise UserInputError(f"--threads must be at least 1, got {args.threads}")
    check_training_memory(config)
    if args.resume and int(payload.get("step", 0)) >= config.training.steps:
        # nothing to do: answer before loading the data and building the model (minutes for
        # the digits)
        print_outcome(payload["step"], "already trained to its last step",
                      payload.get("params") or {}, out_dir)
        return 0
    torch.set_num_threads(args.threads)
    recorded = payload.get("metadata", {}).get("data") if args.resume else None
    data, data_path = obtain_data(config, args.data or recorded)
    command = "python -m pig_control.train " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    metadata = {"command": command, "data": data_path, "scene": config.scene,
                "env_frames": int(data.get("env_frames", 0) or 0),
                **data_fingerprint(data_path, data)}
    if args.resume:
        check_same_data(payload.get("metadata", {}), metadata, out_dir)
        metadata = {**payload.get("metadata", {}), **metadata,
                    "command": payload.get("metadata", {}).get("command", command)}
    trainer = Trainer(config, data, out_dir, metadata)
    if args.resume:
        trainer.load_state(payload)
    try:
        last = trainer.fit(progress=not args.no_progress, max_steps=args.steps)
    except Interrupted as stop:
        print(f"{stop.signal_name} at step {trainer.step}: saved {out_dir / 'last.pt'}; resume "
              f"with: {resume_command(args, out_dir)}", file=sys.stderr)
        return stop.exit_status
    print_outcome(trainer.step, f"loss {last['loss']:.4g}" if last else "no step taken",
                  trainer.model.params, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
