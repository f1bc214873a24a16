"""Plots of experiment results (PNG, written atomically). Every agent keeps one colour across
panels and plots (``agent_style``); each figure has one legend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from driftrec.experiments.common.io import atomic_write

_STYLES: dict[str, dict[str, Any]] = {
    "best-fixed": {"color": "#1f77b4"},
    "fixed": {"color": "#9ecae1"},
    "ppo": {"color": "#d62728", "lw": 2.4},
    "change-ctr": {"color": "#2ca02c"},
    "change-cosine": {"color": "#98df8a"},
    "1/t": {"color": "#9467bd"},
    "eps-greedy": {"color": "#8c564b"},
    "linucb": {"color": "#e377c2"},
    "d-linucb": {"color": "#ff7f0e"},
    "linucb-restart": {"color": "#bcbd22"},
    "oracle": {"color": "black", "ls": ":"},
    "weights-oracle": {"color": "#555555", "ls": "-."},
    "random": {"color": "#7f7f7f", "ls": "--"},
}
_EXTRA = ("#17becf", "#393b79", "#e7ba52", "#843c39", "#7b4173", "#637939")


def agent_style(agent: str) -> dict[str, Any]:
    """Line style of ``agent`` (colour, width, dash), the same in every plot."""
    if agent in _STYLES:
        return {"lw": 1.5, **_STYLES[agent]}
    return {"lw": 1.5, "color": _EXTRA[sum(map(ord, agent)) % len(_EXTRA)]}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ticker() -> Any:
    import matplotlib.ticker

    return matplotlib.ticker


def _save(fig: Any, path: str | Path, legend_axes: Any = None, ncol: int = 6) -> Path:
    """Tight layout, one figure legend below the panels (from ``legend_axes``' lines), atomic PNG."""
    plt = _pyplot()
    handles: dict[str, Any] = {}
    for ax in legend_axes if legend_axes is not None else []:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.tight_layout()
    if handles:
        fig.subplots_adjust(bottom=fig.subplotpars.bottom + 0.55 / fig.get_figheight())
        fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(ncol, len(handles)), fontsize=9)
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
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.4 * nrows + 0.6), squeeze=False)
    for ax, scenario in zip(axes.flat, scenarios, strict=False):
        sub = curves[curves["scenario"] == scenario]
        for agent, g in sub.groupby("agent", sort=False):
            wide = g.pivot(index="step", columns="seed", values="clicks_per_step")
            wide = wide.rolling(smooth, min_periods=1).mean()
            style = agent_style(str(agent))
            ax.plot(wide.index, wide.mean(axis=1), label=str(agent), **style)
            ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), alpha=0.15, color=style["color"])
        ax.set_title(scenario)
        ax.set_xlabel("step")
        ax.set_ylabel(f"clicks per step ({smooth}-step avg)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(scenarios) :]:
        ax.set_visible(False)
    return _save(fig, path, axes.flat)


def plot_shift_aligned(aligned: pd.DataFrame, path: str | Path, pre: int = 10) -> Path:
    """Clicks per step (top row) and the alpha each weight policy chose (bottom row) around an
    interest shift, one column per scenario that has shifts; offset 0 is the step of the shift.
    The oracle is left out (it knows the shift; its level would flatten the others).

    ``aligned`` has columns scenario, agent, offset, clicks_per_step, alpha (NaN for slate agents)
    and n_shifts (``CompareResult.frames()["aligned"]``)."""
    plt = _pyplot()
    has = aligned[(aligned["n_shifts"] > 0) & (aligned["agent"] != "oracle")]
    scenarios = list(dict.fromkeys(has["scenario"]))
    if not scenarios:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.text(0.5, 0.5, "no interest shifts in these scenarios", ha="center", va="center")
        ax.set_axis_off()
        return _save(fig, path)
    ncols = len(scenarios)
    fig, axes = plt.subplots(2, ncols, figsize=(4.4 * ncols, 7.0), squeeze=False, sharex=True)
    for col, scenario in enumerate(scenarios):
        sub = has[has["scenario"] == scenario]
        top, bottom = axes[0, col], axes[1, col]
        for agent, g in sub.groupby("agent", sort=False):
            style = agent_style(str(agent))
            top.plot(g["offset"], g["clicks_per_step"], label=str(agent), **style)
            if g["alpha"].notna().any():
                bottom.plot(g["offset"], g["alpha"], label=str(agent), **style)
        n = int(sub["n_shifts"].iloc[0])
        top.set_title(f"{scenario} ({n} shifts)")
        top.set_ylabel("clicks per step")
        bottom.set_ylabel("alpha chosen")
        bottom.set_xlabel("steps since the interest shift")
        bottom.set_ylim(-0.03, 1.03)
        for ax in (top, bottom):
            ax.axvline(0, color="k", ls="--", lw=1, label="interest shift")
            ax.grid(alpha=0.3)
    return _save(fig, path, axes.flat, ncol=7)


def plot_weights_over_time(weights: pd.DataFrame, path: str | Path, smooth: int = 5) -> Path:
    """The mean weights (alpha, mix, explore; columns) each weight policy chose at each step, one
    row per scenario (moving average over ``smooth`` steps)."""
    plt = _pyplot()
    scenarios = list(dict.fromkeys(weights["scenario"]))
    names = ("alpha", "mix", "explore")
    fig, axes = plt.subplots(len(scenarios), 3, figsize=(13, 2.4 * len(scenarios) + 0.8), squeeze=False, sharex=True)
    for row, scenario in enumerate(scenarios):
        sub = weights[weights["scenario"] == scenario]
        for col, w in enumerate(names):
            ax = axes[row, col]
            for agent, g in sub.groupby("agent", sort=False):
                ax.plot(g["step"], g[w].rolling(smooth, min_periods=1).mean(), label=str(agent), **agent_style(agent))
            ax.set_ylim(-0.03, 1.03)
            ax.set_title(f"{scenario}: {w}", fontsize=10)
            ax.set_ylabel(f"mean {w}")
            ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    return _save(fig, path, axes.flat)


def plot_estimates(table: pd.DataFrame, path: str | Path, unit: str) -> Path:
    """Off-policy estimates with their intervals: one row per (policy, estimator), grouped by
    policy; ``table`` has columns policy, estimator, estimate, ci_low, ci_high."""
    plt = _pyplot()
    n = len(table)
    fig, ax = plt.subplots(figsize=(7.5, max(2.6, 1.2 + 0.32 * n)))
    estimators = list(dict.fromkeys(table.estimator))
    colours = {e: _EXTRA[i % len(_EXTRA)] for i, e in enumerate(estimators)}
    labels = []
    for y, r in enumerate(table.itertuples()):
        ax.errorbar(
            r.estimate,
            -y,
            xerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]],
            fmt="o",
            color=colours[r.estimator],
            capsize=3,
            label=r.estimator,
        )
        labels.append(f"{r.policy} / {r.estimator}")
    ax.set_yticks([-y for y in range(n)], labels, fontsize=8)
    ax.set_xlabel(f"estimated value ({unit}), 95% bootstrap interval")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path, [ax])


