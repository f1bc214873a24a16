"""Calibrate interest drift on real timelines: measure it on MovieLens or any interaction log
(``experiments.offline.interactions``), fit the simulator to it.

A user's timeline is the sequence of items they rated, in time order. Cut it into blocks of
``block`` consecutive items; a block's *centroid* is the normalised mean of its item vectors.
Per user we measure

- ``lag_cos[L]``: mean cosine between centroids L blocks apart (L = 1..max_lag): how fast the
  centre of recent interest moves away (gradual drift bends this curve down with L);
- ``step_move``: mean ``1 - cos`` between consecutive centroids (movement per block);
- ``jump_rate``: share of consecutive centroid pairs whose cosine is below ``tau`` (a jump);
  ``tau`` is the 10th percentile of consecutive-centroid cosines over all real pairs;
- on real data only, ``day_move``: mean ``1 - cos`` between the centroids of consecutive active days,
  and ``days_between``: median gap in days between active days.

Real ratings are self-directed consumption (users rate what they chose to watch), so the simulator
gives the same statistics on self-directed timelines: at each step a simulated user picks one item
of the whole catalog with probability proportional to its attraction (the click model on true
utility), consumes it and drifts (``Simulator.self_directed_step``). ``fit`` grid-searches the
choice sharpness ``beta``, ``drift_scale`` and ``shift_hazard`` so that the simulated medians match
the real medians, and reports both with the real spread (10th-90th percentile over users).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from driftrec.encoders.checks import check_int
from driftrec.experiments.online.drift_stats import (  # noqa: F401  (defined here before)
    CENTRE,
    STATS,
    DriftStats,
    block_centroids,
    consecutive_cosines,
    daily_stats,
    drift_stats,
    real_sequences,
)
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.population import Population
from driftrec.simulators.rng import seeds_to_keys, user_seeds
from driftrec.simulators.scenarios import PRESETS, Scenario, make_scenario
from driftrec.simulators.simulation import Simulator


def simulated_sequences(
    scenario: Scenario,
    catalog: Catalog,
    population: Population | None,
    users: int,
    steps: int,
    seed: int,
    device: str = "cpu",
) -> list[np.ndarray]:
    """Self-directed timelines: the item each simulated user chose at each step, with no
    recommender (``Simulator.self_directed_step``), as catalog rows; one item per step, like one
    rating per step in the real timelines."""
    sim = Simulator(scenario, catalog, device, population=population)
    state = sim.init(seeds_to_keys(user_seeds(seed, users)))
    chosen = []
    for _ in range(steps):
        state, item = sim.self_directed_step(state)
        chosen.append(item)
    rows = torch.stack(chosen, 1).cpu().numpy()
    return list(rows)


@dataclass
class FitResult:
    """The grid, the distance of each grid point, and the best point's statistics."""

    grid: pd.DataFrame
    best: dict[str, float]
    sim: DriftStats


def distance(real: DriftStats, sim: DriftStats) -> float:
    """How far the simulated statistics are from the real ones: the sum of squared differences of
    the lag-curve medians, the step-movement median and the mean jump rate, each divided by the
    real 10th-90th percentile width (so every statistic counts in units of the real spread)."""
    r, s = real.summary(), sim.summary()
    terms = []
    for lag, (rm, lo, hi) in enumerate(
        zip(r["lag_cos"]["median"], r["lag_cos"]["p10"], r["lag_cos"]["p90"], strict=True)
    ):
        sm = s["lag_cos"]["median"][lag]  # type: ignore[index]
        if np.isfinite(sm):
            terms.append((sm - rm) / (hi - lo))
    for name, key in CENTRE.items():
        terms.append((s[name][key] - r[name][key]) / (r[name]["p90"] - r[name]["p10"]))  # type: ignore[operator]
    return float(np.sum(np.square(terms)))


FIT_KEYS = ("beta", "drift_scale", "shift_hazard")
"""The parameters ``fit`` searches: choice sharpness (how coherent consumption is), gradual drift
and abrupt shifts (how fast the lag curve falls)."""


