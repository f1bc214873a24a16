"""Off-policy evaluation of logs: target policies and estimates with intervals (the ground-truth check
in the simulator is ``offline.validation``).

Three kinds of log (``detect_kind``):

* ``driftrec``: a parquet log from ``driftrec log`` (``trajectories``). Targets are fixed weightings
  ``[NAME:]alpha=A,mix=M,explore=E``. The log's metadata re-creates the run that made it, which
  gives each target's probability of every logged item at its position (the target replays the
  logged evidence at its own alpha); the re-created rows must equal the file's.
* ``obd``: an Open Bandit Dataset folder or CSV. Targets: ``bts`` (the production Bernoulli
  Thompson Sampling policy from its Beta priors, 100,000 Monte Carlo draws), ``uniform``.
* ``table``: any CSV/parquet log with a column mapping. Targets: ``column:NAME`` (a column
  holding the target's probability of the logged item at its position), ``uniform``.

Every kind also takes ``logged`` (the logging policy itself: its estimate is the on-policy mean).
DM and DR use a position-CTR reward model fitted on the log (the mean reward at each position).
Values are per shown item, except for driftrec logs, which report clicks per slate (the env's
reward per step).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftrec.agents import FixedWeights
from driftrec.encoders.checks import check_int, check_number
from driftrec.encoders.deprecation import moved_names
from driftrec.experiments.offline.feedback import BanditFeedback, bts_action_dist, load_obd, read_bts_priors
from driftrec.experiments.offline.logfile import apply_mapping, check_log, feedback_from_frame, read_log_file
from driftrec.experiments.offline.ope import ESTIMATORS
from driftrec.experiments.offline.recent import RECENT_ESTIMATORS, make_recent
from driftrec.experiments.offline.trajectories import (
    LogConfig,
    parse_target,
    simulate_log,
)
from driftrec.experiments.online.runner import text_table

MOVED = ("Validation", "live_value", "validate", "format_validation", "coverage_ok")
"""The simulator check, now in ``offline.validation``."""

LOG_KINDS = ("driftrec", "obd", "table")
OPE_KINDS = ("auto", *LOG_KINDS)
"""What ``OPEConfig.kind`` takes: a log kind, or auto (``detect_kind``)."""
DEFAULT_ESTIMATORS = ("ipw", "snipw", "dm", "dr")
VALIDATE_ESTIMATORS = ("ipw", "snipw", "dr")
TRUTHS = ("logged", "now")
"""What ``ope --validate`` compares the estimates with (``OPEConfig.truth``)."""
DEFAULT_TARGETS = ("fast:alpha=0.7,mix=0.7,explore=0.1", "slow:alpha=0.05,mix=0.7,explore=0.1")
"""Targets of ``ope --validate`` when none are given: quick and slow trust in new evidence."""


@dataclass(frozen=True)
class OPEConfig:
    """What ``driftrec ope`` estimates (its logging settings, with ``validate``, are a ``LogConfig``)."""

    logs: Path | None = None
    """the log: a driftrec .parquet, an OBD folder/CSV, a table"""
    target: list[str] = field(default_factory=list)
    """a target policy to estimate (repeatable); default with --validate: fast:alpha=0.7,mix=0.7,explore=0.1
    and slow:alpha=0.05,mix=0.7,explore=0.1 (with --sequential: the logging weights, and alpha + 0.1, both with the
    logging noise); for OBD logs: bts"""
    estimators: list[str] | None = None
    """ipw,snipw,dm,dr,iips,replay, or the drift-aware sw-ipw,sw-snipw,decay-ipw,decay-snipw [ipw,snipw,dm,dr]"""
    window: float = 10.0
    """sliding window of the sw- estimators, in the log's time unit (driftrec: steps; OBD: hours)"""
    half_life: float = 10.0
    """half-life of the decay- estimators' weights, in the log's time unit"""
    truth: str = "logged"
    """what --validate compares with: logged (the target's expected clicks per slate averaged over the logged
    states) or now (at the log's last step: the value drift-aware estimators estimate)"""
    kind: str = "auto"
    """log kind"""
    columns: dict[str, str] | None = None
    """map a table's columns: ours=theirs,..."""
    first_position: int = 0
    """positions in the table start at"""
    priors: Path | None = None
    """BTS priors for target bts [OBD root/prior_bts_*.yaml]"""
    bootstrap: int = 1000
    """bootstrap samples per interval"""
    validate: bool = False
    """check the estimators against the simulator's truth"""
    reps: int = 20
    """repetitions of --validate"""
    sequential: bool = False
    """estimate weight policies over whole episodes (tis, pdis, sntis, snpdis, dr, sndr) from a log made with
    --weight-noise; targets [NAME:]alpha=A,mix=M,explore=E[,noise=S] or [NAME:]ppo:FILE[,noise=S]"""
    horizons: list[int] = field(default_factory=lambda: [10, 50, 100])
    """episode steps H of the sequential estimates"""
    bandwidth: float = 0.3
    """logit-space kernel bandwidth for deterministic sequential targets (those without noise=S)"""

    def __post_init__(self) -> None:
        if self.kind not in OPE_KINDS:
            raise ValueError(f"kind {self.kind!r} is unknown; allowed: {', '.join(OPE_KINDS)}")
        if self.first_position not in (0, 1):
            raise ValueError(f"first_position={self.first_position!r} is not allowed; it must be 0 or 1")
        if self.truth not in TRUTHS:
            raise ValueError(f"truth={self.truth!r} is not allowed; allowed: {', '.join(TRUTHS)}")
        check_number("window", self.window, 0.0, math.inf, lo_open=True)
        check_number("half_life", self.half_life, 0.0, math.inf, lo_open=True)
        check_int("bootstrap", self.bootstrap, 1)
        check_int("reps", self.reps, 1)
        check_number("bandwidth", self.bandwidth, 0.0, 1.0, lo_open=True)
        if not self.horizons:
            raise ValueError("horizons must name at least one horizon")
        for h in self.horizons:
            check_int("horizon", h, 1)