def plot_validation(reps: pd.DataFrame, path: str | Path) -> Path:
    """The simulator check: every repetition's 95% interval relative to the truth, one panel per
    target policy, one row of intervals per estimator; red where the interval misses the truth."""
    plt = _pyplot()
    policies = list(dict.fromkeys(reps.policy))
    estimators = list(dict.fromkeys(reps.estimator))
    fig, axes = plt.subplots(
        1, len(policies), figsize=(4.2 * len(policies), 1.2 + 0.9 * len(estimators)), squeeze=False
    )
    n_reps = reps.rep.nunique()
    for ax, pol in zip(axes[0], policies, strict=True):
        sub = reps[reps.policy == pol]
        for i, est in enumerate(estimators):
            rows = sub[sub.estimator == est].sort_values("rep")
            for j, r in enumerate(rows.itertuples()):
                y = i + (j - n_reps / 2) / (n_reps + 2)
                lo, hi, mid = ((v - r.truth) / r.truth * 100 for v in (r.ci_low, r.ci_high, r.estimate))
                colour = "#1f77b4" if r.covered else "#d62728"
                ax.plot([lo, hi], [y, y], color=colour, lw=1.2)
                ax.plot([mid], [y], "o", color=colour, ms=2.5)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(range(len(estimators)), estimators)
        ax.invert_yaxis()
        ax.set_title(pol, fontsize=10)
        ax.set_xlabel("interval and estimate vs truth (%)")
    return _save(fig, path)


