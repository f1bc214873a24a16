"""``driftrec bench`` and ``driftrec soak``: the command lines of ``experiments.bench`` and ``experiments.soak``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from driftrec.experiments import io
from driftrec.experiments.cliargs import int_list, positive, scenario_list


def add_parsers(sub: Any) -> None:
    add_parser(sub)
    k = sub.add_parser(
        "soak",
        help="long run of every preset checking invariants (no NaN, unit norms, simplex) and memory",
        description="Run --user-steps user-steps of every preset (batched, --users users, random weights each "
        "step) and check the state every --check-every steps: no NaN or infinity, unit vectors (facets, "
        "mission topics, intents, profiles) with norm 1 within --tolerance, facet weights on the simplex, "
        "fatigue norms at most 1. Reports resident memory after a warm-up and at the end. Prints a table, "
        "writes summary.json and soak.csv to --out; exits 1 if any preset fails a check.",
    )
    k.add_argument("--scenario", default="all", help="comma-separated presets or 'all' [all]")
    k.add_argument("--user-steps", type=positive, default=1_000_000, help="user-steps per preset [1000000]")
    k.add_argument("--users", type=positive, default=1024, help="users simulated at once [1024]")
    k.add_argument("--items", type=positive, default=1000, help="items in the synthetic catalog [1000]")
    k.add_argument("--dim", type=positive, default=64, help="embedding dimension [64]")
    k.add_argument("--check-every", type=positive, default=10, help="steps between state checks [10]")
    k.add_argument("--tolerance", type=float, default=1e-4, help="allowed | norm - 1 | of unit vectors [1e-4]")
    k.add_argument("--seed", type=int, default=0, help="seed of the users and the random weights [0]")
    k.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto [cpu]")
    k.add_argument("--out", type=Path, default=Path("runs/soak"), help="output folder [runs/soak]")
    k.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_parser(sub: Any) -> None:
    b = sub.add_parser(
        "bench",
        help="benchmarks: env throughput, step cost vs the scoring kernel, per-user references, memory, PPO split",
        description="Measure, in one run: user-steps per second of the batched env (scenario mixed, every "
        "dynamic on) for each N x M x d of the grid, each point in a fresh process with its peak memory; "
        "one env step divided by the bare scoring kernel (the (N, d) x (d, M) product plus top-k); at the "
        "reference size, the same dynamics stepped one user at a time in a Python loop and gymnasium's "
        "SyncVectorEnv of single-user envs, as ratios; and the env's share of a PPO training run with the "
        "headline's settings. Prints a table and writes summary.json and points.csv to --out. The full "
        "grid takes about 10 minutes on 2 CPU cores; --quick runs a few small points in seconds.",
    )
    b.add_argument("--quick", action="store_true", help="a few small points and short timings (a smoke test)")
    b.add_argument("--users", type=int_list, default=None, help="N values [1,64,1024,8192]")
    b.add_argument("--items", type=int_list, default=None, help="M values [1000,10000,100000]")
    b.add_argument("--dims", type=int_list, default=None, help="d values [64,384]")
    b.add_argument(
        "--reference",
        type=int_list,
        default=None,
        metavar="N,M,d",
        help="size of the per-user comparisons [1024,10000,64]",
    )
    b.add_argument("--min-time", type=float, default=None, help="seconds each timing runs at least [1.0]")
    b.add_argument("--ppo-steps", type=int, default=None, help="user-steps of the PPO timing, 0 to skip [262144]")
    b.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto [cpu]")
    b.add_argument("--out", type=Path, default=Path("runs/bench"), help="output folder [runs/bench]")
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    if args.command == "soak":
        return run_soak(args)

    from driftrec.experiments.bench import BenchConfig, format_bench, run_bench
    from driftrec.experiments.cliargs import UserError

    kw: dict[str, Any] = {"device": args.device}
    for key in ("users", "items", "dims", "min_time", "ppo_steps"):
        if getattr(args, key) is not None:
            kw[key] = getattr(args, key)
    if args.reference is not None:
        if len(args.reference) != 3:
            raise UserError(f"--reference needs N,M,d (3 integers), got {args.reference}")
        kw["reference"] = tuple(args.reference)
    cfg = BenchConfig.quick(**kw) if args.quick else BenchConfig(**kw)
    res = run_bench(cfg, progress=not args.no_progress)
    print(format_bench(res))
    out: Path = args.out
    io.write_csv(out / "points.csv", pd.DataFrame(res.points))
    io.write_json(
        out / "summary.json",
        {
            "config": res.config,
            "machine": res.machine,
            "points": res.points,
            "reference": res.reference,
            "ppo": res.ppo,
            "wall_s": round(res.wall_s, 2),
        },
    )
    print(f"\nwrote {out}/ summary.json, points.csv ({res.wall_s:.1f}s)")
    return 0


def run_soak(args: argparse.Namespace) -> int:
    import time

    import pandas as pd

    from driftrec.experiments.bench import machine_info
    from driftrec.experiments.soak import SoakConfig, format_soak, soak

    cfg = SoakConfig(
        scenarios=scenario_list(args.scenario),
        user_steps=args.user_steps,
        users=args.users,
        items=args.items,
        dim=args.dim,
        check_every=args.check_every,
        tolerance=args.tolerance,
        seed=args.seed,
        device=args.device,
    )
    start = time.perf_counter()
    rows = soak(cfg, progress=not args.no_progress)
    print(format_soak(rows))
    out: Path = args.out
    io.write_csv(out / "soak.csv", pd.DataFrame(rows))
    summary = {"config": {**vars(cfg), "steps": cfg.steps}, "machine": machine_info(args.device), "presets": rows}
    summary["ok"] = all(r["ok"] for r in rows)
    summary["wall_s"] = round(time.perf_counter() - start, 2)
    io.write_json(out / "summary.json", summary)
    print(f"\nwrote {out}/ summary.json, soak.csv ({summary['wall_s']:.1f}s)")
    if not summary["ok"]:
        bad = ", ".join(r["scenario"] for r in rows if not r["ok"])
        print(f"driftrec soak: FAILED checks on {bad}")
        return 1
    return 0
