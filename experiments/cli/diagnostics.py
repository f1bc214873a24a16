"""``driftrec bench``, ``driftrec soak`` and ``driftrec portability``: the command lines of
``diagnostics.bench``, ``diagnostics.soak`` and ``online.portability``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from driftrec.experiments.cli.args import (
    add_device_arg,
    int_list,
    name_list,
    positive,
    scenario_list,
)
from driftrec.experiments.cli.flags import AUTO, config_flags, config_from_args
from driftrec.experiments.common import io
from driftrec.experiments.diagnostics.soak import SoakConfig
from driftrec.experiments.online.portability import PORTABILITY_PRESETS, PortabilityConfig


def add_parsers(sub: Any) -> None:
    add_parser(sub)
    add_portability_parser(sub)
    g = sub.add_parser(
        "geometry",
        help="a catalog's geometry raw and centred, and reduced dimensions: fidelity and speed-up",
        description="For one catalog: the raw vectors' mean norm and random-pair cosines, the same after "
        "centring, and its 10th-neighbour cosine (the catalog utility unit); then for each pca:D of --dims: "
        "the variance kept, the share of each item's top-10 neighbours kept (against the centred full "
        "dimension), and the env's user-steps per second against the full dimension. Writes "
        "summary.json to --out.",
    )
    g.add_argument("--catalog", default="movielens", help="movielens, courses, synthetic or a file [movielens]")
    g.add_argument("--dims", type=int_list, default=[32, 64, 128], help="reduced dimensions [32,64,128]")
    g.add_argument("--scenario", default="mixed", help="preset timed [mixed]")
    g.add_argument("--users", type=positive, default=1024, help="users of the throughput runs [1024]")
    g.add_argument("--steps", type=positive, default=20, help="steps timed per run [20]")
    g.add_argument("--out", type=Path, default=Path("runs/geometry"), help="output folder [runs/geometry]")
    g.add_argument("--no-progress", action="store_true", help="hide the encoder's progress bar")

    k = sub.add_parser(
        "soak",
        help="long run of every preset checking invariants (no NaN, unit norms, simplex) and memory",
        description="Run --user-steps user-steps of every preset (batched, --users users, random weights each "
        "step) and check the state every --check-every steps: no NaN or infinity, unit vectors (facets, "
        "mission topics, intents, profiles) with norm 1 within --tolerance, facet weights on the simplex, "
        "fatigue norms at most 1. Reports resident memory after a warm-up and at the end. Prints a table, "
        "writes summary.json and soak.csv to --out; exits 1 if any preset fails a check.",
    )
    config_flags(
        k,
        SoakConfig,
        skip=("warmup",),
        defaults={"scenarios": "all"} | AUTO,
        names={"scenarios": "scenario"},
        parsers={"scenarios": scenario_list},
        helps={"scenarios": "comma-separated presets or 'all' [all]"},
    )
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
        "SyncVectorEnv of single-user envs, as ratios; one user's steps per second in the standard "
        "gymnasium.make env (and RecoGym's, with --recogym); and the env's share of a PPO training run with the "
        "headline's settings. Prints a table and writes summary.json and points.csv to --out. The full "
        "run takes about 4 minutes on 2 CPU cores; --quick runs a few small points in seconds.",
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
    b.add_argument(
        "--ppo-catalogs",
        type=name_list,
        default=None,
        help="catalogs of the PPO timings, NAME or NAME:TRANSFORM; the first is the others' speed reference "
        "[synthetic,movielens,movielens:pca:64]",
    )
    add_device_arg(b)
    b.add_argument(
        "--recogym",
        metavar="PYTHON",
        default=None,
        help="a Python interpreter with recogym 0.1.3.0 installed (its own virtualenv): time RecoGym's "
        "single-user env in the same run, beside driftrec's one-user figure",
    )
    b.add_argument("--out", type=Path, default=Path("runs/bench"), help="output folder [runs/bench]")
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_portability_parser(sub: Any) -> None:
    p = sub.add_parser(
        "portability",
        help="do the presets mean the same on every catalog? random and tuned-constant shares of the oracle",
        description="For each catalog and preset: grid-tune the fixed weights (best-fixed) on the tuning "
        "seeds, then run best-fixed, the oracle and random slates on the same users of held-out seeds. "
        "Prints, per preset and catalog, clicks per step and the shares of the oracle that best-fixed and "
        "random reach (95% intervals over seeds), whether oracle > best-fixed > random with separated "
        "intervals, and per preset whether the shares differ by at most --tolerance between any two "
        "catalogs. Writes summary.json, portability.csv and portability.png to --out; exits 1 when a "
        "check fails. Default: synthetic, MovieLens and courses, about 6 to 11 minutes on 2 CPU cores "
        "after the first encoding.",
    )
    config_flags(
        p,
        PortabilityConfig,
        skip=("tuning", "items", "dim"),
        defaults={"scenarios": ",".join(PORTABILITY_PRESETS)} | AUTO,
        names={"scenarios": "scenario"},
        parsers={"scenarios": scenario_list},
        helps={
            "catalogs": "comma-separated catalogs: synthetic, movielens, courses or CSV/parquet files [all three names]"
        },
    )
    p.add_argument("--tuning-users", type=positive, default=32, help="users per grid point and tuning seed [32]")
    p.add_argument("--out", type=Path, default=Path("runs/portability"), help="output folder [runs/portability]")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run_portability(args: argparse.Namespace) -> int:
    from driftrec.experiments.common.plots import plot_portability
    from driftrec.experiments.online.compare import TuningConfig
    from driftrec.experiments.online.portability import format_portability, portability

    cfg = config_from_args(PortabilityConfig, args, tuning=TuningConfig(users=args.tuning_users, steps=args.steps))
    res = portability(cfg, progress=not args.no_progress, log=print)
    print(format_portability(res))
    out: Path = args.out
    io.write_csv(out / "portability.csv", res.rows)
    io.write_summary(out / "summary.json", res.summary())
    plot_portability(res.rows, out / "portability.png")
    print(f"\nwrote {out}/ summary.json, portability.csv, portability.png ({res.wall_s:.1f}s)")
    return 0 if res.passed else 1


def run_geometry(args: argparse.Namespace) -> int:
    from driftrec.experiments.diagnostics.catalog_geometry import format_geometry, geometry_report
    from driftrec.experiments.online.runner import build_catalog

    catalog = build_catalog(args.catalog, progress=not args.no_progress)
    rep = geometry_report(catalog, args.dims, args.scenario, args.users, args.steps)
    print(format_geometry(rep))
    io.write_summary(args.out / "summary.json", rep)
    print(f"\nwrote {args.out}/summary.json")
    return 0


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    if args.command == "soak":
        return run_soak(args)
    if args.command == "portability":
        return run_portability(args)
    if args.command == "geometry":
        return run_geometry(args)

    from driftrec.experiments.cli.args import UserError
    from driftrec.experiments.diagnostics.bench import BenchConfig, format_bench, run_bench

    kw: dict[str, Any] = {"device": args.device, "recogym_python": args.recogym}
    for key in ("users", "items", "dims", "min_time", "ppo_steps", "ppo_catalogs"):
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
    io.write_summary(
        out / "summary.json",
        {
            "config": res.config,
            "machine": res.machine,
            "points": res.points,
            "reference": res.reference,
            "ppo": res.ppo,
            "single": res.single,
            "wall_s": round(res.wall_s, 2),
        },
    )
    print(f"\nwrote {out}/ summary.json, points.csv ({res.wall_s:.1f}s)")
    return 0


def run_soak(args: argparse.Namespace) -> int:
    import time

    import pandas as pd

    from driftrec.experiments.diagnostics.bench import machine_info
    from driftrec.experiments.diagnostics.soak import format_soak, soak

    cfg = config_from_args(SoakConfig, args)
    start = time.perf_counter()
    rows = soak(cfg, progress=not args.no_progress)
    print(format_soak(rows))
    out: Path = args.out
    io.write_csv(out / "soak.csv", pd.DataFrame(rows))
    summary = {"config": {**vars(cfg), "steps": cfg.steps}, "machine": machine_info(args.device), "presets": rows}
    summary["ok"] = all(r["ok"] for r in rows)
    summary["wall_s"] = round(time.perf_counter() - start, 2)
    io.write_summary(out / "summary.json", summary)
    print(f"\nwrote {out}/ summary.json, soak.csv ({summary['wall_s']:.1f}s)")
    if not summary["ok"]:
        bad = ", ".join(r["scenario"] for r in rows if not r["ok"])
        print(f"driftrec soak: FAILED checks on {bad}")
        return 1
    return 0
