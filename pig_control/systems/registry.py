"""Systems by name: the shipped ones, or a user's class named as ``module:Class`` or
``path/to/file.py:Class`` (no edit of the package needed).

A shipped system registers itself where it is defined (``@register_system``); a user's class
need not register: naming it is enough.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from pig_control.errors import UserInputError

#: Shipped systems by name (filled on import of :mod:`pig_control.systems`).
SYSTEMS: dict[str, type] = {}


def register_system(cls: type) -> type:
    """Class decorator: make ``cls`` known by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name to register under")
    SYSTEMS[cls.name] = cls
    return cls


def _load_module(where: str):
    """Import a module by dotted name or from a ``.py`` file."""
    path = Path(where)
    if where.endswith(".py") or path.is_file():
        if not path.is_file():
            raise UserInputError(f"system file '{where}' not found")
        name = f"pig_control_user_system_{abs(hash(str(path.resolve())))}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:  # noqa: BLE001 - a user's file: report, do not crash
            del sys.modules[name]
            raise UserInputError(f"system file '{where}' failed to import: "
                                 f"{type(error).__name__}: {error}") from None
        return module
    try:
        return importlib.import_module(where)
    except ImportError as error:
        raise UserInputError(f"system module '{where}' cannot be imported: {error}") from None


def resolve_system(spec: str | type) -> type:
    """The :class:`~pig_control.systems.base.System` subclass that ``spec`` names: a shipped
    name (:data:`SYSTEMS`), ``module:Class``, ``path/to/file.py:Class``, or the class itself.

    Raises:
        UserInputError: unknown name, a module or file that cannot be imported, a missing
            class, or a class that is not a System.
    """
    from pig_control.systems.base import System

    if isinstance(spec, type):
        cls = spec
    elif isinstance(spec, str) and spec in SYSTEMS:
        return SYSTEMS[spec]
    elif isinstance(spec, str) and ":" in spec:
        where, _, name = spec.rpartition(":")
        cls = getattr(_load_module(where), name, None)
        if cls is None:
            raise UserInputError(f"system '{spec}': '{where}' has no '{name}'")
    else:
        raise UserInputError(f"unknown system '{spec}' (shipped: {', '.join(sorted(SYSTEMS))};"
                             " or name your own as module:Class or path/to/file.py:Class)")
    if not (isinstance(cls, type) and issubclass(cls, System)):
        raise UserInputError(f"system '{spec}' is not a subclass of "
                             "pig_control.systems.System")
    return cls
