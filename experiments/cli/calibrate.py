"""``driftrec calibrate``: measure real interest drift and fit the simulator to it (``online.calibrate``)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from driftrec.experiments.cli.args import UserError, add_common, new_command
from driftrec.experiments.cli.flags import SHARED_HELP, config_flags, config_from_args
from driftrec.experiments.common import io
from driftrec.experiments.online.calibrate import CalibrateConfig


def add_parser(sub: Any) -> None:
    """calibrate's parser, on the subparsers ``sub``."""
    c = new_command(sub, "calibrate")
    config_flags(
        c,
        CalibrateConfig,
        skip=("base",),
        names={"drift_scale": "drift", "shift_hazard": "shift"},
        aliases={"timelines": ["--dataset"]},
    )
    c.add_argument(
        "--columns",
        default=None,
        metavar="FIELD=COLUMN,...",
        help="the log's columns for user, item, timestamp and optionally rating "
        "[user=user,item=item,timestamp=timestamp]",
    )
    c.add_argument(
        "--min-rating", type=float, default=None, help="keep only events rated at or above this [every event]"
    )
    c.add_argument(
        "--catalog",
        default=None,
        help="the items: movielens, or a catalog file (id and text columns, or an embedding column) whose ids "
        "are the log's items [movielens; required with a log]",
    )
    c.add_argument("--transform", default="centre", help=SHARED_HELP["transform"] + " [centre]")
    c.add_argument(
        "--population",
        choices=("auto", "items"),
        default="auto",
        help="where simulated users start: auto (the real users' first 10 items: MovieLens' histories or the "
        "log's) or items (near random items) [auto]",
    )
    add_common(c, "runs/calibrate")


def run(args: argparse.Namespace) -> int:
    from driftrec.envs import resolve_device
    from driftrec.experiments.offline.interactions import parse_columns, read_interactions
    from driftrec.experiments.online.calibrate import calibrate, format_calibration, plot_calibration, scenario_name
    from driftrec.simulators.data import load_catalog, load_movielens, load_population
    from driftrec.simulators.population import Population

    cfg = config_from_args(CalibrateConfig, args, device=str(resolve_device(args.device)))
    start = time.perf_counter()
    if cfg.timelines == "movielens":
        if args.columns is not None:
            raise UserError("--columns maps the columns of a timelines file; MovieLens needs none")
        catalog = load_catalog(args.catalog or "movielens", progress=not args.no_progress, transform=args.transform)
        population = load_population("movielens" if args.population == "auto" else "items", catalog)
        events = load_movielens()
        if args.min_rating is not None:
            events = events[events.rating >= args.min_rating]
    else:
        if args.catalog is None:
            raise UserError("--timelines FILE needs --catalog: the catalog file whose ids are the log's items")
        catalog = load_catalog(args.catalog, progress=not args.no_progress, transform=args.transform)
        events = read_interactions(cfg.timelines, catalog, parse_columns(args.columns), args.min_rating)
        histories = {u: g.tolist() for u, g in events.groupby("user", sort=True)["item"]}
        population = Population.from_histories(catalog, histories) if args.population == "auto" else None
    res = calibrate(cfg, catalog, population, events, progress=not args.no_progress)
    out: Path = args.out
    plot_calibration(
        res.pop("_real"),
        res.pop("_sim"),
        str(out / "calibration.png"),
        cfg.block,
        res["random_sequences_lag_cos"],
        "MovieLens" if cfg.timelines == "movielens" else scenario_name(cfg.timelines),
    )
    io.write_csv(out / "grid.csv", res.pop("_grid"))
    res["catalog"] = {**catalog.meta, "num_items": catalog.num_items, "dim": catalog.dim}
    res["wall_s"] = round(time.perf_counter() - start, 2)
    scenario_file = f"{scenario_name(cfg.timelines)}_scenario.json"
    io.write_json(out / scenario_file, res["scenario"])
    io.write_summary(out / "summary.json", res)
    print(format_calibration(res))
    print(f"\nwrote {out}/summary.json, grid.csv, {scenario_file}, calibration.png ({res['wall_s']:.1f}s)")
    return 0
