"""The ``driftrec`` command line.

    driftrec quickstart                  train a small PPO policy and compare it with fixed weights
    driftrec simulate --scenario abrupt  one or more scenarios, chosen agents, seeds, sizes
    driftrec train --scenario abrupt     train a PPO weight policy (checkpoints, resume, TensorBoard)
    driftrec compare --config FILE       paired comparison: tuned fixed weights, rules, bandits, PPO
    driftrec log --out FILE.parquet      trajectory log: one row per shown item, with propensities
    driftrec ope --logs FILE --policy P  off-policy estimates with intervals (--validate: vs the simulator)
    driftrec replay --dataset movielens  weighting strategies over real MovieLens timelines
    driftrec bench                       speed: throughput, step vs kernel, per-user references, PPO split
    driftrec soak                        long run of every preset: invariants (NaN, norms) and memory
    driftrec calibrate                   fit drift to real MovieLens timelines
    driftrec scenarios                   the presets and their parameters

User errors (bad values, unknown names) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, NoReturn

import driftrec
from driftrec.agents.ppo import PPO_DEFAULTS
from driftrec.agents.registry import agent_descriptions
from driftrec.encoders import ModelUnavailableError
from driftrec.experiments.cli import diagnostics as cli_bench
from driftrec.experiments.cli import offline as cli_offline
from driftrec.experiments.cli.args import (
    UserError,
    add_backend_args,
    add_common,
    add_flag_config,
    add_transform_arg,
    agent_help,
    backend_from_args,
    check_out,
    expand_flag_config,
    int_list,
    parse_sets,
    positive,
    scenario_list,
)
from driftrec.experiments.cli.flags import AUTO, SHARED_HELP, config_flags, config_from_args
from driftrec.experiments.common import io
from driftrec.experiments.online.calibrate import CalibrateConfig
from driftrec.experiments.online.compare import CompareConfig, compare_agents
from driftrec.experiments.online.runner import (
    SimulateConfig,
    format_metrics_table,
    format_table,
    simulate,
    text_table,
)
from driftrec.experiments.online.train import TrainConfig
from driftrec.experiments.sweeps.outlock import hold
from driftrec.simulators.scenarios import PRESETS, make_scenario

METRIC = "clicks_per_step: clicks in the k-item slate, averaged over users and steps"


def _add_simulate_flags(p: argparse.ArgumentParser) -> None:
    """simulate's flags: ``SimulateConfig``'s fields."""
    config_flags(
        p,
        SimulateConfig,
        defaults={"scenarios": "abrupt", "agents": ["fixed", "oracle", "random"], "catalog": "movielens"} | AUTO,
        names={"scenarios": "scenario"},
        parsers={"scenarios": scenario_list},
        helps={
            "scenarios": f"comma-separated presets, 'all', or scenario .json files (as calibrate writes): "
            f"{', '.join(PRESETS)} [abrupt]",
            "agents": "comma-separated agents: " + agent_help(agent_descriptions()),
        },
        extra={"fixed_weights": {"metavar": "A,M,E"}},
    )


def _add_compare_flags(p: argparse.ArgumentParser) -> None:
    """Flags that override a compare config (None: keep the config's value): ``CompareConfig``'s
    fields, and three of its ``tuning`` and ``ppo``."""
    config_flags(
        p,
        CompareConfig,
        skip=("items", "dim", "tuning", "ppo"),
        defaults={f.name: None for f in dataclasses.fields(CompareConfig)} | AUTO,
        names={"scenarios": "scenario"},
        parsers={"scenarios": scenario_list},
        helps={
            "scenarios": f"comma-separated presets or 'all': {', '.join(PRESETS)}",
            "agents": "comma-separated agents (best-fixed is always run): " + agent_help(compare_agents()),
            "seeds": "evaluation seeds (held out) [101..110]",
            "users": "users per evaluation seed [128]",
            "steps": "steps per run [200]",
            "catalog": "movielens, synthetic or a CSV/parquet file [synthetic]",
            "population": "auto, items, movielens or a persona file [auto]",
            "transform": SHARED_HELP["transform"] + " [the config's, centre]",
            "fixed_weights": SHARED_HELP["fixed_weights"] + " [0.3,0.7,0.05]",
        },
        extra={"fixed_weights": {"metavar": "A,M,E"}},
    )
    p.add_argument("--policy", default=None, help="saved PPO policy for agent ppo (instead of training one)")
    p.add_argument("--timesteps", type=positive, default=None, help="PPO training user-steps per scenario [1000000]")
    p.add_argument("--tuning-seeds", type=int_list, default=None, help="seeds of the fixed-weights grid search")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: "driftrec CMD: error: ... (see driftrec CMD --help)", status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="driftrec",
        description="Simulate recommender users whose interests drift, and compare how recommenders weight "
        "new evidence. Every run writes config.json, summary.json, per-run CSV rows and plots to --out.",
    )
    parser.add_argument("--version", action="version", version=f"driftrec {driftrec.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    q = sub.add_parser(
        "quickstart",
        help="the main job: train a small PPO weight policy and compare it with fixed weights",
        description="Run `compare` with the built-in quickstart config (experiments/configs/quickstart.yaml): "
        "on MovieLens's 9,061 movies under all-MiniLM-L6-v2 (pca:64; the first run encodes and caches the "
        "titles; without the model package the hashing encoder stands in, with a warning), for the abrupt and "
        "stable scenarios, tune the fixed weights on a grid, train a small PPO weight policy per scenario "
        "(half of its users on MovieLens, half on the synthetic catalog), and compare them with the default "
        "fixed-alpha baseline, the change-detection rule, the weights-oracle, the oracle and a random "
        "recommender on held-out seeds; print the table and write results and plots to --out. The flags below "
        "override the config: --catalog synthetic evaluates on 1,000 generated items under the hashing "
        "encoder (PPO still trains on both catalogs).",
    )
    add_common(q, "runs/quickstart", device=False)
    _add_compare_flags(q)
    add_backend_args(q)

    s = sub.add_parser(
        "simulate",
        help="run agents on scenarios over seeds; table, summary.json, CSV, plot",
        description="Run each agent on each scenario for each seed with common random numbers, "
        "print mean clicks per step with 95% CIs over seeds and the beyond-click metrics (catalog coverage, "
        "intra-list diversity, novelty, session length, churn rate), and write config.json, "
        "summary.json (results[scenario][agent] = {mean, ci95, n_seeds, per_seed, metrics}), "
        "runs.csv, curves.csv, clicks_over_time.png and beyond_clicks.png to --out.",
    )
    add_common(s, "runs/simulate", device=False)
    _add_simulate_flags(s)

    t = sub.add_parser(
        "train",
        help="train a PPO weight policy on a scenario, or one policy on a mixture (TensorBoard, checkpoints, resume)",
        description="Train a stable-baselines3 PPO policy that picks the weights (alpha, mix, explore) for each "
        "user at each step from the 11 observation features, on the batched env (one SB3 env per user). "
        "Writes policy.zip (the policy and its config, one file), train.json, checkpoints/step_*.zip every "
        "--checkpoint-every steps and TensorBoard logs (tensorboard --logdir OUT/tb: SB3's scalars and driftrec's, "
        "clicks per step, mean alpha, mix and explore, env share, and every --eval-every steps the policy against "
        "the fixed weights on the same held-out users) to --out. "
        "--resume CKPT continues from a checkpoint up to --timesteps in all (--resume latest: the newest "
        "checkpoint in --out). --seeds S1,S2,... runs one training per seed as units on --backend (local "
        "processes or Ray) into OUT/seed_S/, and a re-run reuses the finished seeds. Steps are user-steps. "
        "A comma-separated --scenario and/or --catalog trains one policy on a mixture: every (scenario, "
        "catalog) pair gets an even share of the --users, side by side in every rollout.",
    )
    config_flags(
        t,
        TrainConfig,
        defaults={"checkpoint_every": 500_000, "eval_every": 250_000} | AUTO,
        helps={
            "scenario": "preset or scenario .json file, or several comma-separated (a mixture): "
            f"{', '.join(PRESETS)} [abrupt]",
            "catalog": SHARED_HELP["catalog"] + "; several comma-separated train one policy on all of them [synthetic]",
            "hyper": "override a PPO setting (repeatable): " + ", ".join(f"{k}={v}" for k, v in PPO_DEFAULTS.items()),
        },
    )
    t.add_argument(
        "--seeds",
        type=int_list,
        default=None,
        help="a sweep: one training run per seed (a unit on --backend), into OUT/seed_S/, summary in "
        "OUT/sweep.json; a re-run reuses finished seeds",
    )
    t.add_argument(
        "--resume",
        type=Path,
        default=None,
        help="checkpoint (or policy.zip) to continue from; 'latest' takes the newest OUT/checkpoints/step_*.zip "
        "(after a crash or kill, re-run the same command with --resume latest); --ppo settings apply from the "
        "checkpoint on, except net_arch and n_steps, which are refused",
    )
    t.add_argument("--no-tensorboard", action="store_true", help="do not write TensorBoard logs")
    add_common(t, "runs/train", device=False)
    add_backend_args(t)

    cp = sub.add_parser(
        "compare",
        help="paired comparison of agents over scenarios and held-out seeds (tuned fixed weights, PPO, ...)",
        description="For each scenario: tune the fixed weights on a grid (tuning seeds) to get best-fixed, "
        "train (or load) a PPO policy, then run every agent on the same users of every evaluation seed "
        "(common random numbers). Prints mean clicks per step with 95% CIs over seeds, the paired "
        "difference against best-fixed with its 95% CI, the share of the oracle gap closed (and of the "
        "weights-oracle's gain, when it runs), and the beyond-click metrics. Writes "
        "config.json (resolved), summary.json, runs.csv, curves.csv, aligned.csv, weights.csv, "
        "tuning.csv, clicks_over_time.png, shift_aligned.png (clicks and alpha around interest shifts), "
        "beyond_clicks.png and weights_over_time.png to --out. Settings come from --config (YAML or JSON with the keys "
        "scenarios, agents, seeds, users, steps, catalog, population, items, dim, fixed_weights, "
        "overrides, tuning {seeds, users, steps, grid}, ppo {policy | policies | timesteps, users, "
        "seed, hyper}); the flags below override it.",
    )
    cp.add_argument("--config", type=Path, default=None, help="YAML or JSON config file (see above)")
    add_common(cp, "runs/compare", device=False)
    _add_compare_flags(cp)
    add_backend_args(cp)

    cli_offline.add_parsers(sub)
    cli_bench.add_parsers(sub)

    c = sub.add_parser(
        "calibrate",
        help="measure real interest drift (MovieLens or your log) and fit the simulator to it",
        description="Measure how the embedding centroid of each user's recent items moves (MovieLens, or an "
        "interaction log given with --timelines and its --catalog file) "
        "(blocks of --block rated items: cosine between centroids L blocks apart, movement per block, "
        "jump rate; per active day too), simulate self-directed timelines (each user picks one item "
        "per step with probability proportional to its attraction), grid-search beta, drift_scale "
        "and shift_hazard to match the real medians, and write summary.json (fitted parameters next "
        "to the real and simulated statistics, and whether each simulated median lies within the "
        "real 10th-90th percentile), grid.csv, NAME_scenario.json (movielens_scenario.json, or the log file's "
        "stem) and calibration.png to --out.",
    )
    config_flags(
        c,
        CalibrateConfig,
        skip=("base",),
        defaults=AUTO,
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
    add_transform_arg(c, "centre")
    c.add_argument(
        "--population",
        choices=("auto", "items"),
        default="auto",
        help="where simulated users start: auto (the real users' first 10 items: MovieLens' histories or the "
        "log's) or items (near random items) [auto]",
    )
    add_common(c, "runs/calibrate", device=False)

    sc = sub.add_parser(
        "scenarios",
        help="list the scenario presets and their parameters",
        description="List the scenario presets with a description each; --json prints every parameter.",
    )
    sc.add_argument("--json", action="store_true", help="print every preset's full parameters as JSON")
    for sp in sub.choices.values():  # every command's flags can come from a file (compare: its own config)
        if not any(a.option_strings == ["--config"] for a in sp._actions):
            add_flag_config(sp)
    parser.commands = sub.choices  # type: ignore[attr-defined]
    return parser


def _run_simulate(args: argparse.Namespace, command: str) -> int:
    cfg = config_from_args(SimulateConfig, args)
    start = time.perf_counter()
    res = simulate(cfg, progress=not args.no_progress)
    out: Path = args.out
    config = {
        "command": command,
        "driftrec_version": driftrec.__version__,
        "config": cfg.to_dict(),
        "scenarios": {s: make_scenario(s, **cfg.overrides).to_dict() for s in cfg.scenarios},
        "catalog": res.catalog,
    }
    io.write_json(out / "config.json", config)
    io.write_csv(out / "runs.csv", res.runs)
    io.write_csv(out / "curves.csv", res.curves)
    from driftrec.experiments.common.plots import plot_beyond_clicks, plot_clicks_over_time

    plot_clicks_over_time(res.curves, out / "clicks_over_time.png")
    plot_beyond_clicks(res.results, out / "beyond_clicks.png")
    io.write_summary(
        out / "summary.json",
        {"command": command, "metric": METRIC, "results": res.results, "wall_s": round(time.perf_counter() - start, 2)},
    )
    cat = res.catalog
    users = f", users from {cat['population']['source']}" if "population" in cat else ""
    print(
        f"catalog: {cat['source']}, {cat['num_items']} items, encoder {cat['encoder']} "
        f"({cat['dim']} dims), loaded in {cat['load_s']:.1f}s{users}\n"
    )
    print(format_table(res.results))
    _print_transfers(res.results)
    print("\nbeyond clicks (means over seeds; intervals in summary.json):\n" + format_metrics_table(res.results))
    print(
        f"\nwrote {out}/summary.json, runs.csv, curves.csv, config.json, clicks_over_time.png, beyond_clicks.png "
        f"({time.perf_counter() - start:.1f}s)"
    )
    return 0


def _print_transfers(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    from driftrec.experiments.online.transfer import transfer_notes

    moved = {s: {a: e["transfer"] for a, e in agents.items() if e.get("transfer")} for s, agents in results.items()}
    notes = transfer_notes({s: a for s, a in moved.items() if a})
    if notes:
        print("\n" + notes)


def _run_train(args: argparse.Namespace) -> int:
    from driftrec.experiments.online.train import latest_checkpoint, train

    cfg = config_from_args(TrainConfig, args)
    start = time.perf_counter()
    if args.seeds is not None:
        if args.resume is not None:
            raise UserError("--resume continues one run; a --seeds sweep resumes by re-running the same command")
        from driftrec.experiments.online.train import train_sweep

        res = train_sweep(
            cfg, args.seeds, args.out, backend_from_args(args), progress=not args.no_progress,
            tensorboard=not args.no_tensorboard, log=print,
        )  # fmt: skip
        rows = [("seed", "user-steps", "learn s", "env share", "policy digest", "")]
        for seed, r in res["runs"].items():
            t = r["timing"]
            rows.append(
                (seed, str(r["num_timesteps"]), f"{t['learn_wall_s']:.1f}", f"{t['env_share']:.0%}",
                 r["policy_digest"], "reused" if r["reused"] else "")
            )  # fmt: skip
        print(text_table(rows))
        print(f"\nwrote {args.out}/sweep.json, seed_*/policy.zip ({time.perf_counter() - start:.1f}s)")
        return 0
    if args.backend != "local" or args.workers != 1:
        raise UserError("--backend and --workers apply to a --seeds sweep; one training run uses this process")
    resume = args.resume
    if resume is not None and str(resume) == "latest":
        resume = latest_checkpoint(args.out / "checkpoints")
        if resume is None:
            raise UserError(f"--resume latest: no checkpoint in {args.out}/checkpoints/ (is --out the killed run's?)")
        print(f"resuming from {resume}")
    train(cfg, args.out, resume=resume, progress=not args.no_progress, tensorboard=not args.no_tensorboard)
    print(
        f"trained PPO on {cfg.scenario} for {cfg.timesteps} user-steps ({time.perf_counter() - start:.1f}s); "
        f"wrote {args.out}/policy.zip, train.json, checkpoints/"
        + ("" if args.no_tensorboard else f", tb/ (tensorboard --logdir {args.out}/tb)")
    )
    return 0


QUICKSTART_CONFIG = Path(__file__).parents[1] / "configs" / "quickstart.yaml"


def _run_compare(args: argparse.Namespace, config_file: Path | None, command: str) -> int:
    from driftrec.experiments.online.compare import (
        CompareConfig,
        compare,
        format_compare_table,
        format_leaders,
        leaders,
        load_config,
    )

    raw: dict[str, Any] = load_config(config_file) if config_file is not None else {}
    flags = ("scenarios", "agents", "seeds", "users", "steps", "catalog", "population", "transform", "fixed_weights")
    for key in flags:
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    raw.setdefault("scenarios", ["abrupt"])
    if args.overrides:
        raw["overrides"] = {**raw.get("overrides", {}), **parse_sets(args.overrides)}
    raw["device"] = args.device
    ppo = dict(raw.get("ppo") or {})
    if args.policy is not None:
        ppo = {k: v for k, v in ppo.items() if k not in ("policy", "policies")} | {"policy": args.policy}
    if args.timesteps is not None:
        ppo["timesteps"] = args.timesteps
    if ppo:
        raw["ppo"] = ppo
    if args.tuning_seeds is not None:
        raw["tuning"] = {**(raw.get("tuning") or {}), "seeds": args.tuning_seeds}
    cfg = CompareConfig.from_dict(raw)
    backend = backend_from_args(args)
    res = compare(cfg, args.out, progress=not args.no_progress, log=print, backend=backend)
    extra = {"config_file": str(config_file)} if config_file is not None else {}
    extra["backend"] = backend.describe()
    files = res.write(args.out, command, extra)
    cat = res.catalog
    users = f", users from {cat['population']['source']}" if "population" in cat else ""
    print(
        f"\ncatalog: {cat['source']}, {cat['num_items']} items, encoder {cat['encoder']} "
        f"({cat['dim']} dims), loaded in {cat['load_s']:.1f}s{users}; {len(cfg.seeds)} evaluation seeds "
        f"x {cfg.users} users x {cfg.steps} steps\n"
    )
    print(format_compare_table(res.results))
    _print_transfers(res.results)
    print("\n" + format_leaders(leaders(res.results)))
    print("\nbeyond clicks (means over seeds; intervals in summary.json):\n" + format_metrics_table(res.results))
    print(f"\nwrote {args.out}/ {', '.join(files)} ({res.wall_s:.1f}s)")
    return 0


def _run_calibrate(args: argparse.Namespace) -> int:
    from driftrec.envs import resolve_device
    from driftrec.experiments.offline.interactions import parse_columns, read_interactions
    from driftrec.experiments.online.calibrate import (
        calibrate,
        format_calibration,
        plot_calibration,
        scenario_name,
    )
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


def _run_scenarios(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({n: s.to_dict() for n, s in PRESETS.items()}, indent=2))
        return 0
    width = max(len(n) for n in PRESETS)
    for name, s in PRESETS.items():
        print(f"{name.ljust(width)}  {s.description}")
    print("\nOverride any parameter with --set KEY=VALUE; see `driftrec scenarios --json` for all of them.")
    return 0


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    print(f"driftrec: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    try:
        expanded = expand_flag_config(parser.commands, given)  # type: ignore[attr-defined]
    except (UserError, ValueError, FileNotFoundError) as exc:
        command = next((a for a in given if not a.startswith("-")), "")
        print(f"driftrec {command}: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(expanded)
    warnings.showwarning = _show_warning
    try:
        out = getattr(args, "out", None)
        if isinstance(out, Path):
            check_out(out, is_file=args.command == "log")
            if args.command != "log":  # a folder of results: one run at a time, marked until complete
                with hold(out, " ".join(["driftrec", *given])):
                    return _dispatch(parser, args)
        return _dispatch(parser, args)
    except (UserError, ValueError, TypeError, FileNotFoundError, ModuleNotFoundError, ModelUnavailableError) as exc:
        if os.environ.get("DRIFTREC_DEBUG"):
            raise
        print(f"driftrec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:  # driftrec's up-front estimate, or the allocator's own refusal
        if os.environ.get("DRIFTREC_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        print(f"driftrec {args.command}: error: {first}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder that became read-only, ...: one line, not a traceback
        if os.environ.get("DRIFTREC_DEBUG"):
            raise
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"driftrec {args.command}: error: cannot write or read{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the subcommand ``args.command``; its exit status."""
    if args.command == "quickstart":
        return _run_compare(args, QUICKSTART_CONFIG, "quickstart")
    if args.command == "compare":
        return _run_compare(args, args.config, "compare")
    if args.command == "simulate":
        return _run_simulate(args, "simulate")
    if args.command == "scenarios":
        return _run_scenarios(args)
    if args.command == "calibrate":
        return _run_calibrate(args)
    if args.command == "train":
        return _run_train(args)
    if args.command in ("log", "ope", "replay"):
        return cli_offline.run(args)
    if args.command in ("bench", "soak", "portability", "geometry"):
        return cli_bench.run(args)
    parser.error(f"unknown command {args.command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
