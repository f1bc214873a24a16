"""What a comparison reports: paired statistics against ``best-fixed``, the leaders, the printed
table, and ``CompareResult`` (its files and plots)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from driftrec.experiments.common import io
from driftrec.experiments.common.stats import mean_ci95, paired_difference
from driftrec.experiments.online.compare.config import BEST_FIXED, WEIGHTS_ORACLE, CompareConfig
from driftrec.experiments.online.compare.units import POST, PRE, Evaluation
from driftrec.experiments.online.runner import agent_label, metric_summary, text_table
from driftrec.simulators.scenarios import make_scenario
from driftrec.simulators.state import WEIGHT_NAMES


def paired_summary(evals: Sequence[Evaluation]) -> dict[str, dict[str, dict[str, Any]]]:
    """results[scenario][agent] = {"mean", "ci95", "n_seeds", "per_seed", "diff_vs_best_fixed":
    {"mean", "ci95", "abs_mean", "abs_ci95"}, "oracle_gap_closed", "weights_oracle_gain_captured"} of
    clicks per step, and "metrics": the beyond-click metrics (``runner.metric_summary``).

    diff_vs_best_fixed is the paired per-seed difference to ``best-fixed`` relative to its mean
    (0.15 = 15% more clicks); abs_* in clicks per step. oracle_gap_closed is
    ``(agent - best-fixed) / (oracle - best-fixed)``, None without an oracle.
    weights_oracle_gain_captured is ``(agent - best-fixed) / (weights-oracle - best-fixed)``: the share
    of the weights-oracle's advantage the agent captures; None without a weights-oracle or where it
    does not beat best-fixed.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for e in evals:
        vals = list(e.per_seed.values())
        m, lo, hi = mean_ci95(vals)
        out.setdefault(e.scenario, {})[e.agent] = {
            "mean": m,
            "ci95": [lo, hi],
            "n_seeds": len(vals),
            "per_seed": {str(s): v for s, v in e.per_seed.items()},
            "metrics": metric_summary({str(s): m for s, m in e.metrics.items()}),
        }
    for agents in out.values():
        base = agents[BEST_FIXED]
        oracle = agents.get("oracle")
        w_oracle = agents.get(WEIGHTS_ORACLE)
        for entry in agents.values():
            entry["diff_vs_best_fixed"] = paired_difference(entry["per_seed"], base["per_seed"])
            gap = oracle["mean"] - base["mean"] if oracle is not None else 0.0
            entry["oracle_gap_closed"] = (entry["mean"] - base["mean"]) / gap if gap > 0 else None
            gain = w_oracle["mean"] - base["mean"] if w_oracle is not None else 0.0
            entry["weights_oracle_gain_captured"] = (entry["mean"] - base["mean"]) / gain if gain > 0 else None
    return out


