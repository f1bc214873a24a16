"""The ``driftrec`` command line.

    driftrec quickstart                  all presets, fixed vs oracle vs random, table + plot
    driftrec simulate --scenario abrupt  one or more scenarios, chosen agents, seeds, sizes
    driftrec scenarios                   the presets and their parameters

User errors (bad values, unknown names) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import driftrec
from driftrec.experiments import io
from driftrec.experiments.runner import AGENTS, SimulateConfig, format_table, simulate
from driftrec.simulators.scenarios import PRESETS, make_scenario, override_keys

METRIC = "clicks_per_step: clicks in the k-item slate, averaged over users and steps"


class UserError(Exception):
    """A mistake in the command's input: reported in one line, exit status 2."""


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from exc


def _float_list(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from exc


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from exc
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--set expects KEY=VALUE, got {pair!r}")
        key, raw = pair.split("=", 1)
        key = key.strip()
        if key not in override_keys():
            raise UserError(
                f"unknown scenario parameter {key!r} in --set; allowed: {', '.join(sorted(override_keys()))}"
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _scenarios(text: str) -> list[str]:
    names = list(PRESETS) if text == "all" else _names(text)
    for n in names:
        if n not in PRESETS:
            raise UserError(f"unknown scenario {n!r}; known scenarios: {', '.join(PRESETS)} (or 'all')")
    return names


def _add_common(p: argparse.ArgumentParser, out_default: str) -> None:
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda when available) [auto]")
    p.add_argument("--out", type=Path, default=Path(out_default), help=f"output folder [{out_default}]")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _add_sim_args(p: argparse.ArgumentParser, *, users: int, steps: int, seeds: str) -> None:
    p.add_argument(
        "--agents",
        type=_names,
        default=list(AGENTS),
        help="comma-separated agents [fixed,oracle,random]: " + "; ".join(f"{k}: {v}" for k, v in AGENTS.items()),
    )
    p.add_argument("--users", type=_positive, default=users, help=f"users simulated at once, N [{users}]")
    p.add_argument("--steps", type=_positive, default=steps, help=f"steps per run, T [{steps}]")
    p.add_argument("--seeds", type=_int_list, default=_int_list(seeds), help=f"comma-separated seeds [{seeds}]")
    p.add_argument("--items", type=_positive, default=1000, help="items in the synthetic catalog, M [1000]")
    p.add_argument("--dim", type=_positive, default=64, help="embedding dimension of the synthetic catalog [64]")
    p.add_argument(
        "--fixed-weights",
        type=_float_list,
        default=[0.3, 0.7, 0.05],
        metavar="A,M,E",
        help="alpha, mix (lambda) and explore of the fixed baseline [0.3,0.7,0.05]",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario parameter for every scenario (repeatable), e.g. --set shift_hazard=0.05",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftrec",
        description="Simulate recommender users whose interests drift, and compare how recommenders weight "
        "new evidence. Every run writes config.json, summary.json, per-run CSV rows and plots to --out.",
    )
    parser.add_argument("--version", action="version", version=f"driftrec {driftrec.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    q = sub.add_parser(
        "quickstart",
        help="run the embedded default: every preset, fixed vs oracle vs random",
        description="Run fixed weights, the oracle and a random recommender on every scenario preset "
        "(synthetic catalog, hashing encoder: no model or download needed), print the "
        "table and write results and a plot to --out.",
    )
    _add_common(q, "runs/quickstart")
    _add_sim_args(q, users=256, steps=200, seeds="1,2,3")

    s = sub.add_parser(
        "simulate",
        help="run agents on scenarios over seeds; table, summary.json, CSV, plot",
        description="Run each agent on each scenario for each seed with common random numbers, "
        "print mean clicks per step with 95%% CIs over seeds, and write config.json, "
        "summary.json (results[scenario][agent] = {mean, ci95, n_seeds, per_seed}), "
        "runs.csv, curves.csv and clicks_over_time.png to --out.",
    )
    s.add_argument(
        "--scenario", default="abrupt", help=f"comma-separated presets or 'all': {', '.join(PRESETS)} [abrupt]"
    )
    _add_common(s, "runs/simulate")
    _add_sim_args(s, users=256, steps=200, seeds="1,2,3")

    sc = sub.add_parser(
        "scenarios",
        help="list the scenario presets and their parameters",
        description="List the scenario presets with a description each; --json prints every parameter.",
    )
    sc.add_argument("--json", action="store_true", help="print every preset's full parameters as JSON")
    return parser


def _run_simulate(args: argparse.Namespace, scenarios: list[str], command: str) -> int:
    cfg = SimulateConfig(
        scenarios=scenarios,
        agents=args.agents,
        users=args.users,
        steps=args.steps,
        seeds=args.seeds,
        items=args.items,
        dim=args.dim,
        device=args.device,
        fixed_weights=tuple(args.fixed_weights),
        overrides=_parse_sets(args.set),
    )
    start = time.perf_counter()
    res = simulate(cfg, progress=not args.no_progress)
    out: Path = args.out
    config = {
        "command": command,
        "driftrec_version": driftrec.__version__,
        "config": cfg.to_dict(),
        "scenarios": {s: make_scenario(s, **cfg.overrides).to_dict() for s in scenarios},
        "catalog": res.catalog,
    }
    io.write_json(out / "config.json", config)
    io.write_csv(out / "runs.csv", res.runs)
    io.write_csv(out / "curves.csv", res.curves)
    from driftrec.experiments.plots import plot_clicks_over_time

    plot_clicks_over_time(res.curves, out / "clicks_over_time.png")
    io.write_json(
        out / "summary.json",
        {"command": command, "metric": METRIC, "results": res.results, "wall_s": round(time.perf_counter() - start, 2)},
    )
    print(format_table(res.results))
    print(
        f"\nwrote {out}/summary.json, runs.csv, curves.csv, config.json, clicks_over_time.png "
        f"({time.perf_counter() - start:.1f}s)"
    )
    return 0


def _run_scenarios(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({n: s.to_dict() for n, s in PRESETS.items()}, indent=2))
        return 0
    width = max(len(n) for n in PRESETS)
    for name, s in PRESETS.items():
        print(f"{name.ljust(width)}  {s.description}")
    print("\nOverride any parameter with --set KEY=VALUE; see `driftrec scenarios --json` for all of them.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "quickstart":
            return _run_simulate(args, list(PRESETS), "quickstart")
        if args.command == "simulate":
            return _run_simulate(args, _scenarios(args.scenario), "simulate")
        if args.command == "scenarios":
            return _run_scenarios(args)
        parser.error(f"unknown command {args.command!r}")
    except (UserError, ValueError, TypeError) as exc:
        if os.environ.get("DRIFTREC_DEBUG"):
            raise
        print(f"driftrec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
