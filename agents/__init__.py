"""The deciders: planners over action sequences and a receding-horizon controller.

Model-agnostic: a planner takes a one-step ``dynamics(state, action)`` and a trajectory
``cost(states, actions)`` (see :mod:`agents.base`); this package never imports ``pig_control``
or ``envs``. The stable-baselines3 baselines live in :mod:`agents.sb3`, imported on demand
(SB3 is slow to import).
"""

from agents.base import Callback, Cost, Dynamics, Planner, rollout
from agents.cem import CEMPlanner
from agents.cmaes import CMAESPlanner
from agents.factory import PLANNERS, make_planner, planner_options
from agents.gn import GaussNewtonPlanner
from agents.grad import GradPlanner
from agents.icem import ICEMPlanner
from agents.mpc import MPCController
from agents.mppi import MPPIPlanner

__all__ = [
    "PLANNERS",
    "CEMPlanner",
    "CMAESPlanner",
    "Callback",
    "Cost",
    "Dynamics",
    "GaussNewtonPlanner",
    "GradPlanner",
    "ICEMPlanner",
    "MPCController",
    "MPPIPlanner",
    "Planner",
    "make_planner",
    "planner_options",
    "rollout",
]
