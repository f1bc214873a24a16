"""Do the presets mean the same on every catalog? The portability table.

For each catalog and preset: the grid-tuned constant (``best-fixed``, tuned on the tuning seeds),
the oracle and the random recommender on the same users of held-out seeds (``compare`` without
PPO). Each seed's clicks per step of best-fixed and random are divided by the oracle's on that
seed; the table reports those shares with 95% t-intervals over seeds. A preset is portable when
the share of best-fixed, and the share of random, differ by at most ``tolerance`` (0.10) between
any two catalogs; the ordering check asks oracle > best-fixed > random with separated intervals
of clicks per step on every catalog.

    driftrec portability --out runs/portability      # synthetic, MovieLens, courses
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from driftrec.experiments.common.stats import mean_ci95
from driftrec.experiments.online.compare import CompareConfig, TuningConfig, compare
from driftrec.experiments.online.runner import build_catalog, build_population, text_table
from driftrec.simulators import MODEL_VERSION
from driftrec.simulators.catalog import Catalog

PORTABILITY_PRESETS = ("stable", "abrupt", "missions", "boredom")
PORTABILITY_CATALOGS = ("synthetic", "movielens", "courses")
TOLERANCE = 0.10


@dataclass(frozen=True)
class PortabilityConfig:
    """catalogs: names or files (``load_catalog``); scenarios: presets; seeds: held-out seeds;
    users, steps: per seed; tuning: the best-fixed grid search; population: where users start
    ("items": near random items on every catalog, so catalogs are compared on equal terms);
    transform: the catalog transform; overrides: scenario parameters for every preset."""

    catalogs: list[str] = field(default_factory=lambda: list(PORTABILITY_CATALOGS))
    """catalogs: synthetic, movielens, courses or CSV/parquet files"""
    scenarios: list[str] = field(default_factory=lambda: list(PORTABILITY_PRESETS))
    """presets or 'all'"""
    seeds: list[int] = field(default_factory=lambda: [101, 102, 103, 104, 105])
    """held-out seeds"""
    users: int = 64
    """users per seed"""
    steps: int = 100
    """steps per run"""
    tuning: TuningConfig = field(default_factory=lambda: TuningConfig(users=32, steps=100))
    """the best-fixed grid search"""
    population: str = "items"
    """where users start: items (near random items, the same on every catalog)"""
    transform: str = "centre"
    items: int = 1000
    dim: int = 64
    device: str = "cpu"
    overrides: dict[str, Any] = field(default_factory=dict)
    tolerance: float = TOLERANCE
    """largest allowed spread of a share between catalogs"""

    def __post_init__(self) -> None:
        if not self.catalogs or not self.scenarios:
            raise ValueError("give at least one catalog and one scenario")
        if len(set(self.catalogs)) != len(self.catalogs):
            raise ValueError(f"catalogs must be distinct, got {self.catalogs}")
        # the compare config checks seeds, sizes and scenario names
        self.compare_config(self.scenarios)

    def compare_config(self, scenarios: Sequence[str]) -> CompareConfig:
        return CompareConfig(
            scenarios=list(scenarios),
            agents=["oracle", "random"],
            seeds=list(self.seeds),
            users=self.users,
            steps=self.steps,
            population=self.population,
            items=self.items,
            dim=self.dim,
            device=self.device,
            overrides=dict(self.overrides),
            tuning=self.tuning,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class PortabilityResult:
    """rows: one per (scenario, catalog) with clicks per step and shares; checks: per scenario."""

    config: PortabilityConfig
    rows: pd.DataFrame
    checks: pd.DataFrame
    catalogs: dict[str, dict[str, Any]]
    wall_s: float

    @property
    def passed(self) -> bool:
        return bool(self.checks["portable"].all() and self.rows["ordered"].all())

    def summary(self) -> dict[str, Any]:
        return {
            "model_version": MODEL_VERSION,
            "config": self.config.to_dict(),
            "catalogs": self.catalogs,
            "rows": self.rows.to_dict(orient="records"),
            "checks": self.checks.to_dict(orient="records"),
            "passed": self.passed,
            "wall_s": round(self.wall_s, 1),
        }


def _share(per_seed: dict[Any, float], oracle: dict[Any, float]) -> tuple[float, float, float]:
    return mean_ci95([per_seed[s] / oracle[s] for s in oracle])


def portability(
    cfg: PortabilityConfig,
    *,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    catalogs: dict[str, Catalog] | None = None,
) -> PortabilityResult:
    """Run the table (see the module docstring). ``catalogs`` may supply built catalogs by name."""
    say = log or (lambda _msg: None)
    start = time.perf_counter()
    rows, meta = [], {}
    for name in cfg.catalogs:
        cat = (catalogs or {}).get(name) or build_catalog(name, cfg.items, cfg.dim, progress, cfg.transform)
        pop = build_population(cfg.population, cat)
        meta[name] = {**cat.meta, "num_items": cat.num_items, "dim": cat.dim, "neighbour_cos": cat.neighbour_cos}
        say(f"catalog {name}: {cat.num_items} items, {cat.dim} dims, encoder {cat.meta.get('encoder')}")
        cres = compare(cfg.compare_config(cfg.scenarios), progress=progress, catalog=cat, population=pop)
        for sc in cfg.scenarios:
            r = cres.results[sc]
            o, b, x = r["oracle"], r["best-fixed"], r["random"]
            bs, rs = _share(b["per_seed"], o["per_seed"]), _share(x["per_seed"], o["per_seed"])
            rows.append(
                {
                    "scenario": sc,
                    "catalog": name,
                    "oracle": o["mean"],
                    "best_fixed": b["mean"],
                    "random": x["mean"],
                    "best_fixed_share": bs[0],
                    "best_fixed_share_ci95": [bs[1], bs[2]],
                    "random_share": rs[0],
                    "random_share_ci95": [rs[1], rs[2]],
                    "ordered": bool(o["ci95"][0] > b["ci95"][1] and b["ci95"][0] > x["ci95"][1]),
                    "best_fixed_weights": [cres.tuned[sc][k] for k in ("alpha", "mix", "explore")],
                }
            )
    table = pd.DataFrame(rows)
    checks = []
    for sc, g in table.groupby("scenario", sort=False):
        bf, rnd = g["best_fixed_share"], g["random_share"]
        spread_b, spread_r = float(bf.max() - bf.min()), float(rnd.max() - rnd.min())
        checks.append(
            {
                "scenario": sc,
                "best_fixed_spread": spread_b,
                "random_spread": spread_r,
                "portable": spread_b <= cfg.tolerance + 1e-12 and spread_r <= cfg.tolerance + 1e-12,
            }
        )
    return PortabilityResult(cfg, table, pd.DataFrame(checks), meta, time.perf_counter() - start)


def format_portability(res: PortabilityResult) -> str:
    """The table, then one line per scenario with the spreads and the verdicts."""
    head = ["scenario", "catalog", "oracle", "best-fixed", "random", "best-fixed/oracle", "random/oracle", "ordered"]
    rows = [head]
    for r in res.rows.itertuples():
        bl, bh = r.best_fixed_share_ci95
        rl, rh = r.random_share_ci95
        rows.append(
            [
                r.scenario,
                r.catalog,
                f"{r.oracle:.3f}",
                f"{r.best_fixed:.3f}",
                f"{r.random:.3f}",
                f"{r.best_fixed_share:.2f} [{bl:.2f}, {bh:.2f}]",
                f"{r.random_share:.3f} [{rl:.3f}, {rh:.3f}]",
                "yes" if r.ordered else "NO",
            ]
        )
    lines = [text_table(rows)]
    tol = res.config.tolerance
    for c in res.checks.itertuples():
        verdict = "portable" if c.portable else "NOT portable"
        lines.append(
            f"{c.scenario}: best-fixed share spread {c.best_fixed_spread:.2f}, random share spread "
            f"{c.random_spread:.3f} (allowed {tol:.2f}): {verdict}"
        )
    return "\n".join(lines)
