"""``driftrec bench``: the command line of ``experiments.bench``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from driftrec.experiments import io
from driftrec.experiments.cliargs import int_list


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
