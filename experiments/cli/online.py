"""The online subcommands of ``driftrec``: ``quickstart``, ``simulate``, ``train``, ``compare``,
``calibrate`` (its own module, ``cli.calibrate``) and ``scenarios``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import driftrec
from driftrec.agents.ppo import PPO_DEFAULTS
from driftrec.agents.registry import agent_descriptions
from driftrec.experiments.cli import calibrate as cli_calibrate
from driftrec.experiments.cli.args import (
    UserError,
    add_backend_args,
    add_common,
    agent_help,
    backend_from_args,
    int_list,
    new_command,
    parse_sets,
    positive,
)
from driftrec.experiments.cli.flags import SHARED_HELP, config_flags, config_from_args
from driftrec.experiments.common import io
from driftrec.experiments.online.compare import CompareConfig, compare_agents
from driftrec.experiments.online.runner import SimulateConfig, format_metrics_table, format_table, simulate, text_table
from driftrec.experiments.online.train import TrainConfig
from driftrec.simulators.scenarios import PRESETS, make_scenario

METRIC = "clicks_per_step: clicks in the k-item slate, averaged over users and steps"


def _add_simulate_flags(p: argparse.ArgumentParser) -> None:
    """simulate's flags: ``SimulateConfig``'s fields."""
    config_flags(
        p,
        SimulateConfig,
        defaults={"scenarios": "abrupt", "agents": ["fixed", "oracle", "random"], "catalog": "movielens"},
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
        defaults={f.name: None for f in dataclasses.fields(CompareConfig) if f.name != "device"},
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


def add_parsers(sub: Any) -> None:
    """The online commands' parsers, on the subparsers ``sub``."""
    q = new_command(sub, "quickstart")
    add_common(q, "runs/quickstart")
    _add_compare_flags(q)
    add_backend_args(q)

    s = new_command(sub, "simulate")
    add_common(s, "runs/simulate")
    _add_simulate_flags(s)

    t = new_command(sub, "train")
    config_flags(
        t,
        TrainConfig,
        defaults={"checkpoint_every": 500_000, "eval_every": 250_000},
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
    add_common(t, "runs/train")
    add_backend_args(t)

    cp = new_command(sub, "compare")
    cp.add_argument("--config", type=Path, default=None, help="YAML or JSON config file (see above)")
    add_common(cp, "runs/compare")
    _add_compare_flags(cp)
    add_backend_args(cp)

    cli_calibrate.add_parser(sub)

    sc = new_command(sub, "scenarios")
    sc.add_argument("--json", action="store_true", help="print every preset's full parameters as JSON")


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
    agent = train(cfg, args.out, resume=resume, progress=not args.no_progress, tensorboard=not args.no_tensorboard)
    t = agent.config["timing"]
    evals = f", {t['eval_share']:.0%} in evaluations" if "eval_share" in t else ""
    print(
        f"trained PPO on {cfg.scenario} for {cfg.timesteps} user-steps ({time.perf_counter() - start:.1f}s; "
        f"of learning's {t['learn_wall_s']:.1f}s, {t['env_share']:.0%} in the env, {t['update_share']:.0%} in SB3's "
        f"updates{evals}); "
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


def _run_scenarios(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({n: s.to_dict() for n, s in PRESETS.items()}, indent=2))
        return 0
    width = max(len(n) for n in PRESETS)
    for name, s in PRESETS.items():
        print(f"{name.ljust(width)}  {s.description}")
    print("\nOverride any parameter with --set KEY=VALUE; see `driftrec scenarios --json` for all of them.")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the online subcommand ``args.command``; its exit status."""
    if args.command == "quickstart":
        return _run_compare(args, QUICKSTART_CONFIG, "quickstart")
    if args.command == "compare":
        return _run_compare(args, args.config, "compare")
    if args.command == "simulate":
        return _run_simulate(args, "simulate")
    if args.command == "scenarios":
        return _run_scenarios(args)
    if args.command == "calibrate":
        return cli_calibrate.run(args)
    if args.command == "train":
        return _run_train(args)
    raise UserError(f"unknown command {args.command!r}")
