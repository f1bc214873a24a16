"""Run agents on scenarios over seeds, with common random numbers, and summarise.

Every agent of a (scenario, seed) pair faces the same users and the same random streams: the env
is reset with the same seed, and draws are indexed by (user, episode, step), not by call order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from driftrec.agents.base import Agent
from driftrec.agents.ppo import policy_config
from driftrec.agents.registry import agent_descriptions, agent_entry, make_agent
from driftrec.encoders.checks import check_int
from driftrec.encoders.deprecation import moved_names
from driftrec.envs import DriftVecEnv, default_catalog, resolve_device
from driftrec.envs.device import check_memory
from driftrec.experiments.common.metrics import METRICS, BeyondClicks, popularity
from driftrec.experiments.common.rollout import Ended, Rewards, rollout
from driftrec.experiments.common.settings import CatalogSettings, EngineSettings
from driftrec.experiments.common.stats import mean_ci95
from driftrec.experiments.online.transfer import transfer
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.data import CATALOG_SOURCES, load_catalog, load_population
from driftrec.simulators.geometry import DEFAULT_TRANSFORM
from driftrec.simulators.population import Population
from driftrec.simulators.rng import check_seeds
from driftrec.simulators.scenarios import make_scenario


@dataclass(frozen=True)
class SimulateConfig(EngineSettings, CatalogSettings):
    """What ``simulate`` runs: every agent on every scenario for every seed.

    users: N simulated at once; steps: T steps per run (users whose episode ends are replaced by
    fresh ones, so every run has N * T user-steps).
    them in ``dim`` dimensions) or a CSV/parquet path (see ``load_catalog``).
    MovieLens catalog, else near random items), "items", "movielens" or a persona file.
    overrides: scenario parameters applied to every scenario.
    policy: the saved PPO policy that agent "ppo" runs.
    """

    scenarios: list[str]
    """presets or scenario .json files (as calibrate writes)"""
    agents: list[str]
    """the agents run, names of driftrec.agents.registry"""
    users: int = 256
    """users simulated at once, N"""
    steps: int = 200
    """steps per run, T"""
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    """seeds; every agent meets the same users (common random numbers)"""
    fixed_weights: tuple[float, float, float] = (0.3, 0.7, 0.05)
    overrides: dict[str, Any] = field(default_factory=dict)
    policy: str | None = None

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise ValueError("give at least one scenario")
        if not self.agents:
            raise ValueError("give at least one agent")
        if not self.seeds:
            raise ValueError("give at least one seed")
        for name in self.agents:
            agent_entry(name)
        object.__setattr__(self, "seeds", check_seeds("seeds", self.seeds))
        for key in ("users", "steps", "items", "dim"):
            check_int(key, getattr(self, key), 1)
        if len(self.fixed_weights) != 3:
            raise ValueError(f"fixed_weights needs 3 values (alpha, mix, explore), got {list(self.fixed_weights)}")
        for s in self.scenarios:  # validates names and overrides up front, before any work
            make_scenario(s, **self.overrides)
        make_agent("fixed", self.fixed_weights)
        if "ppo" in self.agents:
            make_agent("ppo", policy=self.policy)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunRecord:
    """One (scenario, agent, seed) run: mean clicks per user-step, the per-step curve (T,) and
    the beyond-click metrics (``experiments.common.metrics``, None where undefined)."""

    scenario: str
    agent: str
    seed: int
    clicks_per_step: float
    ctr: float
    curve: list[float]
    episodes_ended: int
    wall_s: float
    metrics: dict[str, float | None] = field(default_factory=dict)


def run_one(
    scenario: str,
    agent: Agent,
    seed: int,
    cfg: SimulateConfig,
    catalog: Catalog,
    population: Population | None = None,
    on_step: Callable[[], None] | None = None,
) -> RunRecord:
    """Run ``agent`` for ``cfg.steps`` steps on ``cfg.users`` users of ``scenario`` with ``seed``."""
    env = DriftVecEnv(
        scenario,
        cfg.users,
        catalog=catalog,
        array="torch",
        device=cfg.device,
        action_mode=agent.action_mode,
        reveal_hidden=agent.needs_hidden,
        reveal_shifts=getattr(agent, "needs_shifts", False),
        population=population,
        engine=cfg.engine,
        **cfg.overrides,
    )
    groups = torch.zeros(cfg.users, dtype=torch.int64, device=env.device)
    beyond = BeyondClicks(env.sim.E, popularity(env), groups, 1)
    rewards, ended = Rewards(per_user=False), Ended()
    run = rollout(env, agent, cfg.steps, seed=seed, record=[rewards, ended, beyond], on_step=on_step)
    curve = rewards.values.cpu().tolist()
    mean = sum(curve) / len(curve)
    return RunRecord(
        scenario, agent.name, seed, mean, mean / env.slate_size, curve, ended.count, run.wall_s, beyond.result()[0]
    )


@dataclass
class SimulateResult:
    """Per-run rows, per-step curves, ``results[scenario][agent]`` summaries, and the catalog's
    provenance (``Catalog.meta`` plus its size)."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    results: dict[str, dict[str, dict[str, Any]]]
    catalog: dict[str, Any]


