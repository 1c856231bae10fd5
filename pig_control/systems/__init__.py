"""Systems: what a world model believes about the physics it watches, each described once.

``resolve_system(name)`` gives the class for a shipped name (``free``, ``spring``,
``gravity``, ``pendulum``, ``cartpole``) or a user's ``module:Class`` /
``path/to/file.py:Class``. docs/systems.md shows how to write one.
"""

from pig_control.systems import balls, cartpole, pendulum  # noqa: E402,F401  (registration)
from pig_control.systems.base import System
from pig_control.systems.registry import SYSTEMS, register_system, resolve_system

__all__ = ["SYSTEMS", "System", "register_system", "resolve_system"]
