"""The world: Gymnasium scenes of the PIG paper, with true physics and a fast renderer.

Importing this package registers the Gymnasium ids below (NumPy and Gymnasium only: it never
imports torch, ``pig_control`` or ``agents``). See docs/api-envs.md for the NumPy interface.

>>> import gymnasium, envs
>>> env = gymnasium.make("PIG/Spring-v0")                  # actuated, goal-conditioned
>>> data_env = gymnasium.make("PIG/Spring-v0", actuated=False)  # the paper's dynamics
>>> scene = envs.make_scene("spring")                      # the unwrapped scene
"""

from __future__ import annotations

from typing import Any

import gymnasium

from .balls import BouncingBalls, Spring, ThreeBody
from .digits import DigitSpring
from .pendulum import Pendulum
from .scene import BallScene, Scene

__all__ = [
    "SCENES",
    "BallScene",
    "BouncingBalls",
    "DigitSpring",
    "Pendulum",
    "Scene",
    "Spring",
    "ThreeBody",
    "make_scene",
]

#: Short scene name -> Gymnasium id.
SCENES: dict[str, str] = {
    "bouncing": "PIG/BouncingBalls-v0",
    "spring": "PIG/Spring-v0",
    "gravity": "PIG/ThreeBody-v0",
    "mnist_spring": "PIG/DigitSpring-v0",
    "pendulum": "PIG/Pendulum-v0",
}

_CLASSES: dict[str, type[Scene]] = {
    "bouncing": BouncingBalls,
    "spring": Spring,
    "gravity": ThreeBody,
    "mnist_spring": DigitSpring,
    "pendulum": Pendulum,
}


def make_scene(name: str, actuated: bool = True, **kwargs: Any) -> Scene:
    """Build the unwrapped scene for a short name (``SCENES``) or its Gymnasium id.

    Extra keyword arguments go to the scene's constructor (e.g. ``k=5.0``, ``render_mode``).
    Raises ValueError naming the known scenes for an unknown name.
    """
    key = name
    if name not in _CLASSES:
        by_id = {v: k for k, v in SCENES.items()}
        if name not in by_id:
            raise ValueError(
                f"unknown scene {name!r}; known scenes: {', '.join(SCENES)} "
                f"(or their ids {', '.join(SCENES.values())})"
            )
        key = by_id[name]
    return _CLASSES[key](actuated=actuated, **kwargs)


def _register() -> None:
    for short, env_id in SCENES.items():
        if env_id in gymnasium.registry:
            continue
        cls = _CLASSES[short]
        gymnasium.register(
            id=env_id,
            entry_point=f"{cls.__module__}:{cls.__name__}",
            max_episode_steps=cls.max_episode_steps,
        )


_register()
