"""pig_control: vision-based model-predictive control with Physics-as-Inverse-Graphics world
models.

    import pig_control
    model = pig_control.load_world_model("spring")
    agent = pig_control.make_agent(model, planner="gn", goal=goal_image)
    action = agent.predict(observation)

The names below are imported on first use (:mod:`pig_control.api`), so importing the package,
or running one of its commands such as ``python -m pig_control.data``, does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Controller", "WorldModel", "load_world_model", "make_agent", "make_oracle",
           "shipped_world_models"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports lazily
    from pig_control.api import (
        Controller,
        WorldModel,
        load_world_model,
        make_agent,
        make_oracle,
        shipped_world_models,
    )


def __getattr__(name: str):
    if name in __all__:
        from pig_control import api

        return getattr(api, name)
    raise AttributeError(f"module 'pig_control' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
