"""Soak: a long batched run of every preset, checking the state's invariants as it goes.

Every ``check_every`` steps the hidden and recommender state is checked: no NaN or infinity in any
tensor; unit vectors (interest facets, mission topics, intents, short and long profiles) with norm
1 within ``tolerance``; fatigue norms at most 1; facet weights on the simplex; weights in [0, 1].
Actions are random weights per user and step (from the run's seeded generator), so every corner of
the action space is exercised. Resident memory is read after a warm-up and at the end.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from driftrec.encoders.checks import check_int
from driftrec.envs import DriftVecEnv, default_catalog, resolve_device
from driftrec.experiments.common.rollout import RandomWeights, Step, rollout
from driftrec.experiments.online.runner import text_table
from driftrec.simulators.scenarios import PRESETS, make_scenario
from driftrec.simulators.state import SimState

UNIT_FIELDS = ("user.facets", "user.mission_topic", "user.intent", "rec.short", "rec.long")
"""State tensors whose rows (last dimension) are unit vectors."""


@dataclass(frozen=True)
class SoakConfig:
    """``user_steps`` per preset on ``users`` users (so user_steps / users steps), on the synthetic
    catalog of ``items`` items in ``dim`` dimensions; invariants checked every ``check_every`` steps,
    unit norms to within ``tolerance``."""

    scenarios: list[str] = field(default_factory=lambda: list(PRESETS))
    """presets or 'all'"""
    user_steps: int = 1_000_000
    """user-steps per preset"""
    users: int = 1024
    """users simulated at once"""
    items: int = 1000
    """items in the synthetic catalog"""
    dim: int = 64
    """embedding dimension"""
    check_every: int = 10
    """steps between state checks"""
    tolerance: float = 1e-4
    """allowed | norm - 1 | of unit vectors"""
    warmup: int = 20
    """steps before the first memory reading"""
    seed: int = 0
    """seed of the users and the random weights"""
    device: str = "cpu"

    def __post_init__(self) -> None:
        for key in ("user_steps", "users", "items", "dim", "check_every", "warmup"):
            check_int(key, getattr(self, key), 1)
        if not self.scenarios:
            raise ValueError("give at least one scenario")
        for s in self.scenarios:
            make_scenario(s)
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must be in (0, 1), got {self.tolerance}")

    @property
    def steps(self) -> int:
        return math.ceil(self.user_steps / self.users)


def rss_mib() -> float:
    """This process's resident memory now, in MiB (Linux /proc; the peak elsewhere)."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_state(state: SimState) -> dict[str, float]:
    """Invariant violations of one state: {"nonfinite": count of NaN/inf entries, "norm_err": largest
    | ||v|| - 1 | over ``UNIT_FIELDS``, "fatigue_excess": largest ||fatigue|| - 1 (<= 0 is fine),
    "simplex_err": largest |sum of facet weights - 1| or negative weight, "weights_out": largest
    distance of a weight outside [0, 1]}."""
    nonfinite = 0
    for part in (state.user, state.rec):
        for f in dataclasses.fields(part):
            t = getattr(part, f.name)
            if t.is_floating_point():
                nonfinite += int((~torch.isfinite(t)).sum())
    norm_err = 0.0
    for name in UNIT_FIELDS:
        part, attr = name.split(".")
        v = getattr(getattr(state, part), attr)
        norm_err = max(norm_err, float((v.norm(dim=-1) - 1).abs().max()))
    fw = state.user.facet_weights
    simplex = max(float((fw.sum(-1) - 1).abs().max()), float((-fw).clamp_min(0).max()))
    w = state.rec.weights
    return {
        "nonfinite": nonfinite,
        "norm_err": norm_err,
        "fatigue_excess": float(state.user.fatigue.norm(dim=-1).max() - 1),
        "simplex_err": simplex,
        "weights_out": float(torch.maximum(-w, w - 1).clamp_min(0).max()),
    }


class _Checks:
    """Rollout recorder of a soak run: the worst of every check (on the first state, every
    ``check_every`` steps and the last), the clicks, and the memory after the warm-up."""

    def __init__(self, cfg: SoakConfig) -> None:
        self.cfg = cfg
        self.worst: dict[str, float] | None = None
        self.clicks = 0.0
        self.rss_start: float | None = None

    def record(self, env: DriftVecEnv, step: Step) -> None:
        t, cfg = step.t, self.cfg
        if t == 0:
            self.worst = check_state(step.state)
        self.clicks += float(step.reward.sum())
        if t + 1 == cfg.warmup:
            self.rss_start = rss_mib()
        if (t + 1) % cfg.check_every == 0 or t + 1 == cfg.steps:
            now = check_state(env.state)
            self.worst = {k: max(self.worst[k], now[k]) for k in self.worst}


def soak_preset(scenario: str, cfg: SoakConfig, progress: bool = False) -> dict[str, Any]:
    """Run one preset (see module docstring); the worst of every check, memory and speed."""
    from tqdm.auto import tqdm

    device = resolve_device(cfg.device)
    catalog = default_catalog(cfg.items, cfg.dim)
    env = DriftVecEnv(scenario, cfg.users, catalog=catalog, device=device, array="torch")
    checks = _Checks(cfg)
    with tqdm(total=cfg.steps, desc=scenario, unit="step", disable=not progress, leave=False) as bar:
        run = rollout(env, RandomWeights(cfg.seed), cfg.steps, seed=cfg.seed, record=[checks], on_step=bar.update)
    worst, clicks, rss_start, wall = checks.worst, checks.clicks, checks.rss_start, run.wall_s
    user_steps = cfg.steps * cfg.users
    ok = (
        worst["nonfinite"] == 0
        and worst["norm_err"] <= cfg.tolerance
        and worst["fatigue_excess"] <= cfg.tolerance
        and worst["simplex_err"] <= cfg.tolerance
        and worst["weights_out"] == 0
    )
    rss_end = rss_mib()
    return {
        "scenario": scenario,
        "user_steps": user_steps,
        "steps": cfg.steps,
        "clicks_per_step": clicks / user_steps,
        **worst,
        "ok": ok,
        "rss_start_mib": rss_start if rss_start is not None else rss_end,
        "rss_end_mib": rss_end,
        "wall_s": wall,
        "user_steps_per_s": user_steps / wall,
    }


def soak(cfg: SoakConfig, progress: bool = True) -> list[dict[str, Any]]:
    """``soak_preset`` for every scenario of ``cfg``, in order."""
    return [soak_preset(s, cfg, progress) for s in cfg.scenarios]


def format_soak(rows: list[dict[str, Any]]) -> str:
    """The soak table: per preset, the checks, memory at the start and end, and speed."""
    head = ("scenario", "user-steps", "NaN/inf", "max |norm-1|", "simplex err", "RSS start", "RSS end")
    head += ("user-steps/s", "ok")
    table = [head]
    for r in rows:
        table.append(
            (
                r["scenario"],
                f"{r['user_steps']:,}",
                str(r["nonfinite"]),
                f"{r['norm_err']:.1e}",
                f"{r['simplex_err']:.1e}",
                f"{r['rss_start_mib']:,.0f} MiB",
                f"{r['rss_end_mib']:,.0f} MiB",
                f"{r['user_steps_per_s']:,.0f}",
                "yes" if r["ok"] else "NO",
            )
        )
    return text_table(table)
