"""Fan out independent units of work: one after another in this process (the default; Ray is
not imported), or as Ray tasks on a local Ray (``--ray``: every core of this machine) or on a
running cluster (``--ray-address ADDRESS``).

A *unit* is one piece of a multi-run job that depends on no other: one training run, one agent
trained through its budgets, one block of evaluation episodes. It is a module-level function
(Ray pickles it by reference, so every node must have the same pig_control installed), its
keyword arguments (plain JSON data) and the resources it needs (CPUs, GPUs).

What this module guarantees, whichever backend runs the units:

- Results come back to the driver (this process), which writes each one through the project's
  atomic writer as soon as it arrives (``RESULTS_DIR/KEY.json``): a job cut off keeps every
  finished unit, and a worker on another node needs no shared file system.
- Rerunning the same job resumes: a unit whose file records it as done with the same
  arguments is reused, not run again; a file from other arguments is refused (one clear
  error) instead of being mixed in.
- A unit whose worker process dies (killed, out of memory, node lost) is retried up to
  ``retries`` times, then recorded as failed; the other units carry on. A unit that raises
  is recorded as failed at once (the same inputs would raise again) with the error's text,
  except for bad input (:class:`~pig_control.errors.UserInputError`) and a stop asked for by
  a signal (:class:`~pig_control.interrupt.Interrupted`), which stop the whole job.
- Each unit runs with ``cpus`` threads for torch and OpenMP/MKL (and its subprocesses), so
  units packed onto one node do not oversubscribe it.
- Before anything is written: an unreachable ``--ray-address``, a unit asking for a GPU where
  there is none, or for more CPUs or GPUs than any node of the cluster has, is a
  :class:`~pig_control.errors.UserInputError` (one line, exit status 2 from the CLIs).

Why Ray core tasks and not Ray Tune: the units here are fixed lists (seeds, budgets, episode
blocks) decided before the job starts, with no search, scheduling of trials or early stopping;
what they need is placement by resources, retry of lost workers and a result per unit. Core
tasks give exactly that in a few lines, keep the serial path free of Ray, and keep the result
files in the project's own format; Tune would add its own experiment directories, trial
naming and checkpoint layout on top of the one the jobs already have.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pig_control.cli import write_json
from pig_control.errors import UserInputError
from pig_control.interrupt import Interrupted

#: Errors a unit raises that stop the whole job: the same for every unit, or asked for.
STOPS_JOB = (UserInputError, Interrupted)

#: Environment variables that size the thread pools of OpenMP, MKL and OpenBLAS.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Seconds to wait for a cluster's address to answer before calling it unreachable.
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Unit:
    """One independent piece of a job.

    Args:
        key: unique name within the job, used as the result's file name (letters, digits,
            ``-``, ``_``, ``.``, ``=``).
        function: a module-level function called as ``function(**kwargs)``; returns JSON data.
        kwargs: its keyword arguments, JSON data (they identify the unit's result on resume).
        cpus: CPUs the unit uses; also its number of threads.
        gpus: GPUs the unit uses (a fraction shares one).
    """

    key: str
    function: Callable[..., Any]
    kwargs: dict = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float = 0.0


@dataclass(frozen=True)
class FanOut:
    """Where units run: ``ray`` (a local Ray, or ``address`` for a cluster) or in-process,
    ``workers`` at a time (more than one only for units whose work runs in subprocesses:
    in-process units share one interpreter and its thread settings)."""

    ray: bool = False
    address: str | None = None
    retries: int = 2
    workers: int = 1

    @property
    def uses_ray(self) -> bool:
        return self.ray or self.address is not None

    @property
    def label(self) -> str:
        if self.address is not None:
            return f"ray cluster at {self.address}"
        return "local ray" if self.ray else "serial"


@dataclass
class Outcome:
    """What became of one unit: ``status`` done or failed, its result or error, the attempts
    made (None: unknown, a Ray unit that succeeded, possibly after retries), the worker's node
    and process and the seconds it ran (the last attempt)."""

    key: str
    status: str
    result: Any = None
    error: str | None = None
    attempts: int | None = 1
    node: str | None = None
    pid: int | None = None
    seconds: float | None = None
    reused: bool = False

    @property
    def done(self) -> bool:
        return self.status == "done"


def add_arguments(parser, cpus_help: str = "CPUs (and threads) per unit") -> None:
    """The fan-out options every multi-run job takes."""
    group = parser.add_argument_group("fan-out (pig_control.fanout)")
    group.add_argument("--ray", action="store_true",
                       help="run the units as Ray tasks on a local Ray (all cores)")
    group.add_argument("--ray-address", default=None, metavar="ADDRESS",
                       help="run the units on a running Ray cluster (host:port of its head, "
                       "ray://host:port, or auto)")
    group.add_argument("--retries", type=int, default=2,
                       help="times a unit whose worker died is retried (default 2)")
    group.add_argument("--unit-cpus", type=float, default=1.0, metavar="N", help=cpus_help)
    group.add_argument("--unit-gpus", type=float, default=1.0, metavar="N",
                       help="GPUs per unit that uses one (default 1; 0.5: two units share a GPU)")


def from_arguments(args) -> FanOut:
    """A :class:`FanOut` from the options of :func:`add_arguments` (checked)."""
    if args.retries < 0:
        raise UserInputError(f"--retries must be at least 0, got {args.retries}")
    if not args.unit_cpus > 0:
        raise UserInputError(f"--unit-cpus must be positive, got {args.unit_cpus}")
    if not 0 < args.unit_gpus:
        raise UserInputError(f"--unit-gpus must be positive, got {args.unit_gpus}")
    if args.ray and args.ray_address:
        raise UserInputError("--ray starts a local Ray; --ray-address joins a cluster: "
                             "give one of them")
    return FanOut(ray=args.ray, address=args.ray_address, retries=args.retries)


def unit_resources(args, uses_gpu: bool) -> dict:
    """``cpus`` and ``gpus`` of a unit from ``--unit-cpus`` / ``--unit-gpus``."""
    return {"cpus": args.unit_cpus, "gpus": args.unit_gpus if uses_gpu else 0.0}


# ---- running one unit (in this process or in a Ray worker) ---------------------------------
@contextmanager
def thread_settings(threads: int) -> Iterator[None]:
    """``threads`` threads for torch and for OpenMP / MKL / OpenBLAS (the environment
    variables, which subprocesses inherit) inside the block; restored afterwards."""
    import torch

    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    saved_threads = torch.get_num_threads()
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        torch.set_num_threads(saved_threads)


def call_unit(function: Callable[..., Any], kwargs: dict, threads: int | None) -> dict:
    """Run ``function(**kwargs)`` with ``threads`` threads (None: as set); returns its result
    with the node, process and seconds it ran."""
    start = time.perf_counter()
    if threads is None:
        result = function(**kwargs)
    else:
        with thread_settings(threads):
            result = function(**kwargs)
    return {"result": result, "node": _node_name(), "pid": os.getpid(),
            "seconds": time.perf_counter() - start}


def _node_name() -> str:
    """The Ray node id inside a Ray worker, else the host name."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return ray.get_runtime_context().get_node_id()
    return socket.gethostname()


def _threads(unit: Unit) -> int:
    return max(1, int(unit.cpus))


# ---- results on disk -----------------------------------------------------------------------
def _plain(kwargs: dict) -> Any:
    """``kwargs`` as JSON data (what a result file records and resume compares)."""
    try:
        return json.loads(json.dumps(kwargs, sort_keys=True))
    except (TypeError, ValueError) as error:
        raise UserInputError(f"unit arguments must be JSON data: {error}") from None


def _check_key(key: str) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=")
    if not key or set(key) - allowed or key.startswith("."):
        raise ValueError(f"unit key '{key}' is not a plain file name")


def _stored(path: Path) -> dict | None:
    """A unit's result file, or None when it is missing or unreadable (then it is rerun)."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) and "status" in payload else None


def _name(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def _outcome_payload(outcome: Outcome, unit: Unit, kwargs: Any, backend: str) -> dict:
    return {"key": outcome.key, "status": outcome.status, "function": _name(unit.function),
            "kwargs": kwargs,
            "result": outcome.result, "error": outcome.error, "attempts": outcome.attempts,
            "node": outcome.node, "pid": outcome.pid, "seconds": outcome.seconds,
            "backend": backend}


# ---- the driver ----------------------------------------------------------------------------
def run_units(units: Iterable[Unit], fanout: FanOut, results_dir: str | Path | None = None,
              on_outcome: Callable[[Outcome], None] | None = None) -> dict[str, Outcome]:
    """Run every unit (reusing finished ones found in ``results_dir``); returns key -> outcome,
    in the order given.

    ``results_dir`` (optional) holds ``KEY.json`` per unit, written atomically as each unit
    finishes; ``on_outcome`` is called in the driver as each outcome arrives (reused ones
    included). Raises UserInputError before anything runs or is written when the backend
    cannot be reached or a unit cannot be placed.
    """
    units = list(units)
    keys = [u.key for u in units]
    if len(set(keys)) != len(keys):
        raise ValueError("unit keys must be unique")
    for key in keys:
        _check_key(key)
    directory = Path(results_dir) if results_dir is not None else None
    plain = {u.key: _plain(u.kwargs) for u in units}
    outcomes: dict[str, Outcome] = {}
    if directory is not None:
        for unit in units:
            stored = _stored(directory / f"{unit.key}.json")
            if stored is None:
                continue
            if (stored.get("kwargs"), stored.get("function")) != (plain[unit.key],
                                                                  _name(unit.function)):
                raise UserInputError(f"{directory / (unit.key + '.json')} holds the result of "
                                     "other settings: use another directory or remove it")
            if stored["status"] == "done":
                outcomes[unit.key] = Outcome(
                    unit.key, "done", stored.get("result"), None, stored.get("attempts", 1),
                    stored.get("node"), stored.get("pid"), stored.get("seconds"), reused=True)
    pending = [u for u in units if u.key not in outcomes]
    if pending:
        check_placeable(pending, fanout)

    by_key = {u.key: u for u in units}

    def record(outcome: Outcome) -> None:
        outcomes[outcome.key] = outcome
        if directory is not None:
            write_json(directory / f"{outcome.key}.json",  # the job's own file: replaced
                       _outcome_payload(outcome, by_key[outcome.key], plain[outcome.key],
                                        fanout.label), overwrite=True)
        if on_outcome is not None:
            on_outcome(outcome)

    for key in keys:
        if key in outcomes and on_outcome is not None:
            on_outcome(outcomes[key])
    if fanout.uses_ray and pending:
        _run_on_ray(pending, fanout, record)
    elif fanout.workers > 1 and len(pending) > 1:
        _run_in_threads(pending, fanout.workers, record)
    else:
        for unit in pending:
            record(_run_here(unit))
    return {key: outcomes[key] for key in keys}


def _run_in_threads(units: list[Unit], workers: int,
                    record: Callable[[Outcome], None]) -> None:
    """Units ``workers`` at a time in threads of this process, with the largest thread count
    any of them asks for set once around them all."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with thread_settings(max(_threads(u) for u in units)), ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(_run_here, u, False) for u in units]
        for future in as_completed(futures):
            record(future.result())


def _run_here(unit: Unit, set_threads: bool = True) -> Outcome:
    """Run ``unit`` in this process (with its thread count unless ``set_threads`` is off)."""
    try:
        payload = call_unit(unit.function, unit.kwargs,
                            _threads(unit) if set_threads else None)
    except STOPS_JOB:
        raise
    except Exception as error:  # noqa: BLE001 - a failed unit is recorded, the others go on
        return Outcome(unit.key, "failed", error=_one_line(error))
    return Outcome(unit.key, "done", payload["result"], node=payload["node"],
                   pid=payload["pid"], seconds=payload["seconds"])


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def check_placeable(units: list[Unit], fanout: FanOut) -> None:
    """Every unit must fit somewhere: serially, a GPU unit needs a CUDA device here; on Ray,
    some live node must have the CPUs and GPUs it asks for (Ray would wait forever)."""
    if not fanout.uses_ray:
        if any(u.gpus > 0 for u in units):
            import torch

            if not torch.cuda.is_available():
                raise UserInputError("--device cuda: no CUDA device is available on this "
                                     "machine")
        return
    ray = connect(fanout)
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    for unit in units:
        if not any(n.get("CPU", 0) >= unit.cpus and n.get("GPU", 0) >= unit.gpus
                   for n in nodes):
            largest_cpu = max((n.get("CPU", 0) for n in nodes), default=0)
            largest_gpu = max((n.get("GPU", 0) for n in nodes), default=0)
            raise UserInputError(
                f"unit {unit.key} asks for {unit.cpus:g} CPUs and {unit.gpus:g} GPUs, but no "
                f"node of the Ray cluster has that much (largest: {largest_cpu:g} CPUs, "
                f"{largest_gpu:g} GPUs)")


def _run_on_ray(units: list[Unit], fanout: FanOut, record: Callable[[Outcome], None]) -> None:
    ray = connect(fanout)
    remote = ray.remote(call_unit)
    started = {}
    for unit in units:
        ref = remote.options(num_cpus=unit.cpus, num_gpus=unit.gpus,
                             max_retries=fanout.retries, retry_exceptions=False).remote(
            unit.function, unit.kwargs, _threads(unit))
        started[ref] = unit
    while started:
        ready, _ = ray.wait(list(started), num_returns=1)
        unit = started.pop(ready[0])
        try:
            payload = ray.get(ready[0])
        except ray.exceptions.RayTaskError as error:  # the unit raised: no retry
            cause = error.cause if getattr(error, "cause", None) is not None else error
            if isinstance(cause, UserInputError):
                raise UserInputError(str(cause)) from None
            record(Outcome(unit.key, "failed", error=_one_line(cause)))
        except ray.exceptions.RayError as error:  # its worker or node died, every attempt
            record(Outcome(unit.key, "failed", attempts=fanout.retries + 1,
                           error=f"worker lost {fanout.retries + 1} times: "
                           f"{_one_line(error)}"))
        else:  # Ray does not say how many attempts it took
            record(Outcome(unit.key, "done", payload["result"], attempts=None,
                           node=payload["node"], pid=payload["pid"],
                           seconds=payload["seconds"]))


# ---- Ray -----------------------------------------------------------------------------------
def _import_ray():
    try:
        import ray
    except ImportError:
        raise UserInputError("--ray / --ray-address need Ray: pip install "
                             "'pig_control[ray]'") from None
    return ray


def check_reachable(address: str) -> None:
    """A TCP connection to ``host:port`` (``ray://`` stripped) within
    :data:`CONNECT_TIMEOUT_S`, else UserInputError; ``auto`` is left to Ray."""
    if address == "auto":
        return
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise UserInputError(f"--ray-address '{address}' is not of the form host:port")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UserInputError(f"--ray-address {address}: no Ray cluster answers there "
                             f"({reason})") from None


def worker_environment() -> dict:
    """Environment of Ray's workers: this checkout of pig_control first on their path."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": root if not path else f"{root}{os.pathsep}{path}"}


def connect(fanout: FanOut, num_cpus: int | None = None):
    """The ``ray`` module, initialised for ``fanout`` (an existing connection is reused)."""
    ray = _import_ray()
    if fanout.address is not None:
        check_reachable(fanout.address)
    if ray.is_initialized():
        return ray
    import logging

    options = dict(include_dashboard=False, logging_level=logging.WARNING,
                   runtime_env={"env_vars": worker_environment()})
    if fanout.address is not None:
        try:
            ray.init(address=fanout.address, **options)
        except Exception as error:  # noqa: BLE001 - Ray raises several kinds here
            raise UserInputError(f"--ray-address {fanout.address}: could not join the Ray "
                                 f"cluster ({_one_line(error)}; a cluster with token "
                                 "authentication needs its token in RAY_AUTH_TOKEN)") from None
    else:
        ray.init(address="local", num_cpus=num_cpus, **options)  # never a stray cluster
    return ray


def report_failures(outcomes: dict[str, Outcome]) -> int:
    """One stderr line per failed unit; returns 1 when any failed, else 0."""
    failed = [o for o in outcomes.values() if not o.done]
    for outcome in failed:
        print(f"unit {outcome.key} failed: {outcome.error}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(outcomes)} units failed; rerun the same command to "
              "retry them (finished units are reused)", file=sys.stderr)
    return 1 if failed else 0
