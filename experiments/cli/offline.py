"""The offline subcommands of ``driftrec``: ``log``, ``ope`` and ``replay``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from driftrec.agents.registry import agent_descriptions
from driftrec.experiments.cli.args import (
    DeprecatedFlag,
    UserError,
    add_common,
    agent_help,
    name_list,
    new_command,
)
from driftrec.experiments.cli.flags import config_flags, config_from_args
from driftrec.experiments.common import io
from driftrec.experiments.offline import offpolicy, validation
from driftrec.experiments.offline.offpolicy import OPEConfig
from driftrec.experiments.offline.recent import RECENT_ESTIMATORS
from driftrec.experiments.offline.replay import ReplayConfig, replay_agents
from driftrec.experiments.offline.trajectories import LogConfig
from driftrec.simulators.params import EXPLORE_MODES
from driftrec.simulators.scenarios import PRESETS

LOGGING_AGENTS = agent_descriptions(action_mode="weights", recommenders_only=True)
"""The agents that can log: weight agents that read nothing hidden (their propensities come from the
explore weight)."""


def _columns(text: str) -> dict[str, str]:
    out = {}
    for part in name_list(text):
        ours, eq, theirs = part.partition("=")
        if not eq or not ours.strip() or not theirs.strip():
            raise UserError(f"--columns expects OURS=THEIRS pairs, e.g. action=item_id,reward=click; got {part!r}")
        out[ours.strip()] = theirs.strip()
    return out


def _add_log_args(
    p: argparse.ArgumentParser, *, items: int, users: int, steps: int, explore: float, ppo_flag: str = "policy"
) -> None:
    """Flags that describe a logging run: ``LogConfig``'s fields."""
    config_flags(
        p,
        LogConfig,
        defaults={"items": items, "users": users, "steps": steps, "fixed_weights": (0.3, 0.7, explore)},
        names={"policy": ppo_flag},
        helps={
            "scenario": f"preset: {', '.join(PRESETS)} [abrupt]",
            "agent": "the logging policy, a weights agent [fixed]: " + agent_help(LOGGING_AGENTS),
        },
        extra={"explore_mode": {"choices": EXPLORE_MODES}, "fixed_weights": {"metavar": "A,M,E"}},
    )
    if ppo_flag == "policy":  # ope: --policy is still the old spelling of --target
        p.add_argument("--policy-file", dest="policy", action=DeprecatedFlag, new="--policy")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _log_config(args: argparse.Namespace) -> LogConfig:
    from driftrec.envs import resolve_device

    if len(args.fixed_weights) != 3:
        raise UserError(f"--fixed-weights needs 3 values (alpha, mix, explore), got {args.fixed_weights}")
    return config_from_args(LogConfig, args, device=str(resolve_device(args.device)))


def add_parsers(sub: Any) -> None:
    lg = new_command(sub, "log")
    lg.add_argument("--out", type=Path, required=True, help="the log file to write (.parquet)")
    lg.add_argument(
        "--minari",
        metavar="DATASET_ID",
        default=None,
        help="also write the log as this Minari dataset, e.g. driftrec/abrupt/fixed-v0 (under MINARI_DATASETS_PATH)",
    )
    _add_log_args(lg, items=1000, users=256, steps=100, explore=0.3)

    op = new_command(sub, "ope")
    config_flags(
        op,
        OPEConfig,
        parsers={"columns": _columns},
        extra={
            "target": {"action": "append", "type": str, "metavar": "SPEC"},
            "kind": {"choices": offpolicy.OPE_KINDS},
            "first_position": {"choices": (0, 1)},
            "truth": {"choices": offpolicy.TRUTHS},
        },
    )
    op.add_argument("--policy", dest="target", action=DeprecatedFlag, new="--target", append=True)
    op.add_argument("--out", type=Path, default=Path("runs/ope"), help="output folder [runs/ope]")
    _add_log_args(op, items=100, users=256, steps=100, explore=0.5, ppo_flag="policy-file")

    rp = new_command(sub, "replay")
    config_flags(
        rp,
        ReplayConfig,
        aliases={"timelines": ["--dataset"]},
        helps={"agents": "comma-separated: " + ", ".join(replay_agents())},
        extra={"columns": {"metavar": "FIELD=COLUMN,..."}, "fixed_weights": {"metavar": "A,M,E"}},
    )
    add_common(rp, "runs/replay")


