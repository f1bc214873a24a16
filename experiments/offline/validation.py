"""The estimators checked against the simulator's truth (``driftrec ope --validate``): log with a
``LogConfig`` several times, estimate fixed-weighting targets offline, and compare with their true
values (expected clicks on the logged states, and the live runs)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from driftrec.agents import FixedWeights
from driftrec.encoders.checks import check_int
from driftrec.experiments.common.rollout import RewardSum, rollout
from driftrec.experiments.offline.offpolicy import TRUTHS, VALIDATE_ESTIMATORS, OfflineLog, Target, estimate
from driftrec.experiments.offline.trajectories import LogConfig, simulate_log
from driftrec.experiments.online.runner import text_table


@dataclass
class Validation:
    """The simulator check: per repetition and (target, estimator) the estimate, its interval and
    the truth; ``summary`` aggregates coverage and relative errors; ``live`` the full live runs."""

    reps: pd.DataFrame
    summary: pd.DataFrame
    live: pd.DataFrame


def live_value(cfg: LogConfig, target: FixedWeights, seed: int) -> float:
    """Mean clicks per step of ``target`` run live on the logging run's users (its own trajectory)."""
    env = cfg.make_env()
    total = RewardSum(per_user=False, dtype=torch.float64)
    rollout(env, target, cfg.steps, seed=seed, record=[total])
    return float(total.total) / cfg.steps


def validate(
    cfg: LogConfig,
    targets: Sequence[FixedWeights],
    reps: int = 20,
    estimators: Sequence[str] = VALIDATE_ESTIMATORS,
    n_bootstrap_samples: int = 500,
    on_rep: Callable[[], None] | None = None,
    truth: str = "logged",
    window: float = 10.0,
    half_life: float = 10.0,
) -> Validation:
    """Log with ``cfg`` ``reps`` times (seeds cfg.seed, cfg.seed + 1, ...), estimate each target
    offline, and compare with the truth: the target's expected clicks per slate on the logged
    states, which the simulator computes at every logged step, averaged over the log (``truth``
    "logged") or at its last step ("now": under drift, the value the drift-aware estimators of
    ``offline.recent`` estimate, with ``window`` and ``half_life``). Also runs each target live on
    its own trajectory (``live``): single-step estimators do not estimate that value, since a
    target's alpha changes the states it would see; the table shows how far apart the two are."""
    check_int("reps", reps, 2)
    if truth not in TRUTHS:
        raise ValueError(f"truth={truth!r} is not allowed; allowed: {', '.join(TRUTHS)}")
    if not targets:
        raise ValueError("give at least one target policy")
    rows, live = [], []
    for r in range(reps):
        rc = dataclasses.replace(cfg, seed=cfg.seed + r)
        run = simulate_log(rc, targets, truth=True)
        fb = run.feedback()
        log = OfflineLog(
            "driftrec",
            fb,
            [Target(t.name, run.target_pscore[t.name]) for t in targets],
            "clicks per slate",
            float(fb.len_list),
            run.meta,
        )
        table = estimate(log, estimators, n_bootstrap_samples, seed=r, window=window, half_life=half_life)
        if truth == "now":
            table["truth"] = table["policy"].map({name: float(v[-1]) for name, v in run.target_truth_by_step.items()})
            table["truth_logged"] = table["policy"].map(run.target_truth)
        else:
            table["truth"] = table["policy"].map(run.target_truth)
        table["rep"] = r
        table["seed"] = rc.seed
        rows.append(table)
        for t in targets:
            live.append(
                {
                    "rep": r,
                    "seed": rc.seed,
                    "policy": t.name,
                    "live": live_value(rc, t, rc.seed),
                    "one_step_truth": run.target_truth[t.name],
                    "logging_truth": run.logged_truth,
                }
            )
        if on_rep is not None:
            on_rep()
    reps_df = pd.concat(rows, ignore_index=True)
    live_df = pd.DataFrame(live)
    cols = ("estimate", "truth", "ci_low", "ci_high")
    summary = score_reps(reps_df, ["policy", "estimator"], cols, truth=("truth", "mean"), estimate=("estimate", "mean"))
    summary["live"] = summary["policy"].map(live_df.groupby("policy")["live"].mean())
    return Validation(reps_df, summary, live_df)


def score_reps(df: pd.DataFrame, keys: list[str], cols: tuple[str, str, str, str], **extra: Any) -> pd.DataFrame:
    """Score a check's repetitions against the truth: adds ``covered`` and ``rel_error`` to ``df``
    (one row per repetition; ``cols`` names its estimate, truth, interval low and high) and returns
    per ``keys`` the coverage, mean relative error and mean |relative error|, then the ``extra``
    aggregations (``DataFrame.agg`` named aggregations)."""
    est, truth, low, high = (df[c] for c in cols)
    df["covered"] = (low <= truth) & (truth <= high)
    df["rel_error"] = (est - truth) / truth
    return (
        df.groupby(keys, sort=False)
        .agg(
            coverage=("covered", "mean"),
            mean_rel_error=("rel_error", "mean"),
            mean_abs_rel_error=("rel_error", lambda x: float(np.mean(np.abs(x)))),
            **extra,
        )
        .reset_index()
    )


def format_validation(v: Validation, reps: int, truth: str = "logged") -> str:
    head = ["policy", "estimator", "coverage", "mean rel. error", "mean |rel. error|", "truth", "estimate", "live run"]
    rows = [
        [
            r.policy,
            r.estimator,
            f"{r.coverage:.0%}",
            f"{r.mean_rel_error:+.2%}",
            f"{r.mean_abs_rel_error:.2%}",
            f"{r.truth:.4f}",
            f"{r.estimate:.4f}",
            f"{r.live:.4f}",
        ]
        for r in v.summary.itertuples()
    ]
    return (
        f"coverage of the 95% intervals over {reps} repetitions (truth: the target's expected clicks per slate "
        f"{'at the last logged step' if truth == 'now' else 'on the logged states'}; live run: the target run on "
        "its own trajectory):\n" + text_table([head, *rows])
    )


def coverage_ok(v: Validation, level: float = 0.9, estimators: Sequence[str] = ("ipw", "snipw", "dr")) -> bool:
    s = v.summary[v.summary.estimator.isin(estimators)]
    return bool((s.coverage >= level - 1e-12).all()) and not math.isnan(float(s.coverage.min()))
