"""The DeepMind Control Suite's truth, read from the MuJoCo model: for oracle rows and for
comparing what a world model learned with what the simulator holds.

Supported domains (Shimmy ids ``dm_control/DOMAIN-TASK-v0``):

``pendulum`` (``pendulum-swingup``)
    One hinge about the y axis, ``theta = 0`` upright, positive towards +x. MuJoCo's equation:
    ``I theta'' = m g l sin(theta) - b theta' + gear u`` with ``I`` the moment of inertia about
    the hinge (point mass and the sphere's own inertia), ``m g l`` the gravity torque
    coefficient (subtree mass, gravity, distance of its centre of mass from the hinge), ``b``
    the joint damping, ``gear`` the motor's gear, ``u`` in ``ctrlrange``.
``cartpole`` (``cartpole-swingup``)
    A slider ``x`` (metres, +x right on camera 0) and a hinge ``theta`` (0 upright, positive
    tilting towards +x): cart mass, pole mass, the pole's centre-of-mass distance from the
    hinge and its inertia, damping of both joints, the rail's range, the motor's gear (newtons
    per unit action).

:func:`true_parameters` returns these values (SI units, seconds) with the simulator's step and
integrator; :func:`described_values` maps them onto the parameters of the toolkit's
:mod:`pig_control.systems` (``pendulum``, ``cartpole``) so the described system runs with the
env's true values (the oracle); :func:`true_coordinates` reads the state in the system's
coordinates.
"""

from __future__ import annotations

import math

import numpy as np

from pig_control.errors import UserInputError
from pig_control.pixel_env import DMC_PREFIX

#: DMC domain -> the described system of :mod:`pig_control.systems` that models it.
SYSTEM_OF_DOMAIN = {"pendulum": "pendulum", "cartpole": "cartpole"}
_INTEGRATORS = {0: "Euler (semi-implicit, implicit damping)", 1: "RK4", 2: "implicit",
                3: "implicitfast"}


def domain_of(env_id: str) -> str:
    """``dm_control/cartpole-swingup-v0`` -> ``cartpole``; UserInputError for an id that is not
    a DMC id or a domain without a described system."""
    if not env_id.startswith(DMC_PREFIX):
        raise UserInputError(f"{env_id} is not a DMC id ({DMC_PREFIX}DOMAIN-TASK-v0)")
    domain = env_id[len(DMC_PREFIX):].split("-", 1)[0]
    if domain not in SYSTEM_OF_DOMAIN:
        raise UserInputError(f"no described system for the DMC domain '{domain}' yet; "
                             f"supported: {', '.join(SYSTEM_OF_DOMAIN)}")
    return domain


def _scalar(value) -> float:
    """A named-indexer entry (a 0-d or 1-element array) as a float."""
    return float(np.ravel(value)[0])


def _hinge_terms(physics, body: str) -> tuple[float, float]:
    """(inertia about the hinge axis y, kg m^2; centre-of-mass distance from the hinge, m)."""
    named = physics.named.model
    com = np.asarray(named.body_ipos[body], dtype=float)  # body frame = hinge at the origin
    arm = math.hypot(com[0], com[2])  # perpendicular to the y axis
    inertia = float(named.body_inertia[body][1]) + _scalar(named.body_mass[body]) * arm ** 2
    return inertia, arm


def true_parameters(physics, domain: str) -> dict[str, float | str]:
    """The physical truth of a DMC ``physics`` (see the module docstring), SI units."""
    model, named = physics.model, physics.named.model
    common = {"timestep_s": float(model.opt.timestep),
              "integrator": _INTEGRATORS.get(int(model.opt.integrator), "unknown"),
              "gravity_m_s2": float(-model.opt.gravity[2]),
              "gear": float(model.actuator_gear[0, 0]),
              "ctrl_low": float(model.actuator_ctrlrange[0, 0]),
              "ctrl_high": float(model.actuator_ctrlrange[0, 1])}
    if domain == "pendulum":
        inertia, arm = _hinge_terms(physics, "pole")
        mass = _scalar(named.body_mass["pole"])
        return {**common, "inertia_kg_m2": inertia, "mass_kg": mass, "com_distance_m": arm,
                "mgl_N_m": mass * common["gravity_m_s2"] * arm,
                "damping_N_m_s": _scalar(named.dof_damping["hinge"]),
                "armature_kg_m2": _scalar(named.dof_armature["hinge"])}
    if domain == "cartpole":
        inertia, arm = _hinge_terms(physics, "pole_1")
        low, high = (float(v) for v in named.jnt_range["slider"])
        return {**common, "masscart_kg": _scalar(named.body_mass["cart"]),
                "masspole_kg": _scalar(named.body_mass["pole_1"]), "pole_com_distance_m": arm,
                "pole_inertia_about_hinge_kg_m2": inertia,
                "slider_damping_N_s_m": _scalar(named.dof_damping["slider"]),
                "hinge_damping_N_m_s": _scalar(named.dof_damping["hinge_1"]),
                "rail_low_m": low, "rail_high_m": high}
    raise UserInputError(f"unknown DMC domain '{domain}'")