def run(args: argparse.Namespace) -> int:
    if args.command == "log":
        return _run_log(args)
    if args.command == "ope":
        ope = config_from_args(OPEConfig, args)
        if ope.sequential:
            from driftrec.experiments.cli.sequential import run_sequential

            return run_sequential(args, ope, _log_config(args) if ope.validate else None)
        return _run_validate(args, ope) if ope.validate else _run_ope(args, ope)
    if args.command == "replay":
        return _run_replay(args)
    raise UserError(f"unknown command {args.command!r}")


def _run_log(args: argparse.Namespace) -> int:
    from driftrec.experiments.offline.logfile import write_log
    from driftrec.experiments.offline.trajectories import simulate_log

    if args.out.suffix.lower() not in (".parquet", ".pq"):
        raise UserError(f"--out {str(args.out)!r} must be a .parquet file")
    cfg = _log_config(args)
    start = time.perf_counter()
    run = simulate_log(cfg, progress=not args.no_progress)
    write_log(args.out, run)
    if args.minari is not None:
        from driftrec.experiments.offline.minari_export import export_minari

        ds = export_minari(args.out, args.minari)
        print(f"wrote Minari dataset {args.minari}: {ds.total_episodes:,} episodes, {ds.total_steps:,} steps")
    f = run.frame
    slates = f.slate_id.nunique()
    print(
        f"logged {cfg.agent} on {cfg.scenario}: {len(f):,} rows ({slates:,} slates of {run.meta['slate_size']}), "
        f"{f.reward.sum() / slates:.4f} clicks per slate, pscore in [{f.pscore.min():.3g}, {f.pscore.max():.3g}], "
        f"{f.action.nunique():,} distinct items"
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - start:.1f}s)")
    return 0


def _run_ope(args: argparse.Namespace, ope: OPEConfig) -> int:
    from driftrec.experiments.common.plots import plot_estimates

    if ope.logs is None:
        raise UserError("give --logs FILE (or --validate to check the estimators in the simulator)")
    start = time.perf_counter()
    kind = offpolicy.detect_kind(ope.logs) if ope.kind == "auto" else ope.kind
    policies = ope.target or (["bts"] if kind == "obd" else [])
    if not policies:
        raise UserError("give at least one target policy with --target (see --help for the forms each log takes)")
    log = offpolicy.prepare(
        ope.logs,
        policies,
        kind=kind,
        columns=ope.columns,
        first_position=ope.first_position,
        priors=ope.priors,
        progress=not args.no_progress,
    )
    estimators = ope.estimators or offpolicy.DEFAULT_ESTIMATORS
    table = offpolicy.estimate(
        log, estimators, ope.bootstrap, seed=args.seed, window=ope.window, half_life=ope.half_life
    )
    fb = log.feedback
    recent = {"window": ope.window, "half_life": ope.half_life, "time_unit": fb.time_unit}
    logged_mean = float(fb.reward.mean()) * log.scale
    print(
        f"{kind} log {str(ope.logs)!r}: {fb.n_rounds:,} rows, {fb.n_actions} actions, {fb.len_list} positions; "
        f"logged policy's mean: {logged_mean:.5f} ({log.unit})\n"
    )
    print(offpolicy.format_estimates(table, log.unit))
    out: Path = args.out
    io.write_csv(out / "estimates.csv", table)
    plot_estimates(table, out / "estimates.png", log.unit)
    summary = {
        "logs": str(ope.logs),
        "kind": kind,
        "unit": log.unit,
        "n_rounds": fb.n_rounds,
        "n_actions": fb.n_actions,
        "len_list": fb.len_list,
        "logged_mean": logged_mean,
        "policies": policies,
        "bootstrap": ope.bootstrap,
        **(recent if set(estimators) & set(RECENT_ESTIMATORS) else {}),
        "seed": args.seed,
        "estimates": table.to_dict(orient="records"),
    }
    print()
    return io.finish_run(out, summary, start, "estimates.csv, estimates.png")


