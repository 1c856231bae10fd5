"""The PIG model: encoder -> latent dynamics -> coordinate-consistent decoder."""

from __future__ import annotations

import torch
from torch import nn

from pig_control.config import ModelConfig
from pig_control.model.decoder import Decoder
from pig_control.model.dynamics import PhysicsDynamics, RecurrentDynamics
from pig_control.model.encoder import Encoder
from pig_control.systems import resolve_system


def build_dynamics(config: ModelConfig, input_steps: int) -> nn.Module:
    """The latent dynamics that ``config.physics`` names: a system
    (:func:`pig_control.systems.resolve_system`) as the physics cell, or the black-box
    baseline."""
    if config.physics == "blackbox":
        return RecurrentDynamics(config.n_objects, config.blackbox_hidden, config.action_dim)
    cell = resolve_system(config.physics).from_model_config(config)
    return PhysicsDynamics(cell, input_steps, config.velocity_hidden,
                           config.velocity_correction)


class PIGModel(nn.Module):
    """Frames in, positions, reconstructions and predictions out.

    Frames are float tensors (B, T, 3, H, W) with values in [0, 1]; positions are (B, T, n, 2) in
    pixels (x = column, y = row); actions (B, T, d) in [-1, 1].

    Args:
        config: the model section of the run configuration.
        input_steps: frames that start a prediction (the paper's L).
    """

    def __init__(self, config: ModelConfig, input_steps: int):
        super().__init__()
        self.config, self.input_steps = config, input_steps
        self.encoder = Encoder(config.n_objects, config.image_size, config.unet_channels,
                               config.localizer, config.colour_split)
        self.decoder = Decoder(config.n_objects, config.image_size, config.template_size)
        self.dynamics = build_dynamics(config, input_steps)

    def physics_parameters(self) -> list[nn.Parameter]:
        """The physical log-parameters and the actuation log-gain."""
        return list(self.cell.parameters()) if self.cell is not None else []

    def appearance_parameters(self) -> list[nn.Parameter]:
        """What the objects and the background look like: decoder templates, contents,
        background and scale, and the encoder's object colours."""
        return [*self.decoder.parameters(), self.encoder.colour_logits]

    def network_parameters(self) -> list[nn.Parameter]:
        """Everything else: the U-Net, localiser, velocity estimator, recurrent baseline."""
        taken = {id(p) for p in self.physics_parameters() + self.appearance_parameters()}
        return [p for p in self.parameters() if id(p) not in taken]

    def set_background(self, background: torch.Tensor) -> None:
        """Tell the encoder and the decoder the scene's static background (3, H, W) in [0, 1]."""
        self.encoder.set_background(background)
        with torch.no_grad():
            self.decoder.background_logits.copy_(torch.logit(background.clamp(0.01, 0.99))[None])

    @property
    def cell(self):
        """The physics cell (None for the black-box baseline)."""
        return getattr(self.dynamics, "cell", None)

    @property
    def params(self) -> dict[str, float]:
        """Learned physical parameters (empty for the black-box baseline)."""
        return self.cell.params if self.cell is not None else {}

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) -> positions (B, T, n, 2)."""
        b, t = frames.shape[:2]
        return self.encoder(frames.flatten(0, 1)).view(b, t, self.config.n_objects, 2)

    def decode(self, positions: torch.Tensor) -> torch.Tensor:
        """(B, T, n, 2) -> frames (B, T, 3, H, W)."""
        b, t = positions.shape[:2]
        return self.decoder(positions.flatten(0, 1)).view(b, t, 3, *self.decoder_shape)

    @property
    def decoder_shape(self) -> tuple[int, int]:
        return (self.config.image_size, self.config.image_size)

    def rollout(self, input_positions: torch.Tensor, steps: int,
                actions: torch.Tensor | None = None,
                input_actions: torch.Tensor | None = None) -> torch.Tensor:
        """Predict ``steps`` frames of positions (B, steps, n, 2) after the input frames.

        ``actions`` (B, steps, d), when given, is the action applied during each predicted frame;
        ``input_actions`` (B, L - 1, d) those applied between the input frames.
        """
        state = self.dynamics.initial(input_positions, input_actions)
        predicted = []
        for t in range(steps):
            state = self.dynamics.step(state, None if actions is None else actions[:, t])
            predicted.append(state[0])
        return torch.stack(predicted, 1)

    def forward(self, frames: torch.Tensor, pred_steps: int,
                actions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Encode the first ``input_steps + pred_steps`` frames, predict ``pred_steps`` frames.

        ``actions`` (B, T, d) holds the action applied between frame t and t + 1 at index t.
        Returns encoded positions, reconstructions, predicted positions and predicted frames.
        """
        length = self.input_steps + pred_steps
        encoded = self.encode(frames[:, :length])
        future_actions = past_actions = None
        if actions is not None:
            past_actions = actions[:, : self.input_steps - 1]
            future_actions = actions[:, self.input_steps - 1:length - 1]
        predicted = self.rollout(encoded[:, : self.input_steps], pred_steps, future_actions,
                                 past_actions)
        return {
            "encoded": encoded,
            "recons": self.decode(encoded),
            "predicted": predicted,
            "preds": self.decode(predicted),
        }