def described_values(domain: str, truth: dict) -> tuple[str, dict[str, float], float]:
    """(system name, parameters by the system's names, actuation gain) that make the described
    system of :data:`SYSTEM_OF_DOMAIN` follow the truth.

    pendulum: the system's ``theta'' = 3 g / (2 l) sin(theta) - damping theta'
    + 3 gain u / (m l^2)`` equals MuJoCo's with ``l = 1``, ``g = 2 m g l / (3 I)``,
    ``damping = b / I``, ``m = 3 I`` and ``gain = gear`` (exact).
    cartpole: the Barto et al. equations with the true masses, ``length`` = the pole's
    centre-of-mass distance, gravity and ``gain = gear`` (newtons per action unit). They
    assume a uniform rod (inertia about the hinge ``4/3 m length^2``) and no damping, so they
    differ from MuJoCo's capsule by the ratio recorded as ``inertia_ratio`` (true / assumed).
    """
    if domain == "pendulum":
        inertia = truth["inertia_kg_m2"]
        return "pendulum", {"g": 2.0 * truth["mgl_N_m"] / (3.0 * inertia), "l": 1.0,
                            "m": 3.0 * inertia,
                            "damping": truth["damping_N_m_s"] / inertia}, truth["gear"]
    if domain == "cartpole":
        return "cartpole", {"masspole": truth["masspole_kg"],
                            "length": truth["pole_com_distance_m"],
                            "gravity": truth["gravity_m_s2"],
                            "masscart": truth["masscart_kg"]}, truth["gear"]
    raise UserInputError(f"unknown DMC domain '{domain}'")


def inertia_ratio(truth: dict) -> float:
    """cartpole: the pole's true inertia about the hinge over the uniform rod's
    ``4/3 m length^2`` that the Barto equations assume."""
    assumed = 4.0 / 3.0 * truth["masspole_kg"] * truth["pole_com_distance_m"] ** 2
    return truth["pole_inertia_about_hinge_kg_m2"] / assumed


def true_coordinates(physics, domain: str) -> tuple[np.ndarray, np.ndarray]:
    """(q, qd) float64 in the described system's coordinates: pendulum ``(theta,)``, cartpole
    ``(x, theta)`` (radians, metres; per second)."""
    qpos = np.asarray(physics.data.qpos, dtype=np.float64)
    qvel = np.asarray(physics.data.qvel, dtype=np.float64)
    if domain in SYSTEM_OF_DOMAIN:  # hinge / slider then hinge: MuJoCo's order is ours
        return qpos.copy(), qvel.copy()
    raise UserInputError(f"unknown DMC domain '{domain}'")


def compare_learned(domain: str, cell, truth: dict) -> dict:
    """What a world model learned against the simulator's truth, in the quantities video can
    identify (the model's own units are seconds and radians; lengths and masses are not
    identifiable apart).

    pendulum: ``frequency_rad_s`` = sqrt(3 g / (2 l)) against sqrt(m g l / I) (the small-swing
    angular frequency), ``damping_per_s`` = damping against b / I, ``torque_per_action_rad_s2``
    = 3 gain / (m l^2) against gear / I (angular acceleration per unit action).
    cartpole: ``pole_com_distance_m`` = length (gravity fixes the metre), ``mass_ratio`` =
    masspole / masscart, ``push_per_action_m_s2`` = gain / (masscart + masspole) against
    gear / (total mass) (the whole system's acceleration per unit action).
    Each with the relative error (learned / true - 1)."""
    p, gain = cell.params, float(cell.gain().detach())
    if domain == "cartpole":
        fixed = {name: float(v.detach()) for name, v in cell.physical().items()}
        learned = {"pole_com_distance_m": fixed["length"],
                   "mass_ratio": fixed["masspole"] / fixed["masscart"],
                   "push_per_action_m_s2": gain / (fixed["masscart"] + fixed["masspole"])}
        true = {"pole_com_distance_m": truth["pole_com_distance_m"],
                "mass_ratio": truth["masspole_kg"] / truth["masscart_kg"],
                "push_per_action_m_s2": truth["gear"] / (truth["masscart_kg"]
                                                         + truth["masspole_kg"])}
        return {name: {"learned": learned[name], "true": true[name],
                       "relative_error": learned[name] / true[name] - 1.0} for name in learned}
    if domain != "pendulum":
        raise UserInputError(f"no learned-against-true comparison for the DMC domain "
                             f"'{domain}' yet")
    learned = {"frequency_rad_s": math.sqrt(1.5 * p["g"] / p["l"]),
               "damping_per_s": p["damping"],
               "torque_per_action_rad_s2": 3.0 * gain / (p["m"] * p["l"] ** 2)}
    inertia = truth["inertia_kg_m2"]
    true = {"frequency_rad_s": math.sqrt(truth["mgl_N_m"] / inertia),
            "damping_per_s": truth["damping_N_m_s"] / inertia,
            "torque_per_action_rad_s2": truth["gear"] / inertia}
    return {name: {"learned": learned[name], "true": true[name],
                   "relative_error": learned[name] / true[name] - 1.0} for name in learned}
