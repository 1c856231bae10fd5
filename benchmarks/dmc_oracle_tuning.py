"""Choose the DMC oracle's planner on tuning seeds: each configuration runs the oracle of
``python -m pig_control.mpc --env dm_control/... --model oracle`` over the same few episodes
(seeds ``--seed`` ...; tuning seeds are below 10**6, reported figures use seeds from 10**6 on)
and records mean return and median planning milliseconds per control step.

    python benchmarks/dmc_oracle_tuning.py --env dm_control/pendulum-swingup-v0 --episodes 2 \\
        --out benchmarks/tuning/dmc_oracle_tuning_pendulum.json

A configuration is ``PLANNER:HORIZON:REPEAT[:SUBSTEPS][:key=value,...]``; a key ``cost.NAME``
sets a cost weight (e.g. ``cost.energy_weight=1``), any other key a planner option. The
defaults below are the ones compared in docs/dmc.md. Results are written after every
configuration (an existing file is refused unless ``--overwrite``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import yaml

DEFAULT_CONFIGS = [
    "gn:40:2", "gn:25:2", "gn:40:2:1", "gn:20:4", "icem:40:2", "mppi:40:2",
    "cem:40:2:2:population=400,elites=40,iterations=4",
]
TUNING_LIMIT = 10 ** 6


def parse_config(text: str) -> dict:
    """``gn:40:2:1:samples=16,cost.energy_weight=1`` -> planner, horizon, action_repeat,
    substeps, planner options, cost options."""
    parts = text.split(":")
    if len(parts) < 3:
        raise ValueError(f"configuration '{text}' is not PLANNER:HORIZON:REPEAT[...]")
    config = {"planner": parts[0], "horizon": int(parts[1]), "action_repeat": int(parts[2]),
              "substeps": None, "planner_options": {}, "cost_options": {}}
    for part in parts[3:]:
        if "=" in part:
            for item in part.split(","):
                key, value = item.split("=", 1)
                if key.startswith("cost."):
                    config["cost_options"][key[len("cost."):]] = yaml.safe_load(value)
                else:
                    config["planner_options"][key] = yaml.safe_load(value)
        else:
            config["substeps"] = int(part)
    return config


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from pig_control.cli import write_json
    from pig_control.control import dmc_oracle
    from pig_control.provenance import benchmark_provenance, parse_benchmark_args

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dm_control/pendulum-swingup-v0")
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", action="append", default=None,
                        help="PLANNER:HORIZON:REPEAT[:SUBSTEPS][:key=value,...] (repeatable)")
    parser.add_argument("--out", default=None, metavar="F.json")
    args = parse_benchmark_args(parser, argv, __file__)
    if args.seed + args.episodes > TUNING_LIMIT:
        parser.error(f"tuning seeds must stay below {TUNING_LIMIT}")
    report = {"provenance": benchmark_provenance(args), "env": args.env,
              "seeds": list(range(args.seed, args.seed + args.episodes)), "results": []}
    for text in args.config or DEFAULT_CONFIGS:
        config = parse_config(text)
        started = time.perf_counter()
        env, oracle, truth, described = dmc_oracle.build(
            args.env, action_repeat=config["action_repeat"], substeps=config["substeps"],
            planner=config["planner"], horizon=config["horizon"],
            planner_options=config["planner_options"], cost_options=config["cost_options"])
        try:
            episodes = dmc_oracle.run_episodes(env, oracle, args.episodes, args.seed)
        finally:
            env.close()
        row = {"config": text, **config, "substeps": described["substeps"],
               "cost_options_used": oracle.cost_options, **dmc_oracle.summary(episodes),
               "returns": [round(e["return"], 1) for e in episodes],
               "seconds": round(time.perf_counter() - started, 1)}
        report["results"].append(row)
        print(f"{text:<50} return {row['mean_return']:7.1f} {row['returns']} "
              f"{row['ms_per_step']:6.1f} ms/step", flush=True)
        if args.out:  # refused above unless new or --overwrite; now updated in place
            write_json(args.out, report, overwrite=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
