"""The paper's parameter-estimation datasets: unactuated scenes, observed as images.

Each split is drawn with ``scene.sample_sequences`` (the paper's generators, rejection rules
included) and rendered with ``scene.render_states``, in chunks, so memory stays bounded by the
output arrays and a progress bar can follow.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from pig_control.data.io import SPLITS
from pig_control.errors import UserInputError

#: Scenes with a paper dataset, and their (train, test) sequence lengths (PAPER.md); the
#: validation split uses the training length.
SEQ_LENGTHS = {"bouncing": (12, 30), "spring": (12, 30), "mnist_spring": (12, 30),
               "gravity": (20, 40)}
#: The paper's split sizes: 5,000 / 500 / 500 sequences.
SPLIT_SIZES = {"train": 5000, "valid": 500, "test": 500}
#: Sequences sampled and rendered per call; fixed, so a seed gives the same data everywhere.
CHUNK = 250


def generate_dataset(scene: str, *, n_train: int = SPLIT_SIZES["train"],
                     n_valid: int = SPLIT_SIZES["valid"], n_test: int = SPLIT_SIZES["test"],
                     seq_len: int | None = None, test_seq_len: int | None = None,
                     seed: int = 0, progress: bool | None = None) -> dict:
    """Sample and render a dataset in the paper's format.

    Args:
        scene: short scene name, one of :data:`SEQ_LENGTHS` (the unactuated form is used).
        n_train, n_valid, n_test: sequences per split (train at least 1, the others at least 0).
        seq_len: frames per training and validation sequence (default: the paper's, 12 or 20).
        test_seq_len: frames per test sequence (default: the paper's, 30 or 40).
        seed: non-negative integer; each split draws from its own stream ``SeedSequence([seed,
            split_index])``, so the data depend only on the seed and the arguments.
        progress: show a tqdm bar (None: only on a terminal).

    Returns:
        ``{split}_x`` uint8 ``(N, T, H, W, 3)``, ``{split}_states`` float32 ``(N, T, *S)`` for
        each split, and the metadata ``kind``, ``scene``, ``params`` (dict), ``dt``, ``seed``.

    Raises:
        UserInputError: an unknown scene or a bad size, length or seed.
    """
    if scene not in SEQ_LENGTHS:
        raise UserInputError(f"unknown scene {scene!r} for a dataset; "
                             f"choose from {', '.join(SEQ_LENGTHS)}")
    train_len, test_len = SEQ_LENGTHS[scene]
    seq_len = train_len if seq_len is None else seq_len
    test_seq_len = test_len if test_seq_len is None else test_seq_len
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    lengths = {"train": seq_len, "valid": seq_len, "test": test_seq_len}
    _check_int("--train", n_train, 1)
    _check_int("--valid", n_valid, 0)
    _check_int("--test", n_test, 0)
    _check_int("--seq-len", seq_len, 1)
    _check_int("--test-seq-len", test_seq_len, 1)
    _check_int("--seed", seed, 0)

    import envs  # the world; imported here so the loader works without it

    world = envs.make_scene(scene, actuated=False)
    size = int(world.image_size)
    state_shape = tuple(world.state_shape)
    out: dict = {}
    with tqdm(total=sum(sizes.values()), unit="seq", desc=f"generate {scene}",
              disable=_disable(progress)) as bar:
        for index, split in enumerate(SPLITS):
            n, t = sizes[split], lengths[split]
            rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
            x = np.empty((n, t, size, size, 3), dtype=np.uint8)
            states = np.empty((n, t) + state_shape, dtype=np.float32)
            for start in range(0, n, CHUNK):
                m = min(CHUNK, n - start)
                s = np.asarray(world.sample_sequences(rng, m, t))
                if s.shape != (m, t) + state_shape:
                    raise RuntimeError(f"{scene}.sample_sequences returned {s.shape}, "
                                       f"expected {(m, t) + state_shape}")
                states[start:start + m] = s
                x[start:start + m] = world.render_states(s)
                bar.update(m)
            out[f"{split}_x"] = x
            out[f"{split}_states"] = states
    out.update(kind="dataset", scene=scene, params=dict(world.params), dt=float(world.dt),
               seed=int(seed))
    return out


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise UserInputError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _disable(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None hides the bar when stderr is not a terminal."""
    return None if progress is None else not progress
