"""Plots of experiment results (PNG, written atomically)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftrec.experiments.io import atomic_write


def plot_clicks_over_time(curves: pd.DataFrame, path: str | Path, smooth: int = 10) -> Path:
    """One panel per scenario: mean clicks per step over time for each agent (mean over seeds,
    moving average over ``smooth`` steps), with the seed range shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return out
