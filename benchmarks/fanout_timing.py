"""Serial against Ray on one small sweep, and the same sweep on a two-node Ray cluster started
on this machine: wall-clock times, whether the episodes are the serial ones, and which nodes
ran the units.

    python benchmarks/fanout_timing.py [--episodes 8] [--block-size 2]
        [--out benchmarks/results/fanout_timing.json]

The sweep is ``python -m pig_control.mpc --env spring --model oracle --episodes 8
--block-size 2`` (four units of two episodes). It runs three times, back to back: serially
(in-process), with ``--ray`` (a local Ray started by the command: its start-up is in the time),
and with ``--ray-address`` on a cluster of two nodes made here with ``ray start --head
--num-cpus 1`` and ``ray start --address ... --num-cpus 1`` (each node takes one unit at a
time; the cluster's start is not in the time; Ray's token authentication is off for this
cluster, which lives only for the measurement). Each node is its own ``ray start --block``
process, stopped at the end by its process id. The unit files the cluster run keeps record
the node of every unit. Wall-clock figures on a shared machine are noisy: the JSON records
the load average before and after.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control.cli import (  # noqa: E402
    add_overwrite_option,
    check_output,
    make_parser,
    run_main,
    write_json,
)
from pig_control.provenance import add_allow_dirty, provenance, require_clean_tree  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def timed(command: list[str], env: dict | None = None) -> tuple[float, str]:
    """Seconds a command took (it must succeed) and its last output line."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()[-2000:]}")
    return seconds, done.stdout.strip().splitlines()[-1]


def episodes(path: Path) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "ms_per_step"}
            for e in json.loads(path.read_text())["episodes"]]


def wait_for_nodes(address: str, count: int, env: dict, timeout: float = 180.0) -> None:
    """Until the cluster at ``address`` has ``count`` live nodes."""
    probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
             "print(sum(n['Alive'] for n in ray.nodes()))")
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = subprocess.run([sys.executable, "-c", probe, address], capture_output=True,
                              text=True, env=env)
        lines = done.stdout.strip().splitlines()
        if lines and lines[-1].isdigit() and int(lines[-1]) >= count:
            return
        time.sleep(3)
    raise RuntimeError(f"the cluster at {address} did not reach {count} nodes")


def main(argv=None) -> int:
    parser = make_parser("benchmarks/fanout_timing.py", __doc__.splitlines()[0])
    parser.prog = "python benchmarks/fanout_timing.py"
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--block-size", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" /
                                             "fanout_timing.json"))
    add_overwrite_option(parser)
    add_allow_dirty(parser)
    args = parser.parse_args(argv)
    check_output(args.out, args.overwrite)
    git = require_clean_tree(args.allow_dirty)
    work = Path(tempfile.mkdtemp(prefix="fanout_timing_"))
    # the cluster lives on this machine for the length of the measurement: no auth token
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "disabled"}
    mpc = [sys.executable, "-m", "pig_control.mpc", "--env", "spring", "--model", "oracle",
           "--episodes", str(args.episodes), "--block-size", str(args.block_size), "--quiet"]
    load_before = os.getloadavg()
    runs = {}
    serial_s, line = timed([*mpc, "--json", str(work / "serial.json")], env)
    runs["serial"] = {"seconds": round(serial_s, 1), "summary": line,
                      "command": "python " + " ".join(mpc[1:]) + " --json serial.json"}
    print(f"serial: {serial_s:.1f} s", flush=True)
    ray_s, line = timed([*mpc, "--ray", "--json", str(work / "ray.json")], env)
    print(f"local ray: {ray_s:.1f} s", flush=True)
    runs["local_ray"] = {"seconds": round(ray_s, 1), "summary": line,
                         "command": "python " + " ".join(mpc[1:]) + " --ray --json ray.json",
                         "same_episodes_as_serial":
                             episodes(work / "ray.json") == episodes(work / "serial.json")}
    port = free_port()
    address = f"127.0.0.1:{port}"
    ray_bin = str(Path(sys.executable).parent / "ray")
    head_cmd = [ray_bin, "start", "--head", "--num-cpus", "1", "--port", str(port),
                "--include-dashboard", "false", "--temp-dir", str(work / "ray"), "--block"]
    worker_cmd = [ray_bin, "start", "--address", address, "--num-cpus", "1", "--block"]
    nodes = []
    try:
        nodes.append(subprocess.Popen(head_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
        wait_for_nodes(address, 1, env)
        nodes.append(subprocess.Popen(worker_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
        wait_for_nodes(address, 2, env)
        units = work / "cluster_units"
        cluster_s, line = timed([*mpc, "--ray-address", address, "--units-dir", str(units),
                                 "--json", str(work / "cluster.json")], env)
    finally:
        for node in reversed(nodes):  # each `ray start --block` stops its own processes
            os.killpg(node.pid, signal.SIGTERM)
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
    unit_nodes = {p.stem: json.loads(p.read_text())["node"] for p in sorted(units.iterdir())}
    runs["two_node_cluster"] = {
        "seconds": round(cluster_s, 1), "summary": line,
        "cluster": ["RAY_AUTH_MODE=disabled ray " + " ".join(head_cmd[1:]),
                    "RAY_AUTH_MODE=disabled ray " + " ".join(worker_cmd[1:])],
        "command": "python " + " ".join(mpc[1:]) + f" --ray-address {address} --units-dir units "
                   "--json cluster.json",
        "same_episodes_as_serial":
            episodes(work / "cluster.json") == episodes(work / "serial.json"),
        "unit_nodes": unit_nodes, "distinct_nodes": len(set(unit_nodes.values()))}
    payload = {"provenance": provenance("benchmarks/fanout_timing.py", argv,
                                        allow_dirty=args.allow_dirty, git=git),
               "load_average_before": [round(x, 2) for x in load_before],
               "load_average_after": [round(x, 2) for x in os.getloadavg()],
               "speedup_local_ray": round(serial_s / ray_s, 2),
               "speedup_two_node_cluster": round(serial_s / cluster_s, 2), "runs": runs}
    write_json(args.out, payload, overwrite=args.overwrite)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: payload[k] for k in ("speedup_local_ray", "speedup_two_node_cluster",
                                              "load_average_before")}))
    for name, run in runs.items():
        print(name, run["seconds"], "s", {k: v for k, v in run.items()
                                          if k in ("same_episodes_as_serial", "distinct_nodes")})
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