def fit(
    real: DriftStats,
    base: Scenario,
    catalog: Catalog,
    population: Population | None,
    grid: dict[str, Sequence[float]],
    *,
    users: int,
    steps: int,
    seed: int,
    block: int,
    max_lag: int,
    device: str = "cpu",
    on_point: Callable[[], None] | None = None,
) -> FitResult:
    """Grid search over ``grid`` (a list of values for each of ``FIT_KEYS``) on ``base``; every
    point uses the same seed (common random numbers), the closest to the real medians wins."""
    E = catalog.embeddings.cpu().numpy()
    rows: list[dict[str, float]] = []
    best, best_stats = None, None
    for values in itertools.product(*(grid[k] for k in FIT_KEYS)):
        params = {k: float(v) for k, v in zip(FIT_KEYS, values, strict=True)}
        seqs = simulated_sequences(base.replace(**params), catalog, population, users, steps, seed, device)
        st = drift_stats(seqs, E, block, max_lag, real.tau)
        summ = st.summary()
        rows.append(
            {
                **params,
                "distance": distance(real, st),
                "lag1_cos": summ["lag_cos"]["median"][0],  # type: ignore[index]
                "step_move": summ["step_move"]["median"],  # type: ignore[dict-item]
                "jump_rate": summ["jump_rate"]["mean"],  # type: ignore[dict-item]
            }
        )
        if best is None or rows[-1]["distance"] < best["distance"]:
            best, best_stats = rows[-1], st
        if on_point is not None:
            on_point()
    assert best is not None and best_stats is not None
    return FitResult(pd.DataFrame(rows), {k: best[k] for k in FIT_KEYS}, best_stats)


def within_spread(real: DriftStats, sim: DriftStats) -> dict[str, bool]:
    """For each statistic (and each lag), whether the simulated median (the mean for the jump
    rate, whose per-user values are coarse fractions) lies in the real 10th-90th percentile range
    over users."""
    r, s = real.summary(), sim.summary()
    out = {}
    for name, key in CENTRE.items():
        out[name] = bool(r[name]["p10"] <= s[name][key] <= r[name]["p90"])  # type: ignore[operator]
    for L, (lo, hi, m) in enumerate(
        zip(r["lag_cos"]["p10"], r["lag_cos"]["p90"], s["lag_cos"]["median"], strict=True), start=1
    ):
        if np.isfinite(m):
            out[f"lag_cos[{L}]"] = bool(lo <= m <= hi)
    return out


