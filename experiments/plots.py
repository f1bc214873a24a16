"""Plots of experiment results (PNG, written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from driftrec.experiments.io import atomic_write


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    plt = _pyplot()
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return out


def plot_clicks_over_time(curves: pd.DataFrame, path: str | Path, smooth: int = 10) -> Path:
    """One panel per scenario: mean clicks per step over time for each agent (mean over seeds,
    moving average over ``smooth`` steps), with the seed range shaded."""
    plt = _pyplot()
    scenarios = list(dict.fromkeys(curves["scenario"]))
    ncols = min(3, len(scenarios))
    nrows = (len(scenarios) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.4 * nrows), squeeze=False, sharey=False)
    for ax, scenario in zip(axes.flat, scenarios, strict=False):
        sub = curves[curves["scenario"] == scenario]
        for agent, g in sub.groupby("agent", sort=False):
            wide = g.pivot(index="step", columns="seed", values="clicks_per_step")
            wide = wide.rolling(smooth, min_periods=1).mean()
            ax.plot(wide.index, wide.mean(axis=1), label=str(agent))
            ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), alpha=0.2)
        ax.set_title(scenario)
        ax.set_xlabel("step")
        ax.set_ylabel(f"clicks per step ({smooth}-step avg)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(scenarios) :]:
        ax.set_visible(False)
    return _save(fig, path)


def plot_shift_aligned(aligned: pd.DataFrame, path: str | Path, pre: int = 10) -> Path:
    """Clicks per step (top row) and the alpha each weight policy chose (bottom row) around an
    interest shift, one column per scenario that has shifts; offset 0 is the step of the shift.

    ``aligned`` has columns scenario, agent, offset, clicks_per_step, alpha (NaN for slate agents)
    and n_shifts (``CompareResult.frames()["aligned"]``)."""
    plt = _pyplot()
    has = aligned[aligned["n_shifts"] > 0]
    scenarios = list(dict.fromkeys(has["scenario"]))
    if not scenarios:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.text(0.5, 0.5, "no interest shifts in these scenarios", ha="center", va="center")
        ax.set_axis_off()
        return _save(fig, path)
    ncols = len(scenarios)
    fig, axes = plt.subplots(2, ncols, figsize=(4.2 * ncols, 6.4), squeeze=False, sharex=True)
    for col, scenario in enumerate(scenarios):
        sub = has[has["scenario"] == scenario]
        top, bottom = axes[0, col], axes[1, col]
        for agent, g in sub.groupby("agent", sort=False):
            top.plot(g["offset"], g["clicks_per_step"], label=str(agent))
            if g["alpha"].notna().any():
                bottom.plot(g["offset"], g["alpha"], label=str(agent))
        n = int(sub["n_shifts"].iloc[0])
        top.set_title(f"{scenario} ({n} shifts)")
        top.set_ylabel("clicks per step")
        bottom.set_ylabel("alpha chosen")
        bottom.set_xlabel("steps since the interest shift")
        for ax in (top, bottom):
            ax.axvline(0, color="k", ls="--", lw=1, label="interest shift" if ax is top else None)
            ax.grid(alpha=0.3)
        top.legend(fontsize=7)
        if bottom.lines:
            bottom.legend(fontsize=7)
    return _save(fig, path)


def plot_weights_over_time(weights: pd.DataFrame, path: str | Path, smooth: int = 5) -> Path:
    """The mean weights (alpha, mix, explore; rows) each weight policy chose at each step, one
    column per scenario (moving average over ``smooth`` steps)."""
    plt = _pyplot()
    scenarios = list(dict.fromkeys(weights["scenario"]))
    names = ("alpha", "mix", "explore")
    ncols = len(scenarios)
    fig, axes = plt.subplots(3, ncols, figsize=(4.2 * ncols, 7.5), squeeze=False, sharex=True)
    for col, scenario in enumerate(scenarios):
        sub = weights[weights["scenario"] == scenario]
        for row, w in enumerate(names):
            ax = axes[row, col]
            for agent, g in sub.groupby("agent", sort=False):
                ax.plot(g["step"], g[w].rolling(smooth, min_periods=1).mean(), label=str(agent))
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel(f"mean {w}")
            ax.grid(alpha=0.3)
        axes[0, col].set_title(scenario)
        axes[-1, col].set_xlabel("step")
        axes[0, col].legend(fontsize=7)
    return _save(fig, path)
