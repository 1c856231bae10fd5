"""Which system describes each of our scenes (``envs``), and the oracle: that system built with
the scene's TRUE parameters, camera and actuation gain (the planners' upper bound).

A world model is never built from this table's values: it names the system type only (what a
user of a real camera would know); the values are for the oracle and the tests.
"""

from __future__ import annotations

from pig_control.errors import UserInputError
from pig_control.systems.base import System
from pig_control.systems.registry import SYSTEMS

#: Scene name -> the system that describes it.
SCENE_SYSTEMS = {"bouncing": "free", "spring": "spring", "mnist_spring": "spring",
                 "gravity": "gravity", "pendulum": "pendulum"}


def system_name(scene) -> str:
    """The registry name of the system of an unwrapped scene of ``envs``."""
    try:
        return SCENE_SYSTEMS[scene.name]
    except (KeyError, AttributeError):
        raise UserInputError(f"no system describes scene {getattr(scene, 'name', scene)!r} "
                             f"(known: {', '.join(SCENE_SYSTEMS)})") from None


def oracle_system(scene) -> System:
    """The scene's system with its true parameters, camera (pendulum: pivot, rod), walls
    (margin), substeps and actuation gain."""
    name = system_name(scene)
    cls = SYSTEMS[name]
    if name == "pendulum":
        radius = float(scene.rod_length)
        camera = {"pivot_x": scene.pivot[0], "pivot_y": scene.pivot[1], "a_xx": -radius,
                  "a_xy": 0.0, "a_yx": 0.0, "a_yy": -radius}
        return cls.oracle({**scene.params, "damping": 0.0}, camera, scene.max_torque,
                          dt=scene.dt, substeps=scene.substeps, action_dim=scene.action_dim,
                          image_size=scene.image_size)
    build = dict(n_objects=scene.n_objects, dt=scene.dt, substeps=scene.substeps,
                 action_dim=scene.action_dim, actuated_objects=list(scene.pushed), walls=True,
                 image_size=scene.image_size, wall_margin=float(scene.margin))
    if name == "gravity":
        build["softening"] = float(getattr(scene, "softening", 0.0))
    return cls.oracle(dict(scene.params), None, scene.max_accel, **build)