@dataclass
class Target:
    """A target policy on one log: ``pi`` (n_rounds,) its probability of each logged item at its position."""

    name: str
    pi: np.ndarray


@dataclass
class OfflineLog:
    """A checked log ready for estimation: arrays, the kind, the value unit and per-target propensities."""

    kind: str
    feedback: BanditFeedback
    targets: list[Target]
    unit: str
    scale: float
    meta: dict[str, Any] | None = None


def detect_kind(path: str | Path) -> str:
    """ "obd" for OBD folders and CSVs with OBD's columns, "driftrec" for parquet logs with driftrec
    metadata, "table" for anything else."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"no such log: {str(p)!r}")
    if p.is_dir():
        return "obd"
    if p.suffix.lower() == ".csv":
        head = pd.read_csv(p, nrows=0).columns
        if {"item_id", "propensity_score"} <= set(head):
            return "obd"
    if p.suffix.lower() in (".parquet", ".pq"):
        _, meta = read_log_file(p)
        if meta is not None:
            return "driftrec"
    return "table"


def _obd_priors(path: Path, priors: str | Path | None) -> Path:
    if priors is not None:
        return Path(priors)
    # OBD's layout: <root>/<policy>/<campaign>/<campaign>.csv beside <root>/prior_bts_<campaign>.yaml
    folder = path if path.is_dir() else path.parent
    guess = folder.parent.parent / f"prior_bts_{folder.name}.yaml"
    if not guess.is_file():
        raise ValueError(f"target 'bts' needs the BTS priors: pass --priors FILE (looked for {str(guess)!r})")
    return guess


def prepare(
    path: str | Path,
    policies: Sequence[str],
    *,
    kind: str | None = None,
    columns: dict[str, str] | None = None,
    first_position: int = 0,
    priors: str | Path | None = None,
    n_sim: int = 100_000,
    progress: bool = False,
) -> OfflineLog:
    """Load and check the log at ``path`` and resolve the target ``policies`` on it."""
    p = Path(path).expanduser()
    kind = detect_kind(p) if kind is None else kind
    if kind not in LOG_KINDS:
        raise ValueError(f"log kind {kind!r} is unknown; allowed: {', '.join(LOG_KINDS)}")
    if not policies:
        raise ValueError("give at least one target policy (--policy)")
    if len(set(policies)) != len(policies):
        raise ValueError(f"target policies must be distinct, got {list(policies)}")
    if kind == "obd":
        fb = load_obd(p)
        meta = None
    else:
        frame, meta = read_log_file(p)
        frame = check_log(apply_mapping(frame, columns, first_position), str(p))
        n_actions = meta.get("num_items") if meta else None
        fb = feedback_from_frame(frame, n_actions, meta.get("slate_size") if meta else None)
        mode = ((meta or {}).get("config") or {}).get("explore_mode")
        if mode == "slot":
            warnings.warn(
                f"{str(p)!r} was logged with explore_mode=slot: a greedy item never shows at another position, so "
                "targets that reorder the logged slates have no support and their estimates are biased; log with "
                "--explore-mode slate or softmax",
                stacklevel=2,
            )
    targets: list[Target] = []
    sim_specs = []
    for spec in policies:
        if spec == "logged":
            targets.append(Target("logged", fb.pscore.copy()))
        elif spec == "uniform":
            targets.append(Target("uniform", np.full(fb.n_rounds, 1.0 / fb.n_actions)))
        elif spec == "bts":
            if kind != "obd":
                raise ValueError("target 'bts' is OBD's Thompson Sampling policy; it applies to OBD logs only")
            alpha, beta = read_bts_priors(_obd_priors(p, priors), p.name if p.is_dir() else p.parent.name)
            if alpha.shape[0] != fb.n_actions:
                raise ValueError(f"the BTS priors cover {alpha.shape[0]} items but the log has {fb.n_actions}")
            dist = bts_action_dist(alpha, beta, fb.len_list, n_sim=n_sim)
            targets.append(Target("bts", dist[fb.action, fb.position]))
        elif spec.startswith("column:"):
            col = spec.split(":", 1)[1]
            if kind != "table":
                raise ValueError(f"target {spec!r}: column targets are for tables; {kind} logs take other targets")
            if col not in frame.columns:
                have = ", ".join(map(str, frame.columns))
                raise ValueError(f"target {spec!r}: the log has no column {col!r} (it has {have})")
            pi = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64)
            bad = np.flatnonzero(~np.isfinite(pi) | (pi < 0) | (pi > 1))
            if len(bad):
                raise ValueError(
                    f"target {spec!r}: column {col} is {pi[bad[0]]!r} at row {int(bad[0])}; allowed: [0, 1]"
                )
            targets.append(Target(col, pi))
        elif kind == "driftrec":
            sim_specs.append(parse_target(spec))
            targets.append(Target(sim_specs[-1].name, np.empty(0)))
        else:
            allowed = "bts, uniform, logged" if kind == "obd" else "column:NAME, uniform, logged"
            raise ValueError(f"target policy {spec!r} is unknown for {kind} logs; allowed: {allowed}")
    if sim_specs:
        pis = recreate_propensities(frame, meta, sim_specs, progress)
        for t in targets:
            if t.name in pis:
                t.pi = pis[t.name]
    scale = float(fb.len_list) if kind == "driftrec" else 1.0
    unit = "clicks per slate" if kind == "driftrec" else "reward per shown item"
    return OfflineLog(kind, fb, targets, unit, scale, meta)


def recreate_propensities(
    frame: pd.DataFrame, meta: dict[str, Any], targets: Sequence[FixedWeights], progress: bool = False
) -> dict[str, np.ndarray]:
    """Re-create the run that made a driftrec log (from its metadata) with ``targets`` replaying
    its evidence; returns each target's propensities of the logged rows. Raises when the
    re-created rows differ from the file's (an edited log, or one from another version)."""
    try:
        cfg = LogConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the log's driftrec metadata does not describe a run ({exc})") from None
    run = simulate_log(cfg, targets, progress=progress)
    ref = run.frame
    if len(ref) != len(frame):
        raise ValueError(f"the log has {len(frame)} rows but the run its metadata describes has {len(ref)}")
    for col in ("action", "position", "reward", "pscore"):
        a, b = frame[col].to_numpy(np.float64), ref[col].to_numpy(np.float64)
        bad = np.flatnonzero(~np.isclose(a, b, rtol=1e-6, atol=0))
        if len(bad):
            raise ValueError(
                f"the log does not match the run its metadata describes: column {col} at row {int(bad[0])} is "
                f"{a[bad[0]]!r}, the run gives {b[bad[0]]!r} (was the file edited, or written by another version?)"
            )
    return run.target_pscore