def plot_sequential_validation(summary: pd.DataFrame, path: str | Path, ess_floor: float = 30.0) -> Path:
    """The sequential check against the horizon: per target, the coverage of the 95% intervals and
    the mean |relative error| of each estimator (log-scaled), with the mean effective sample size
    and its floor (dashed)."""
    plt = _pyplot()
    targets = list(dict.fromkeys(summary.target))
    fig, axes = plt.subplots(3, len(targets), figsize=(4.2 * len(targets), 7.5), squeeze=False, sharex=True)
    for col, tgt in enumerate(targets):
        sub = summary[summary.target == tgt]
        for est in dict.fromkeys(sub.estimator):
            rows = sub[sub.estimator == est].sort_values("horizon")
            axes[0][col].plot(rows.horizon, rows.coverage * 100, "o-", label=est, ms=3)
            axes[1][col].plot(rows.horizon, rows.mean_abs_rel_error * 100, "o-", label=est, ms=3)
        ess = sub.groupby("horizon").mean_ess.first()
        axes[2][col].plot(ess.index, ess.values, "o-", color="black", ms=3)
        axes[0][col].axhline(90, color="grey", lw=0.8, ls="--")
        axes[0][col].set_title(tgt, fontsize=10)
        axes[1][col].set_yscale("log")
        axes[2][col].set_yscale("log")
        axes[2][col].set_xscale("log")
        axes[2][col].set_xlabel("horizon H (steps)")
        horizons = sorted(set(sub.horizon))
        axes[2][col].set_xticks(horizons, [str(h) for h in horizons])
        axes[2][col].xaxis.set_minor_locator(_ticker().NullLocator())
        for row in (1, 2):
            axes[row][col].yaxis.set_major_locator(_ticker().LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axes[row][col].yaxis.set_major_formatter(_ticker().FuncFormatter(lambda v, _: f"{v:g}"))
            axes[row][col].yaxis.set_minor_formatter(_ticker().NullFormatter())
        axes[0][col].set_ylim(-3, 103)
        axes[2][col].axhline(ess_floor, color="grey", lw=0.8, ls="--")
    axes[0][0].set_ylabel("coverage (%)")
    axes[1][0].set_ylabel("mean |rel. error| (%)")
    axes[2][0].set_ylabel("mean ESS (trajectories)")
    return _save(fig, path, legend_axes=[axes[0][0]])


def plot_replay(results: dict[str, dict[str, Any]], path: str | Path, k: int) -> Path:
    """HR@k and NDCG@k per strategy with 95% intervals over users (one panel each)."""
    plt = _pyplot()
    agents = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.9 + 0.38 * len(agents)), squeeze=False)
    for ax, metric, label in zip(axes[0], ("hr", "ndcg"), (f"HR@{k}", f"NDCG@{k}"), strict=True):
        for y, a in enumerate(agents):
            r = results[a]
            lo, hi = r[f"{metric}_ci95"]
            colour = agent_style(a.split(" ")[0])["color"]
            ax.barh(-y, r[metric], color=colour, alpha=0.85)
            ax.errorbar(r[metric], -y, xerr=[[r[metric] - lo], [hi - r[metric]]], fmt="none", color="black", capsize=3)
        ax.set_yticks([-y for y in range(len(agents))], agents, fontsize=8)
        ax.set_xlabel(f"{label} of the next liked movie (95% CI over users)")
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_portability(rows: pd.DataFrame, path: str | Path) -> Path:
    """Shares of the oracle per preset (x) and catalog (colour): best-fixed (left panel) and random
    (right), with 95% intervals over seeds; ``rows`` is ``PortabilityResult.rows``."""
    plt = _pyplot()
    scenarios = list(dict.fromkeys(rows.scenario))
    catalogs = list(dict.fromkeys(rows.catalog))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    width = 0.8 / max(len(catalogs), 1)
    for ax, col, title in (
        (axes[0], "best_fixed_share", "best-fixed / oracle"),
        (axes[1], "random_share", "random / oracle"),
    ):
        for i, cat in enumerate(catalogs):
            sub = rows[rows.catalog == cat].set_index("scenario").reindex(scenarios)
            x = [s + (i - (len(catalogs) - 1) / 2) * width for s in range(len(scenarios))]
            lo = sub[col] - sub[f"{col}_ci95"].map(lambda c: c[0])
            hi = sub[f"{col}_ci95"].map(lambda c: c[1]) - sub[col]
            ax.bar(x, sub[col], width, yerr=[lo, hi], capsize=2, color=_EXTRA[i % len(_EXTRA)], label=cat)
        ax.set_xticks(range(len(scenarios)), scenarios)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylim(0, 1)
    return _save(fig, path, [axes[0]])


_PANELS = {
    "clicks": "clicks per step",
    "coverage": "coverage (share of items shown)",
    "diversity": "intra-list diversity",
    "novelty": "novelty (bits)",
    "session_length": "session length (steps)",
    "churn_rate": "churn per user-step",
}


def plot_beyond_clicks(results: dict[str, dict[str, dict[str, Any]]], path: str | Path) -> Path:
    """Clicks per step and each beyond-click metric (one panel each): a bar per agent and scenario
    with its 95% interval over seeds. ``results`` is ``results[scenario][agent]`` of ``simulate``
    or ``compare`` (entries with "mean", "ci95" and "metrics"); undefined values are left out."""
    plt = _pyplot()
    scenarios = list(results)
    agents = list(dict.fromkeys(a for sc in results.values() for a in sc))
    fig, axes = plt.subplots(2, 3, figsize=(4.6 * 3, 2 * 3.2 + 0.8), squeeze=False)
    width = 0.8 / max(len(agents), 1)
    for ax, (metric, title) in zip(axes.flat, _PANELS.items(), strict=True):
        for i, agent in enumerate(agents):
            xs, ys, lo, hi = [], [], [], []
            for j, scenario in enumerate(scenarios):
                e = results[scenario].get(agent)
                m = e if metric == "clicks" else (e or {}).get("metrics", {}).get(metric)
                if not m or m.get("mean") is None:
                    continue
                xs.append(j + (i - (len(agents) - 1) / 2) * width)
                ys.append(m["mean"])
                ci = m["ci95"] if all(c == c for c in m["ci95"]) else [m["mean"], m["mean"]]
                lo.append(m["mean"] - ci[0])
                hi.append(ci[1] - m["mean"])
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, color=agent_style(agent)["color"], label=agent)
        ax.set_xticks(range(len(scenarios)), scenarios, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    return _save(fig, path, [axes.flat[0]])
