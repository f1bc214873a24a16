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
    """``--target`` specs (``parse_sequential_target``), with distinct names."""
    out = [parse_sequential_target(spec, bandwidth) for spec in specs]
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise UserError(f"target policies need distinct names, got {names}; name them NAME:alpha=... or NAME:ppo:FILE")
    return out


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
            "give at least one target policy with --target "
            "([NAME:]alpha=A,mix=M,explore=E[,noise=S] or [NAME:]ppo:FILE[,noise=S])"
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
                data, t.on_log(data), estimators, n_bootstrap_samples=ope.bootstrap, random_state=args.seed
            )
            rows += [e.__dict__ for e in est]
    table = pd.DataFrame(rows)
    print("\n" + format_estimates(table))
    out: Path = args.out
    io.write_csv(out / "sequential.csv", table)
    summary = {
        "logs": str(ope.logs),
        "sequential": True,
        "targets": [t.name for t in targets],
        "bandwidth": ope.bandwidth,
        "horizons": sorted(set(ope.horizons)),
        "bootstrap": ope.bootstrap,
        "seed": args.seed,
        "estimates": table.to_dict(orient="records"),
    }
    print()
    return io.finish_run(out, summary, start, "sequential.csv")


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
    base = list(cfg.fixed_weights) if cfg.agent == "fixed" else (cfg.policy or "")
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
    plot_sequential_validation(summary, out / "validation.png", ESS_FLOOR)
    summary = {
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
    }
    return io.finish_run(out, summary, start, "reps.csv, validation.csv, validation.png")


def format_validation(summary: pd.DataFrame, reps: int) -> str:
    """One row per horizon and target, one column per estimator: coverage of the 95% intervals, mean
    relative error (bias) and mean |relative error| over the repetitions."""
    estimators = list(dict.fromkeys(summary.estimator))
    head = ["H", "target", "mean ESS", "live", *estimators]
    rows = []
    for (h, tgt), sub in summary.groupby(["horizon", "target"], sort=False):
        by = sub.set_index("estimator")
        cells = [
            f"{by.coverage[e]:.0%} {by.mean_rel_error[e]:+.1%} {by.mean_abs_rel_error[e]:.1%}" if e in by.index else "-"
            for e in estimators
        ]
        rows.append([str(h), tgt, f"{sub.mean_ess.iloc[0]:.1f}", f"{sub.live.iloc[0]:.3f}", *cells])
    return (
        f"over {reps} repetitions; truth: the target run live on the same users (clicks over the first H steps of "
        "each user's episode)\neach cell: coverage of the 95% intervals, mean relative error, mean |relative error|\n"
        + text_table([head, *rows])
    )


def coverage_by_horizon(summary: pd.DataFrame, level: float = 0.9) -> dict[str, dict[str, list[str] | None]]:
    """Per horizon and target: the estimators whose intervals cover the target's live value in at
    least ``level`` of the repetitions, or None where the target's mean ESS is below ``ESS_FLOOR``."""
    out: dict[str, dict[str, list[str] | None]] = {}
    for (h, tgt), sub in summary.groupby(["horizon", "target"], sort=False):
        ok = (
            None
            if sub.mean_ess.min() < ESS_FLOOR
            else [r.estimator for r in sub.itertuples() if r.coverage >= level - 1e-12]
        )
        out.setdefault(str(h), {})[tgt] = ok
    return out


def verdict_text(verdict: dict[str, dict[str, list[str] | None]]) -> str:
    lines = []
    for h, per_target in verdict.items():
        usable = [ok for ok in per_target.values() if ok is not None]
        both = [e for e in (usable[0] if usable else []) if all(e in ok for ok in usable)]
        thin = len(usable) < len(per_target)
        above = f" ({', '.join(t for t, ok in per_target.items() if ok is not None)})" if thin else ""
        parts = [f"{t}: {', '.join(ok) or 'none'}" if ok is not None else f"{t}: ESS below {ESS_FLOOR:g}"
                 for t, ok in per_target.items()]  # fmt: skip
        every = f"  -> every target above the floor{above}: {', '.join(both) or 'none'}" if usable else ""
        lines.append(f"H = {h}: " + "; ".join(parts) + every)
    return "estimators covering the live value in >= 90% of repetitions:\n" + "\n".join(lines)