def position_ctr(fb: BanditFeedback) -> np.ndarray:
    """The position-CTR reward model: q(x, a, pos) = mean reward at pos, as (n_rounds,)."""
    sums = np.bincount(fb.position, weights=fb.reward, minlength=fb.len_list)
    counts = np.maximum(np.bincount(fb.position, minlength=fb.len_list), 1)
    return (sums / counts)[fb.position]


def estimate(
    log: OfflineLog,
    estimators: Sequence[str] = DEFAULT_ESTIMATORS,
    n_bootstrap_samples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    window: float = 10.0,
    half_life: float = 10.0,
) -> pd.DataFrame:
    """One row per (policy, estimator): estimate, ci_low, ci_high (in ``log.unit``). Intervals
    resample users when the log has user ids (a user's slates over time are correlated: their
    state carries over), else slates when it has slate ids, else rows. The drift-aware estimators
    (``offline.recent``) use ``window`` or ``half_life``, in the log's time unit."""
    unknown = [e for e in estimators if e not in ESTIMATORS and e not in RECENT_ESTIMATORS]
    if unknown:
        known = ", ".join([*ESTIMATORS, *RECENT_ESTIMATORS])
        raise ValueError(f"unknown estimator(s) {', '.join(unknown)}; known: {known}")
    fb = log.feedback
    if fb.timestamp is None and any(e in RECENT_ESTIMATORS for e in estimators):
        raise ValueError(
            "the drift-aware estimators need the time of every row, and this log has none (a driftrec log's "
            "step column, OBD's timestamp)"
        )
    if "iips" in estimators and fb.slate_id is None:
        estimators = [e for e in estimators if e != "iips"]
    q = position_ctr(fb)
    unit = fb.user_id if fb.user_id is not None else fb.slate_id  # the bootstrap's resampling unit
    rows = []
    for t in log.targets:
        for name in estimators:
            est = make_recent(name, window, half_life) if name in RECENT_ESTIMATORS else ESTIMATORS[name]()
            kw: dict[str, Any] = dict(
                reward=fb.reward,
                action=fb.action,
                position=fb.position,
                evaluation_policy_pscore=t.pi,
                slate_id=unit,
            )
            if name == "iips":
                kw = dict(
                    slate_id=fb.slate_id,
                    reward=fb.reward,
                    position=fb.position,
                    pscore_item_position=fb.pscore,
                    evaluation_policy_pscore_item_position=t.pi,
                )
                scale = 1.0
            else:
                kw["pscore"] = fb.pscore
                scale = log.scale
            if name in RECENT_ESTIMATORS:
                kw["timestamp"] = fb.timestamp
            if name == "dr":
                kw.update(estimated_reward_logged=q, estimated_reward_target=q)
            elif name == "dm":
                # refit on a bootstrap sample, the position-CTR model's DM value is that sample's mean
                # reward; the rewards as per-row terms give that interval (a model fitted once and held
                # fixed would claim DM has no uncertainty)
                kw.update(estimated_reward_logged=q, estimated_reward_target=fb.reward)
            value = est.estimate_policy_value(**kw)
            ci = est.estimate_interval(alpha=alpha, n_bootstrap_samples=n_bootstrap_samples, random_state=seed, **kw)
            lo, hi = (ci[k] for k in ci if "CI" in k)
            rows.append(
                {
                    "policy": t.name,
                    "estimator": name,
                    "estimate": value * scale,
                    "ci_low": lo * scale,
                    "ci_high": hi * scale,
                }
            )
    return pd.DataFrame(rows)


def format_estimates(table: pd.DataFrame, unit: str) -> str:
    head = ["policy", "estimator", "estimate", "95% CI", *(["truth"] if "truth" in table.columns else [])]
    rows = []
    for r in table.itertuples():
        row = [r.policy, r.estimator, f"{r.estimate:.5f}", f"[{r.ci_low:.5f}, {r.ci_high:.5f}]"]
        if "truth" in table.columns:
            row.append(f"{r.truth:.5f}")
        rows.append(row)
    return f"estimates ({unit}):\n" + text_table([head, *rows])


def _validation(name: str) -> Any:
    from driftrec.experiments.offline import validation

    return getattr(validation, name)


__getattr__ = moved_names(
    __name__, {n: (f"driftrec.experiments.offline.validation.{n}", lambda n=n: _validation(n)) for n in MOVED}
)