def plot_calibration(
    real: DriftStats,
    sim: DriftStats,
    path: str,
    block: int,
    random_level: Sequence[float] | None = None,
    real_label: str = "MovieLens",
) -> None:
    """Real vs simulated: the lag curve (median, 10th-90th band; dashed: random item sequences)
    and per-user histograms of movement per block and jump rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from driftrec.experiments.common.io import atomic_write

    r, s = real.summary(), sim.summary()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    lags = np.arange(1, real.lag_cos.shape[1] + 1)
    for st, summ, label, color in ((real, r, f"{real_label} (real)", "C0"), (sim, s, "simulated", "C1")):
        ax = axes[0]
        ax.plot(lags, summ["lag_cos"]["median"], "o-", color=color, label=f"{label} median")
        ax.fill_between(lags, summ["lag_cos"]["p10"], summ["lag_cos"]["p90"], color=color, alpha=0.15)
        for ax, name in zip(axes[1:], STATS, strict=True):
            v = getattr(st, name)
            stat = CENTRE[name]
            centre = float(np.mean(v)) if stat == "mean" else float(np.median(v))
            ax.hist(
                v,
                bins=30,
                range=(0, max(1e-3, float(np.nanmax(getattr(real, name))))),
                alpha=0.5,
                color=color,
                density=True,
                label=f"{label} ({stat} {centre:.3f})",
            )
    if random_level is not None:
        axes[0].plot(lags, random_level, "k--", lw=1, label="random item sequences")
    axes[0].set(
        xlabel=f"lag (blocks of {block} items)",
        ylabel="cosine between block centroids",
        title="How far recent interest moves with lag",
    )
    axes[1].set(
        xlabel="mean 1 - cos between consecutive centroids",
        ylabel="users (density)",
        title="Movement per block, per user",
    )
    axes[2].set(
        xlabel=f"share of consecutive pairs with cos < {real.tau:.3f}",
        ylabel="users (density)",
        title="Jump rate, per user",
    )
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


@dataclass(frozen=True)
class CalibrateConfig:
    """Settings of ``calibrate``: real-data blocking, simulation size, and the fit grid."""

    timelines: str = "movielens"
    """movielens, or an interaction log (CSV, TSV or parquet: one row per event, each user's events in time order;
    timestamps in seconds for the per-day statistics) whose columns --columns names"""
    block: int = 5
    """rated items per centroid block"""
    max_lag: int = 8
    """largest lag, in blocks"""
    users: int = 128
    """simulated users per grid point"""
    steps: int = 100
    """simulated steps (items) per user"""
    seed: int = 1
    """seed of the simulated users"""
    beta: tuple[float, ...] = (10.0, 20.0, 40.0, 60.0)
    """beta grid"""
    drift_scale: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    """drift_scale grid"""
    shift_hazard: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1)
    """shift_hazard grid"""
    base: str = "stable"
    """the preset the fitted scenario starts from"""
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.timelines != "movielens" and not Path(self.timelines).expanduser().is_file():
            raise ValueError(
                f"timelines {self.timelines!r} is neither movielens nor an existing file (CSV, TSV or parquet)"
            )
        for key in ("block", "max_lag", "users", "steps"):
            check_int(key, getattr(self, key), 1)
        if self.steps < 2 * self.block:
            raise ValueError(
                f"steps={self.steps} gives fewer than two blocks of {self.block}; use steps >= {2 * self.block}"
            )
        for key in FIT_KEYS:
            if not getattr(self, key):
                raise ValueError(f"the {key} grid is empty; give at least one value")

    @property
    def grid(self) -> dict[str, Sequence[float]]:
        return {k: getattr(self, k) for k in FIT_KEYS}


def calibrate(
    cfg: CalibrateConfig, catalog: Catalog, population: Population | None, ratings: pd.DataFrame, progress: bool = True
) -> dict[str, Any]:
    """Measure the real statistics, fit the simulator, and return everything ``summary.json``
    holds (plus ``"_real"``, ``"_sim"`` DriftStats and ``"_grid"`` DataFrame for plots and CSV)."""
    from tqdm.auto import tqdm

    E = catalog.embeddings.cpu().numpy()
    seqs, days = real_sequences(ratings, catalog)
    tau = float(np.quantile(consecutive_cosines(seqs, E, cfg.block), 0.1))
    real = drift_stats(seqs, E, cfg.block, cfg.max_lag, tau)
    rng = np.random.default_rng(cfg.seed)
    random_seqs = [rng.integers(0, len(E), cfg.block * (cfg.max_lag + 1) * 4) for _ in range(200)]
    random_level = drift_stats(random_seqs, E, cfg.block, cfg.max_lag, tau).summary()["lag_cos"]["median"]
    base = make_scenario(cfg.base)
    total = int(np.prod([len(v) for v in cfg.grid.values()]))
    with tqdm(total=total, desc="calibrate: fitting", unit="point", disable=not progress) as bar:
        sizes = {k: getattr(cfg, k) for k in ("users", "steps", "seed", "block", "max_lag", "device")}
        result = fit(real, base, catalog, population, cfg.grid, **sizes, on_point=bar.update)
    fitted = base.replace(**result.best)
    if cfg.timelines == "movielens":
        fitted = dataclasses.replace(fitted, name="movielens", description=MOVIELENS_DESCRIPTION)
    else:
        name = scenario_name(cfg.timelines)
        fitted = dataclasses.replace(fitted, name=name, description=f"fitted by driftrec calibrate to {cfg.timelines}")
    return {
        "timelines": cfg.timelines,
        "settings": dataclasses.asdict(cfg),
        "fitted": result.best,
        "tau": tau,
        "real": {**real.summary(), **daily_stats(seqs, days, E)},
        "simulated": result.sim.summary(),
        "random_sequences_lag_cos": random_level,
        "within_spread": within_spread(real, result.sim),
        "scenario": fitted.to_dict(),
        "_real": real,
        "_sim": result.sim,
        "_grid": result.grid,
    }


def format_calibration(res: dict[str, Any]) -> str:
    """Plain-text table of ``calibrate``'s result: fitted parameters, then each statistic's real
    value, real 10th-90th percentile, simulated value and whether it lies within."""
    real, sim = res["real"], res["simulated"]
    lines = []
    lines.append(f"fitted: {', '.join(f'{k}={v:g}' for k, v in res['fitted'].items())}")
    rows = [("statistic", "real", "real p10-p90", "simulated", "within")]
    for name, key in CENTRE.items():
        r = real[name]
        rows.append(
            (
                f"{name} ({key})",
                f"{r[key]:.4f}",
                f"{r['p10']:.4f}-{r['p90']:.4f}",
                f"{sim[name][key]:.4f}",
                str(res["within_spread"][name]),
            )
        )
    for lag, (m, lo, hi, s) in enumerate(
        zip(
            real["lag_cos"]["median"],
            real["lag_cos"]["p10"],
            real["lag_cos"]["p90"],
            sim["lag_cos"]["median"],
            strict=True,
        ),
        start=1,
    ):
        rows.append(
            (
                f"lag_cos[{lag}] (median)",
                f"{m:.4f}",
                f"{lo:.4f}-{hi:.4f}",
                f"{s:.4f}",
                str(res["within_spread"].get(f"lag_cos[{lag}]", "n/a")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(
        f"real, per active day: movement {real['day_move_median']:.4f}, {real['days_between_median']:g} days "
        f"between active days, {real['items_per_active_day_median']:.1f} ratings per active day (medians)"
    )
    return "\n".join(lines)


MOVIELENS_DESCRIPTION = PRESETS["movielens"].description


def scenario_name(timelines: str) -> str:
    """The name of the scenario fitted to ``timelines`` (and its file's stem: NAME_scenario.json)."""
    return "movielens" if timelines == "movielens" else Path(timelines).stem