def summarise(records: Sequence[RunRecord]) -> dict[str, dict[str, dict[str, Any]]]:
    """results[scenario][agent] = {"mean", "ci95": [lo, hi], "n_seeds", "per_seed"} of clicks per
    step, and "metrics": {name: {"mean", "ci95", "per_seed"}} for each beyond-click metric
    (``metric_summary``)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in records:
        entry = out.setdefault(r.scenario, {}).setdefault(r.agent, {"per_seed": {}, "by_seed": {}})
        entry["per_seed"][str(r.seed)] = r.clicks_per_step
        entry["by_seed"][str(r.seed)] = r.metrics
    for agents in out.values():
        for entry in agents.values():
            vals = list(entry["per_seed"].values())
            m, lo, hi = mean_ci95(vals)
            entry.update({"mean": m, "ci95": [lo, hi], "n_seeds": len(vals)})
            entry["per_seed"] = entry.pop("per_seed")
            entry["metrics"] = metric_summary(entry.pop("by_seed"))
    return out


def metric_summary(by_seed: dict[str, dict[str, float | None]]) -> dict[str, dict[str, Any]]:
    """{name: {"mean", "ci95": [lo, hi], "per_seed"}} over the seeds of ``by_seed`` (seed -> the
    run's metrics); mean and ci95 are None where a seed's value is undefined (None)."""
    out: dict[str, dict[str, Any]] = {}
    for name in METRICS:
        per_seed = {s: m.get(name) for s, m in by_seed.items()}
        vals = list(per_seed.values())
        if vals and all(v is not None for v in vals):
            mean, lo, hi = mean_ci95(vals)
            out[name] = {"mean": mean, "ci95": [lo, hi], "per_seed": per_seed}
        else:
            out[name] = {"mean": None, "ci95": None, "per_seed": per_seed}
    return out


def build_catalog(
    source: str, items: int = 1000, dim: int = 64, progress: bool = True, transform: str = DEFAULT_TRANSFORM
) -> Catalog:
    """The catalog named by ``source`` ("synthetic" is the hashing-encoder default of ``items``
    items in ``dim`` dimensions; anything else goes to ``load_catalog``, "synthetic-lm" with
    ``items`` items), in the space of
    ``transform`` (see ``simulators.geometry``)."""
    if source == "synthetic":
        return default_catalog(items, dim, transform=transform)
    if source not in CATALOG_SOURCES and not Path(source).expanduser().exists() and Path(source).suffix == "":
        names = ", ".join(("synthetic", *CATALOG_SOURCES))
        raise ValueError(f"unknown catalog {source!r}; use one of {names} or a file path")
    return load_catalog(source, num_items=items, progress=progress, transform=transform)


def build_population(source: str, catalog: Catalog) -> Population | None:
    """The population named by ``source`` in ``catalog``'s space ("auto": see ``SimulateConfig``)."""
    if source == "auto":
        source = "movielens" if catalog.meta.get("source") == "movielens" else "items"
    return load_population(source, catalog)


def simulate(
    cfg: SimulateConfig,
    progress: bool = True,
    catalog: Catalog | None = None,
    population: Population | None = None,
) -> SimulateResult:
    """Run every agent on every scenario for every seed (common random numbers across agents).

    ``catalog`` and ``population`` default to what ``cfg`` names.
    """
    from tqdm.auto import tqdm

    device = resolve_device(cfg.device)
    cfg = SimulateConfig(**{**cfg.to_dict(), "device": str(device)})
    load_start = time.perf_counter()
    if catalog is None:
        catalog = build_catalog(cfg.catalog, cfg.items, cfg.dim, progress, cfg.transform)
        population = build_population(cfg.population, catalog)
    load_s = time.perf_counter() - load_start
    check_memory(cfg.users, catalog.num_items, catalog.dim, device)  # before any progress is shown
    total = len(cfg.scenarios) * len(cfg.agents) * len(cfg.seeds) * cfg.steps
    records: list[RunRecord] = []
    with tqdm(total=total, desc="simulate", unit="step", disable=not progress, mininterval=0.5) as bar:
        for scenario in cfg.scenarios:
            for seed in cfg.seeds:
                for name in cfg.agents:
                    bar.set_postfix_str(f"{scenario}/{name}/seed {seed}", refresh=False)
                    agent = make_agent(name, cfg.fixed_weights, cfg.policy)
                    records.append(
                        run_one(scenario, agent, seed, cfg, catalog, population, on_step=lambda: bar.update(1))
                    )
    runs = pd.DataFrame(
        [{**{k: v for k, v in asdict(r).items() if k not in ("curve", "metrics")}, **r.metrics} for r in records]
    )
    curves = pd.DataFrame(
        [
            {"scenario": r.scenario, "agent": r.agent, "seed": r.seed, "step": t, "clicks_per_step": c}
            for r in records
            for t, c in enumerate(r.curve)
        ]
    )
    meta = {**catalog.meta, "num_items": catalog.num_items, "dim": catalog.dim, "load_s": round(load_s, 2)}
    if population is not None:
        meta["population"] = {**population.meta, "members": population.num_members}
    results = summarise(records)
    if "ppo" in cfg.agents and cfg.policy is not None:
        config = policy_config(Path(cfg.policy).read_bytes())
        for scenario in cfg.scenarios:
            results[scenario]["ppo"]["transfer"] = transfer(config, scenario, catalog, cfg.overrides)
    return SimulateResult(runs, curves, results, meta)


def agent_label(agent: str, entry: dict[str, Any]) -> str:
    """The agent's name in tables, marked "(transfer)" where it ran a policy trained on another
    scenario or catalog (``entry["transfer"]``, see ``experiments.online.transfer``)."""
    return f"{agent} (transfer)" if entry.get("transfer") else agent


def format_table(results: dict[str, dict[str, dict[str, Any]]], slate_size: int | None = None) -> str:
    """Plain-text table: scenario, agent, mean clicks per step, 95% CI, seeds."""
    rows = [("scenario", "agent", "clicks/step", "95% CI", "seeds")]
    for scenario, agents in results.items():
        for agent, e in sorted(agents.items(), key=lambda kv: -kv[1]["mean"]):
            lo, hi = e["ci95"]
            rows.append(
                (scenario, agent_label(agent, e), f"{e['mean']:.4f}", f"[{lo:.4f}, {hi:.4f}]", str(e["n_seeds"]))
            )
    return text_table(rows)


def format_metrics_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Plain-text table of the beyond-click metrics' means over seeds (intervals are in
    summary.json): coverage, diversity, novelty (bits), session length (steps), churn per step."""
    rows = [("scenario", "agent", "coverage", "diversity", "novelty", "session", "churn/step")]
    formats = {"coverage": ".3f", "diversity": ".3f", "novelty": ".2f", "session_length": ".1f", "churn_rate": ".4f"}
    for scenario, agents in results.items():
        for agent, e in sorted(agents.items(), key=lambda kv: -kv[1]["mean"]):
            cells = []
            for name in METRICS:
                v = e.get("metrics", {}).get(name, {}).get("mean")
                cells.append("-" if v is None else format(v, formats[name]))
            rows.append((scenario, agent_label(agent, e), *cells))
    return text_table(rows)


def text_table(rows: Sequence[Sequence[str]], left: int = 2) -> str:
    """Rows of cells as aligned plain text: a header row, a rule, then the rows; the first
    ``left`` columns are left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


__getattr__ = moved_names(
    __name__,
    {
        "AGENTS": ("driftrec.agents.registry.agent_descriptions()", agent_descriptions),
        "build_agent": ("driftrec.agents.registry.make_agent", lambda: make_agent),
    },
)