def leaders(results: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per scenario, the agent with the most clicks (the oracle aside) and the paired difference
    to the runner-up: {"agent", "runner_up", "diff": {"mean", "ci95" (relative to the runner-up's
    mean), "abs_mean", "abs_ci95"}}. Scenarios with fewer than two such agents are left out."""
    out: dict[str, dict[str, Any]] = {}
    for scenario, agents in results.items():
        ranked = sorted((a for a in agents if a != "oracle"), key=lambda a: -agents[a]["mean"])
        if len(ranked) < 2:
            continue
        first, second = agents[ranked[0]], agents[ranked[1]]
        diff = paired_difference(first["per_seed"], second["per_seed"])
        out[scenario] = {"agent": ranked[0], "runner_up": ranked[1], "diff": diff}
    return out


def format_leaders(lead: dict[str, dict[str, Any]]) -> str:
    """One line per scenario: the leader, the runner-up and their paired difference with its CI."""
    lines = []
    for scenario, e in lead.items():
        d = e["diff"]
        lo, hi = d["ci95"]
        lines.append(
            f"{scenario}: {e['agent']} leads {e['runner_up']} by {d['mean']:+.1%} [{lo:+.1%}, {hi:+.1%}] (paired)"
        )
    return "\n".join(lines)


def format_compare_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Plain-text table: per scenario and agent, clicks per step with its CI, the paired
    difference vs best-fixed with its CI, the share of the oracle gap closed and, when the
    weights-oracle ran, the share of its gain captured ("w-oracle gain")."""
    with_w = any(WEIGHTS_ORACLE in agents for agents in results.values())
    head = ("scenario", "agent", "clicks/step", "95% CI", "vs best-fixed", "95% CI", "gap closed")
    rows = [(*head, *(("w-oracle gain",) if with_w else ()), "seeds")]
    for scenario, agents in results.items():
        for agent, e in sorted(agents.items(), key=lambda kv: -kv[1]["mean"]):
            lo, hi = e["ci95"]
            d = e["diff_vs_best_fixed"]
            dlo, dhi = d["ci95"]
            gap = e["oracle_gap_closed"]
            diff = ("-", "") if agent == BEST_FIXED else (f"{d['mean']:+.1%}", f"[{dlo:+.1%}, {dhi:+.1%}]")
            rows.append(
                (
                    scenario,
                    agent_label(agent, e),
                    f"{e['mean']:.4f}",
                    f"[{lo:.4f}, {hi:.4f}]",
                    *diff,
                    "-" if gap is None or agent in (BEST_FIXED, "oracle") else f"{gap:.0%}",
                    *((_share(e.get("weights_oracle_gain_captured"), agent),) if with_w else ()),
                    str(e["n_seeds"]),
                )
            )
    return text_table(rows)


def _share(value: float | None, agent: str) -> str:
    return "-" if value is None or agent in (BEST_FIXED, "oracle", WEIGHTS_ORACLE) else f"{value:.0%}"


@dataclass
class CompareResult:
    """Everything ``compare`` produced; ``write`` puts it in a folder."""

    config: CompareConfig
    results: dict[str, dict[str, dict[str, Any]]]
    evaluations: list[Evaluation]
    tuned: dict[str, dict[str, Any]]
    tuning_tables: dict[str, pd.DataFrame]
    policies: dict[str, dict[str, Any]]
    catalog: dict[str, Any]
    wall_s: float = 0.0

    def frames(self) -> dict[str, pd.DataFrame]:
        """runs, curves, aligned, weights and tuning tables."""
        runs, curves, al, wts = [], [], [], []
        for e in self.evaluations:
            for i, (seed, v) in enumerate(e.per_seed.items()):
                runs.append(
                    {
                        "scenario": e.scenario,
                        "agent": e.agent,
                        "seed": seed,
                        "clicks_per_step": v,
                        "ctr": v / e.slate_size,
                        "wall_s": e.wall_s / len(e.per_seed),
                        **e.metrics.get(seed, {}),
                    }
                )
                curves += [
                    {"scenario": e.scenario, "agent": e.agent, "seed": seed, "step": t, "clicks_per_step": c}
                    for t, c in enumerate(e.curves[i].tolist())
                ]
            for j, off in enumerate(range(-PRE, POST + 1)):
                al.append(
                    {
                        "scenario": e.scenario,
                        "agent": e.agent,
                        "offset": off,
                        "clicks_per_step": float(e.aligned_clicks[j]),
                        "alpha": float(e.aligned_alpha[j]) if e.aligned_alpha is not None else None,
                        "n_shifts": e.n_shifts,
                    }
                )
            if e.weights is not None:
                wts += [
                    {"scenario": e.scenario, "agent": e.agent, "step": t, **dict(zip(WEIGHT_NAMES, w, strict=True))}
                    for t, w in enumerate(e.weights.tolist())
                ]
        tuning = pd.concat(
            [tab.assign(scenario=s)[["scenario", *tab.columns]] for s, tab in self.tuning_tables.items()],
            ignore_index=True,
        )
        return {
            "runs": pd.DataFrame(runs),
            "curves": pd.DataFrame(curves),
            "aligned": pd.DataFrame(al),
            "weights": pd.DataFrame(wts, columns=["scenario", "agent", "step", *WEIGHT_NAMES]),
            "tuning": tuning,
        }

    def write(self, out: str | Path, command: str = "compare", extra_config: dict[str, Any] | None = None) -> list[str]:
        """Write config.json, summary.json, runs/curves/aligned/weights/tuning CSVs and the plots
        into ``out`` (each file atomically). Returns the file names."""
        from driftrec import __version__
        from driftrec.experiments.common.plots import (
            plot_beyond_clicks,
            plot_clicks_over_time,
            plot_shift_aligned,
            plot_weights_over_time,
        )

        out = Path(out)
        cfg = self.config
        io.write_json(
            out / "config.json",
            {
                "command": command,
                "driftrec_version": __version__,
                "config": cfg.to_dict(),
                **(extra_config or {}),
                "scenarios": {s: make_scenario(s, **cfg.overrides).to_dict() for s in cfg.scenarios},
                "catalog": self.catalog,
            },
        )
        frames = self.frames()
        for name, frame in frames.items():
            io.write_csv(out / f"{name}.csv", frame)
        plot_clicks_over_time(frames["curves"], out / "clicks_over_time.png")
        plot_shift_aligned(frames["aligned"], out / "shift_aligned.png", pre=PRE)
        files = ["config.json", "summary.json", *(f"{n}.csv" for n in frames), "clicks_over_time.png"]
        plot_beyond_clicks(self.results, out / "beyond_clicks.png")
        files += ["shift_aligned.png", "beyond_clicks.png"]
        if not frames["weights"].empty:
            plot_weights_over_time(frames["weights"], out / "weights_over_time.png")
            files.append("weights_over_time.png")
        io.write_summary(
            out / "summary.json",
            {
                "command": command,
                "metric": "clicks_per_step: clicks in the k-item slate, averaged over users and steps",
                "results": self.results,
                "best_fixed": self.tuned,
                "leaders": leaders(self.results),
                "policies": self.policies,
                "wall_s": round(self.wall_s, 2),
            },
        )
        return files
