"""``driftrec ope --sequential``: weight policies estimated over whole episodes, from a log file or
checked against the simulator (``--validate``)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from driftrec.experiments.cli.args import UserError
from driftrec.experiments.common import io
from driftrec.experiments.offline.episodes import episodes_from_log
from driftrec.experiments.offline.logfile import read_log_file
from driftrec.experiments.offline.offpolicy import OPEConfig
from driftrec.experiments.offline.sequential import SEQUENTIAL_ESTIMATORS, estimate_sequential
from driftrec.experiments.offline.sequential_check import (
    SequentialTarget,
    default_targets,
    parse_sequential_target,
    validate_sequential,
)
from driftrec.experiments.offline.trajectories import LogConfig
from driftrec.experiments.online.runner import text_table

ESS_FLOOR = 30.0
"""Horizons whose mean effective sample size is below this many trajectories are flagged: their
importance weights rest on a handful of episodes, and no interval there is trusted."""


def parse_targets(specs: list[str], bandwidth: float) -> list[SequentialTarget]:
    """``--target`` specs: fixed weightings (``[NAME:]alpha=A,mix=M,explore=E[,noise=S]``) or
    ``ppo:FILE[,noise=S]`` (a trained policy); without noise, a target is deterministic and smoothed
    with ``bandwidth``."""
    from driftrec.agents.ppo import PPOWeights

    out = []
    for spec in specs:
        kind, _, rest = spec.partition(":")
        if kind == "ppo" and rest:
            path, _, noise = rest.partition(",noise=")
            agent = PPOWeights.load(path)
            if noise:
                out.append(SequentialTarget("ppo", agent, _number(spec, "noise", noise)))
            else:
                out.append(SequentialTarget("ppo", agent, bandwidth, deterministic=True))
        else:
            out.append(parse_sequential_target(spec, bandwidth))
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise UserError(f"target policies need distinct names, got {names}; name them NAME:alpha=...")
    return out


def _number(spec: str, key: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise UserError(f"target policy {spec!r}: {key}={raw!r} is not a number") from None


def _estimators(ope: OPEConfig) -> tuple[str, ...]:
    chosen = tuple(ope.estimators or SEQUENTIAL_ESTIMATORS)
    unknown = [e for e in chosen if e not in SEQUENTIAL_ESTIMATORS]
    if unknown:
        raise UserError(
            f"--estimators {','.join(unknown)} unknown with --sequential; allowed: {','.join(SEQUENTIAL_ESTIMATORS)}"
        )
    return chosen


def run_sequential(args: argparse.Namespace, ope: OPEConfig, cfg: LogConfig | None) -> int:
    """``ope --sequential``: on ``ope.logs``, or (``--validate``) on logs made with ``cfg``."""
    return _validate(args, ope, cfg) if ope.validate else _estimate_file(args, ope)


def _estimate_file(args: argparse.Namespace, ope: OPEConfig) -> int:
    if ope.logs is None:
        raise UserError("give --logs FILE (a log from driftrec log --weight-noise S), or --validate")
    if not ope.target:
        raise UserError(
            "give at least one target policy with --target ([NAME:]alpha=A,mix=M,explore=E[,noise=S] or ppo:FILE)"
        )
    start = time.perf_counter()
    targets = parse_targets(ope.target, ope.bandwidth)
    estimators = _estimators(ope)
    frame, _ = read_log_file(ope.logs)
    rows = []
    for h in sorted(set(ope.horizons)):
        ep = episodes_from_log(frame, h, source=f"log {str(ope.logs)!r}")
        data = ep.trajectories
        print(f"H = {h}: {data.n_trajectories:,} episodes ({ep.dropped:,} cut short by the log's end left out)")
        for t in targets:
            est = estimate_sequential(
                data, t.on_log(data), estimators, n_bootstrap=ope.bootstrap, random_state=args.seed
            )
            rows += [e.__dict__ for e in est]
    table = pd.DataFrame(rows)
    print("\n" + format_estimates(table))
    out: Path = args.out
    io.write_csv(out / "sequential.csv", table)
    io.write_summary(
        out / "summary.json",
        {
            "logs": str(ope.logs),
            "sequential": True,
            "targets": [t.name for t in targets],
            "bandwidth": ope.bandwidth,
            "horizons": sorted(set(ope.horizons)),
            "bootstrap": ope.bootstrap,
            "seed": args.seed,
            "estimates": table.to_dict(orient="records"),
            "wall_s": round(time.perf_counter() - start, 2),
        },
    )
    print(f"\nwrote {out}/ summary.json, sequential.csv ({time.perf_counter() - start:.1f}s)")
    return 0


def format_estimates(table: pd.DataFrame) -> str:
    head = ["H", "target", "estimator", "clicks over H", "95% interval", "per step", "ESS", "min ESS"]
    rows = [
        [str(r.horizon), r.target, r.estimator, f"{r.value:.3f}", f"[{r.low:.3f}, {r.high:.3f}]",
         f"{r.value / r.horizon:.4f}", f"{r.ess:.1f}" + (" (below the floor)" if r.ess < ESS_FLOOR else ""),
         f"{r.min_ess:.1f}"]
        for r in table.itertuples()
    ]  # fmt: skip
    return text_table([head, *rows])


def _validate(args: argparse.Namespace, ope: OPEConfig, cfg: LogConfig | None) -> int:
    from tqdm.auto import tqdm

    from driftrec.experiments.common.plots import plot_sequential_validation

    if ope.logs is not None:
        raise UserError("--validate makes its own logs; drop --logs")
    assert cfg is not None
    start = time.perf_counter()
    if not cfg.weight_noise > 0:
        raise UserError("--sequential --validate logs weights with known densities: give --weight-noise S, e.g. 1")
    targets = parse_targets(ope.target or default_targets(cfg), ope.bandwidth)
    estimators = _estimators(ope)
    bar = tqdm(total=ope.reps, desc="validating", unit="rep", disable=args.no_progress)
    reps, summary = validate_sequential(
        cfg, targets, ope.horizons, ope.reps, estimators, ope.bootstrap, on_rep=lambda: bar.update()
    )
    bar.close()
    base = list(cfg.fixed_weights) if cfg.agent == "fixed" else cfg.agent
    print(
        f"logging policy: {cfg.agent} {base} with logit-normal weight noise {cfg.weight_noise} on {cfg.scenario}, "
        f"{cfg.users} users x {cfg.steps} steps, catalog {cfg.catalog} ({cfg.items} items); seeds "
        f"{cfg.seed}..{cfg.seed + ope.reps - 1}\n"
    )
    print(format_validation(summary, ope.reps))
    verdict = coverage_by_horizon(summary)
    print("\n" + verdict_text(verdict))
    out: Path = args.out
    io.write_csv(out / "reps.csv", reps)
    io.write_csv(out / "validation.csv", summary)
    plot_sequential_validation(summary, out / "validation.png")
    io.write_summary(
        out / "summary.json",
        {
            "config": cfg.to_dict(),
            "sequential": True,
            "targets": [t.name for t in targets],
            "bandwidth": ope.bandwidth,
            "horizons": sorted(set(ope.horizons)),
            "reps": ope.reps,
            "estimators": list(estimators),
            "bootstrap": ope.bootstrap,
            "ess_floor": ESS_FLOOR,
            "covering": verdict,
            "summary": summary.to_dict(orient="records"),
            "wall_s": round(time.perf_counter() - start, 2),
        },
    )
    print(f"wrote {out}/ summary.json, reps.csv, validation.csv, validation.png ({time.perf_counter() - start:.1f}s)")
    return 0


def format_validation(summary: pd.DataFrame, reps: int) -> str:
    head = [
        "H",
        "target",
        "estimator",
        "coverage",
        "mean rel. error",
        "mean |rel. error|",
        "live",
        "estimate",
        "mean ESS",
    ]
    rows = [
        [str(r.horizon), r.target, r.estimator, f"{r.coverage:.0%}", f"{r.mean_rel_error:+.1%}",
         f"{r.mean_abs_rel_error:.1%}", f"{r.live:.3f}", f"{r.estimate:.3f}", f"{r.mean_ess:.1f}"]
        for r in summary.itertuples()
    ]  # fmt: skip
    return (
        f"coverage of the 95% intervals over {reps} repetitions (truth: the target run live on the same users, "
        "clicks over the first H steps of each user's episode):\n" + text_table([head, *rows])
    )


def coverage_by_horizon(summary: pd.DataFrame, level: float = 0.9) -> dict[str, list[str]]:
    """Per horizon whose mean ESS is at least ``ESS_FLOOR`` for every target: the estimators whose
    intervals cover every target's live value in at least ``level`` of the repetitions."""
    out = {}
    for h, sub in summary.groupby("horizon"):
        if (sub.groupby("target").mean_ess.min() < ESS_FLOOR).any():
            continue
        ok = sub.groupby("estimator").coverage.min()
        out[str(h)] = [e for e in dict.fromkeys(sub.estimator) if ok[e] >= level - 1e-12]
    return out


def verdict_text(verdict: dict[str, list[str]]) -> str:
    if not verdict:
        return f"no horizon keeps a mean ESS of {ESS_FLOOR:g} for every target"
    lines = [f"H = {h}: {', '.join(es) if es else 'none'}" for h, es in verdict.items()]
    return (
        f"estimators covering every target in >= 90% of repetitions, at horizons with mean ESS >= {ESS_FLOOR:g}:\n"
        + "\n".join(lines)
    )
