"""Datasets and rollouts: the frames the PIG model learns from.

- :func:`generate_dataset`: the paper's parameter-estimation datasets (unactuated scenes).
- :func:`collect_rollouts`: exploration episodes from the actuated scenes (random or coloured
  noise actions) through Gymnasium vector environments.
- :func:`load_dataset`: read and validate either kind of ``.npz`` file.
- :func:`save_preview`: a PNG grid of a few sequences.

Command line: ``python -m pig_control.data {generate,rollouts,show} --help``.
"""

from pig_control.data.generate import SEQ_LENGTHS, SPLIT_SIZES, generate_dataset
from pig_control.data.io import load_dataset, save_npz
from pig_control.data.preview import save_preview
from pig_control.data.rollouts import ENV_IDS, collect_rollouts, colored_noise, random_actions

__all__ = ["ENV_IDS", "SEQ_LENGTHS", "SPLIT_SIZES", "collect_rollouts", "colored_noise",
           "generate_dataset", "load_dataset", "random_actions", "save_npz", "save_preview"]
