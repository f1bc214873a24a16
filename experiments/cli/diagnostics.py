"""``driftrec bench``, ``driftrec soak`` and ``driftrec portability``: the command lines of
``diagnostics.bench``, ``diagnostics.soak`` and ``online.portability``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from driftrec.experiments.cli.args import add_common, name_list, new_command, positive
from driftrec.experiments.cli.flags import config_flags, config_from_args
from driftrec.experiments.common import io
from driftrec.experiments.diagnostics.bench import BenchConfig
from driftrec.experiments.diagnostics.catalog_geometry import GeometryConfig
from driftrec.experiments.diagnostics.soak import SoakConfig
from driftrec.experiments.online.portability import PORTABILITY_PRESETS, PortabilityConfig


def add_parsers(sub: Any) -> None:
    add_parser(sub)
    add_portability_parser(sub)
    g = new_command(sub, "geometry")
    config_flags(g, GeometryConfig)
    add_common(g, "runs/geometry")

    k = new_command(sub, "soak")
    config_flags(
        k,
        SoakConfig,
        skip=("warmup",),
        defaults={"scenarios": "all"},
        helps={"scenarios": "comma-separated presets or 'all' [all]"},
    )
    add_common(k, "runs/soak")
    add_reproduce_parser(sub)


def add_reproduce_parser(sub: Any) -> None:
    from driftrec.experiments.diagnostics.reproduce import KINDS, MANIFEST

    r = new_command(sub, "reproduce")
    r.add_argument("names", nargs="*", metavar="NAME", help="published runs to run (see --list)")
    r.add_argument("--all", action="store_true", help="every published run (about 3 hours on 2 CPU cores)")
    r.add_argument("--kind", type=name_list, default=[], help=f"comma-separated kinds: {', '.join(KINDS)}")
    r.add_argument("--page", type=name_list, default=[], help="comma-separated pages, e.g. docs/results.md")
    r.add_argument("--list", action="store_true", help="print the selection (every run without one) and exit")
    r.add_argument(
        "--keep-going", action="store_true", help="after a failed run, go on with the runs that do not need it"
    )
    r.add_argument("--manifest", type=Path, default=MANIFEST, help="the manifest [experiments/configs/published.yaml]")
    r.add_argument("--out", type=Path, default=Path("runs/reproduce"), help="output folder [runs/reproduce]")


def add_parser(sub: Any) -> None:
    b = new_command(sub, "bench")
    b.add_argument("--quick", action="store_true", help="a few small points and short timings (a smoke test)")
    kept = ("scenario", "ref_users")  # the grid's other settings: --quick or the full defaults
    config_flags(
        b,
        BenchConfig,
        skip=kept,
        defaults={f.name: None for f in dataclasses.fields(BenchConfig) if f.name not in ("device", *kept)},
        names={"recogym_python": "recogym"},
        helps={
            "users": "N values [1,64,1024,8192]",
            "items": "M values [1000,10000,100000]",
            "dims": "d values [64,384]",
            "reference": "size of the per-user comparisons [1024,10000,64]",
            "min_time": "seconds each timing runs at least [1.0]",
            "ppo_steps": "user-steps of the PPO timing, 0 to skip [262144]",
            "ppo_catalogs": "catalogs of the PPO timings, NAME or NAME:TRANSFORM; the first is the others' speed "
            "reference [synthetic,movielens,movielens:pca:64]",
            "engines": "engines of the grid, the one-user figure and the PPO timings (every grid point also runs "
            "eager; the compiled engine runs on CPU only) [eager,compiled]",
            "recogym_python": "a Python interpreter with recogym 0.1.3.0 installed (its own virtualenv): time "
            "RecoGym's single-user env in the same run, beside driftrec's one-user figure",
            "baseline": "the root of another driftrec checkout (e.g. from `git worktree add ../old main`): time "
            "every point, the one-user figure and PPO with it too, each right after this code's, and print the "
            "speed-ups (a before/after from one run)",
        },
        extra={
            "reference": {"metavar": "N,M,d"},
            "recogym_python": {"metavar": "PYTHON"},
            "baseline": {"metavar": "DIR"},
        },
    )
    add_common(b, "runs/bench")


def add_portability_parser(sub: Any) -> None:
    p = new_command(sub, "portability")
    config_flags(
        p,
        PortabilityConfig,
        skip=("tuning", "items", "dim"),
        defaults={"scenarios": ",".join(PORTABILITY_PRESETS)},
        helps={
            "catalogs": "comma-separated catalogs: synthetic, movielens, courses or CSV/parquet files [all three names]"
        },
    )
    p.add_argument("--tuning-users", type=positive, default=32, help="users per grid point and tuning seed [32]")
    add_common(p, "runs/portability")


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

    cfg = config_from_args(GeometryConfig, args)
    catalog = build_catalog(cfg.catalog, progress=not args.no_progress)
    rep = geometry_report(catalog, cfg.dims, cfg.scenario, cfg.users, cfg.steps)
    print(format_geometry(rep))
    io.write_summary(args.out / "summary.json", rep)
    print(f"\nwrote {args.out}/summary.json")
    return 0


def run_reproduce(args: argparse.Namespace) -> int:
    from driftrec.experiments.cli.args import UserError
    from driftrec.experiments.diagnostics.reproduce import format_list, load_manifest, reproduce, select

    manifest = load_manifest(args.manifest)
    chosen = bool(args.names or args.kind or args.page)
    if args.all and chosen:
        raise UserError("--all runs everything; give it without run names, --kind or --page")
    runs = select(manifest, args.names, args.kind, args.page)
    if args.list:
        print(format_list(runs))
        return 0
    if not (args.all or chosen):
        raise UserError("name the runs to reproduce, or choose them with --kind, --page or --all (see --list)")
    record = reproduce(runs, args.out, keep_going=args.keep_going)
    bad = [r for r in record["runs"] if r["outcome"] != "ok"]
    for r in bad:
        print(f"{r['name']}: {r['outcome']}")
    done = f"{len(runs) - len(bad)} of {len(runs)} runs as published"
    print(f"\n{done}; wrote {args.out}/reproduce.json ({record['wall_s']:.0f}s)")
    return 1 if bad else 0


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    if args.command == "soak":
        return run_soak(args)
    if args.command == "portability":
        return run_portability(args)
    if args.command == "geometry":
        return run_geometry(args)
    if args.command == "reproduce":
        return run_reproduce(args)

    from driftrec.experiments.cli.args import UserError
    from driftrec.experiments.diagnostics.bench import run_bench
    from driftrec.experiments.diagnostics.bench_report import format_bench

    if args.reference is not None and len(args.reference) != 3:
        raise UserError(f"--reference needs N,M,d (3 integers), got {args.reference}")
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(BenchConfig) if hasattr(args, f.name)}
    kw = {k: tuple(v) if k == "reference" else v for k, v in given.items() if v is not None}
    cfg = BenchConfig.quick(**kw) if args.quick else BenchConfig(**kw)
    res = run_bench(cfg, progress=not args.no_progress)
    out: Path = args.out  # written before the table is printed: a long run's figures are kept whatever happens
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
    print(format_bench(res))
    print(f"\nwrote {out}/ summary.json, points.csv ({res.wall_s:.1f}s)")
    return 0


def run_soak(args: argparse.Namespace) -> int:
    import time

    import pandas as pd

    from driftrec.experiments.diagnostics.soak import format_soak, soak
    from driftrec.experiments.diagnostics.timing import machine_info

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