def _run_validate(args: argparse.Namespace, ope: OPEConfig) -> int:
    from tqdm.auto import tqdm

    from driftrec.experiments.common.plots import plot_validation
    from driftrec.experiments.offline.trajectories import parse_target

    if ope.logs is not None:
        raise UserError("--validate makes its own logs; drop --logs")
    if ope.reps < 2:
        raise UserError(f"--reps {ope.reps} must be at least 2")
    cfg = _log_config(args)
    targets = [parse_target(s) for s in (ope.target or offpolicy.DEFAULT_TARGETS)]
    estimators = ope.estimators or list(offpolicy.VALIDATE_ESTIMATORS)
    start = time.perf_counter()
    bar = tqdm(total=ope.reps, desc="validating", unit="rep", disable=args.no_progress)
    v = validation.validate(
        cfg, targets, ope.reps, estimators, ope.bootstrap, lambda: bar.update(), ope.truth, ope.window, ope.half_life
    )
    bar.close()
    print(
        f"logging policy: {cfg.agent} {list(cfg.fixed_weights) if cfg.agent == 'fixed' else ''} on {cfg.scenario}, "
        f"explore mode {cfg.explore_mode}, {cfg.users} users x {cfg.steps} steps, catalog {cfg.catalog} "
        f"({cfg.items} items); seeds {cfg.seed}..{cfg.seed + ope.reps - 1}\n"
    )
    print(validation.format_validation(v, ope.reps, ope.truth))
    ok = validation.coverage_ok(v, 0.9, [e for e in estimators if e != "dm"])
    print(f"\ncoverage >= 90% for every target and estimator: {'yes' if ok else 'NO'}")
    out: Path = args.out
    io.write_csv(out / "reps.csv", v.reps)
    io.write_csv(out / "validation.csv", v.summary)
    io.write_csv(out / "live.csv", v.live)
    plot_validation(v.reps, out / "validation.png")
    summary = {
        "config": cfg.to_dict(),
        "targets": [t.name for t in targets],
        "reps": ope.reps,
        "estimators": estimators,
        "bootstrap": ope.bootstrap,
        "truth": ope.truth,
        **({"window": ope.window, "half_life": ope.half_life} if set(estimators) & set(RECENT_ESTIMATORS) else {}),
        "coverage_ok": ok,
        "summary": v.summary.to_dict(orient="records"),
    }
    return io.finish_run(out, summary, start, "reps.csv, validation.csv, live.csv, validation.png")


def _run_replay(args: argparse.Namespace) -> int:
    from driftrec.envs import resolve_device
    from driftrec.experiments.common.plots import plot_replay
    from driftrec.experiments.offline.replay import format_replay, replay

    if len(args.fixed_weights) != 3:
        raise UserError(f"--fixed-weights needs 3 values (alpha, mix, explore), got {args.fixed_weights}")
    cfg = config_from_args(ReplayConfig, args, device=str(resolve_device(args.device)))
    res = replay(cfg, progress=not args.no_progress)
    source = "MovieLens" if cfg.timelines == "movielens" else repr(cfg.timelines)
    liked = "every event" if cfg.liked_at is None else f"rating >= {cfg.liked_at:g}"
    print(
        f"replayed {res.num_users} {source} users, {res.num_events:,} next-item events (liked = {liked}, first "
        f"{cfg.warmup} liked items as the prior)\n"
    )
    print(format_replay(res, cfg.k))
    out: Path = args.out
    io.write_json(out / "config.json", cfg.to_dict())
    io.write_csv(out / "per_user.csv", res.per_user)
    plot_replay(res.results, out / "replay.png", cfg.k)
    io.write_summary(
        out / "summary.json",
        {
            "results": res.results,
            "best_fixed": res.best_fixed,
            "num_users": res.num_users,
            "num_events": res.num_events,
            "wall_s": round(res.wall_s, 2),
        },
    )
    print(f"\nwrote {out}/ config.json, summary.json, per_user.csv, replay.png ({res.wall_s:.1f}s)")
    return 0
