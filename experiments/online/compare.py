"""Paired comparison of weighting strategies: agents x scenarios x evaluation seeds.

Per scenario:

1. tune the fixed weights on the tuning seeds (``tuning.tune_fixed``): the best grid point is the
   agent ``best-fixed``, the strongest constant;
2. get the PPO policy: train it on this scenario (``ppo.train``), or load a saved one;
3. evaluate every agent on the same users of every evaluation seed (common random numbers). The
   seeds run side by side in one batched env (block s of ``users`` rows holds seed s's users), which
   gives the env-side numbers of separate runs at a fraction of the cost;
4. summarise per agent: mean clicks per step over seeds with a 95% t-interval, the paired
   difference against ``best-fixed`` (per-seed differences, relative to best-fixed's mean) with
   its 95% interval, and the share of the oracle gap closed,
   ``(agent - best-fixed) / (oracle - best-fixed)``.

Evaluation seeds must differ from the tuning seeds and the training seed; training users are seeded
``seed + i`` and evaluation users by the hashed ``user_seeds``, so they never coincide.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from driftrec.agents import FixedWeights, PPOWeights
from driftrec.agents.base import Agent
from driftrec.agents.heuristics import weight_triple
from driftrec.agents.ppo import check_ppo_settings, policy_config
from driftrec.agents.registry import agent_descriptions, make_agent
from driftrec.encoders.checks import check_int
from driftrec.envs import DriftVecEnv, resolve_device
from driftrec.envs.batched import check_memory
from driftrec.experiments.common import io
from driftrec.experiments.common.metrics import BeyondClicks, popularity
from driftrec.experiments.common.rollout import Rewards, Shifts, Weights, rollout
from driftrec.experiments.common.stats import mean_ci95
from driftrec.experiments.online.runner import (
    agent_label,
    build_catalog,
    build_population,
    metric_summary,
    text_table,
)
from driftrec.experiments.online.train import comma_names
from driftrec.experiments.online.transfer import transfer
from driftrec.experiments.online.tuning import (
    FIXED_GRID,
    TUNING_SEEDS,
    best_point,
    check_grid,
    evaluate_grid,
    grid_points,
)
from driftrec.experiments.sweeps.backends import LocalBackend, RayBackend
from driftrec.experiments.sweeps.store import UnitStore, fingerprint, register_result, run_units
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.population import Population
from driftrec.simulators.rng import check_seed, check_seeds, shared_users, user_seeds
from driftrec.simulators.scenarios import make_scenario
from driftrec.simulators.state import WEIGHT_NAMES

BEST_FIXED = "best-fixed"
WEIGHTS_ORACLE = "weights-oracle"
BEST_FIXED_TEXT = "FixedWeights at the best point of the tuning grid (tuned per scenario on the tuning seeds)"


def compare_agents() -> dict[str, str]:
    """Name -> description of the agents compare runs: ``best-fixed`` and every registered agent."""
    return {BEST_FIXED: BEST_FIXED_TEXT, **agent_descriptions()}


PRE, POST = 10, 40
"""Shift-aligned curves cover the PRE steps before and the POST steps after each interest shift."""


def _check_keys(section: str, given: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} in {section}; allowed: {', '.join(allowed)}")


def _check_names(name: str, value: Any) -> None:
    """Raise unless ``value`` is a list of strings."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of names, got {type(value).__name__}: {value!r}")
    for v in value:
        if not isinstance(v, str):
            raise TypeError(f"{name} must be a list of names, got an entry {v!r} ({type(v).__name__})")


def _check_str(name: str, value: Any, optional: bool = False) -> None:
    if not (isinstance(value, str) or (optional and value is None)):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}: {value!r}")


def _check_mapping(name: str, value: Any, values: type | None = None) -> None:
    """Raise unless ``value`` is a mapping with string keys (and, if given, ``values``-typed values)."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a mapping, got {type(value).__name__}: {value!r}")
    for k, v in value.items():
        if not isinstance(k, str):
            raise TypeError(f"{name} keys must be strings, got {k!r}")
        if values is not None and not isinstance(v, values):
            raise TypeError(f"{name}[{k!r}] must be a {values.__name__}, got {type(v).__name__}: {v!r}")


@dataclass(frozen=True)
class TuningConfig:
    """Grid search for ``best-fixed``: every grid point on ``users`` users of each tuning seed."""

    seeds: list[int] = field(default_factory=lambda: list(TUNING_SEEDS))
    users: int = 128
    steps: int = 200
    grid: dict[str, list[float]] = field(default_factory=lambda: {k: list(v) for k, v in FIXED_GRID.items()})

    def __post_init__(self) -> None:
        check_int("tuning.users", self.users, 1)
        check_int("tuning.steps", self.steps, 1)
        object.__setattr__(self, "seeds", check_seeds("tuning.seeds", self.seeds))
        check_grid(self.grid, "tuning.grid")


@dataclass(frozen=True)
class PPOSource:
    """Where agent ``ppo`` comes from: ``policy`` (one saved policy for every scenario),
    ``policies`` (a saved policy per scenario), or training in the run: ``timesteps`` user-steps
    on ``users`` users with ``seed`` and PPO settings ``hyper`` (one policy per scenario, written
    to OUT/policies/SCENARIO/policy.zip and reused by a re-run with the same settings).

    ``catalog``: what the policy trains on, by default the evaluation catalog. Comma-separated
    names train one policy on a mixture ("synthetic,movielens": half of the users on each, every
    catalog in the run's ``transform``), as ``driftrec train --catalog`` does."""

    policy: str | None = None
    policies: dict[str, str] = field(default_factory=dict)
    timesteps: int = 1_000_000
    users: int = 256
    seed: int = 0
    hyper: dict[str, Any] = field(default_factory=dict)
    catalog: str | None = None

    def __post_init__(self) -> None:
        check_int("ppo.timesteps", self.timesteps, 1)
        check_int("ppo.users", self.users, 1)
        check_seed("ppo.seed", self.seed)
        _check_str("ppo.policy", self.policy, optional=True)
        _check_mapping("ppo.policies", self.policies, str)
        _check_mapping("ppo.hyper", self.hyper)
        check_ppo_settings(self.hyper)
        _check_str("ppo.catalog", self.catalog, optional=True)
        if self.catalog is not None:
            comma_names(self.catalog, "ppo.catalog")
        if self.policy is not None and self.policies:
            raise ValueError("give ppo.policy (one policy for all scenarios) or ppo.policies (per scenario), not both")
        for path in [self.policy, *self.policies.values()]:
            if path is not None and not Path(path).is_file():
                raise FileNotFoundError(f"no such policy file: {str(path)!r}")

    def saved(self, scenario: str) -> str | None:
        """The saved policy file for ``scenario``, or None when it is to be trained."""
        return self.policies.get(scenario, self.policy)


@dataclass(frozen=True)
class CompareConfig:
    """What ``compare`` runs (a YAML/JSON config file holds the same keys; see ``load_config``).

    scenarios, agents: what to compare (``best-fixed`` is always added; ``compare_agents()``).
    seeds: evaluation seeds (at least 2 for intervals; disjoint from tuning and training seeds).
    users, steps: users per seed, steps per run. catalog, population, items, dim, overrides,
    fixed_weights: as in ``SimulateConfig``. tuning: ``TuningConfig``. ppo: ``PPOSource``.
    """

    scenarios: list[str]
    agents: list[str]
    seeds: list[int] = field(default_factory=lambda: list(range(101, 111)))
    users: int = 128
    steps: int = 200
    catalog: str = "synthetic"
    population: str = "auto"
    transform: str = "centre"
    items: int = 1000
    dim: int = 64
    device: str = "cpu"
    fixed_weights: tuple[float, float, float] = (0.3, 0.7, 0.05)
    overrides: dict[str, Any] = field(default_factory=dict)
    tuning: TuningConfig = field(default_factory=TuningConfig)
    ppo: PPOSource = field(default_factory=PPOSource)

    def __post_init__(self) -> None:
        for key in ("scenarios", "agents"):
            _check_names(key, getattr(self, key))
        for key in ("catalog", "population", "transform", "device"):
            _check_str(key, getattr(self, key))
        _check_mapping("overrides", self.overrides)
        if not self.scenarios:
            raise ValueError("give at least one scenario")
        for name in self.agents:
            if name != BEST_FIXED and name not in agent_descriptions():
                raise ValueError(f"unknown agent {name!r}; known agents: {', '.join(compare_agents())}")
        if isinstance(self.seeds, (list, tuple)) and len(self.seeds) < 2:
            raise ValueError(f"compare needs at least 2 evaluation seeds for intervals, got {self.seeds}")
        object.__setattr__(self, "seeds", check_seeds("seeds", self.seeds, 2))
        clash = sorted(set(self.seeds) & set(self.tuning.seeds))
        if clash:
            raise ValueError(f"evaluation seeds {clash} are also tuning seeds; evaluation must use held-out seeds")
        same = shared_users(self.seeds, self.tuning.seeds)
        if same:
            raise ValueError(
                f"evaluation seed {same[0][0]} gives the same users as tuning seed {same[0][1]}; use held-out seeds"
            )
        if "ppo" in self.agents and self.ppo.seed in self.seeds and not self.ppo.policy and not self.ppo.policies:
            raise ValueError(f"evaluation seed {self.ppo.seed} is the PPO training seed; use held-out seeds")
        for key in ("users", "steps", "items", "dim"):
            check_int(key, getattr(self, key), 1)
        if not isinstance(self.fixed_weights, (list, tuple)):
            got = self.fixed_weights
            raise TypeError(f"fixed_weights must be a list of 3 numbers (alpha, mix, explore), got {got!r}")
        weight_triple(tuple(self.fixed_weights), "fixed_weights")
        for s in self.scenarios:
            make_scenario(s, **self.overrides)
        make_agent("fixed", self.fixed_weights)

    @property
    def all_agents(self) -> list[str]:
        """The agents run, ``best-fixed`` first."""
        return [BEST_FIXED] + [a for a in self.agents if a != BEST_FIXED]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CompareConfig:
        """Build from a parsed config file (unknown keys are errors that list the allowed ones)."""
        if not isinstance(raw, dict):
            raise ValueError(f"a compare config must be a mapping of keys to values, got {type(raw).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        _check_keys("the compare config", raw, names)
        kw = dict(raw)
        if isinstance(kw.get("scenarios"), str):
            kw["scenarios"] = [kw["scenarios"]]
        if kw.get("scenarios") == ["all"]:
            from driftrec.simulators.scenarios import PRESETS

            kw["scenarios"] = list(PRESETS)
        for key, sub in (("tuning", TuningConfig), ("ppo", PPOSource)):
            if key in kw:
                if not isinstance(kw[key], dict):
                    raise ValueError(f"{key} must be a mapping, got {kw[key]!r}")
                _check_keys(key, kw[key], [f.name for f in dataclasses.fields(sub)])
                kw[key] = sub(**kw[key])
        if isinstance(kw.get("fixed_weights"), list):
            kw["fixed_weights"] = tuple(kw["fixed_weights"])
        if "agents" not in kw:
            kw["agents"] = ["fixed", "oracle"]
        if "scenarios" not in kw:
            raise ValueError("the compare config needs 'scenarios'")
        return cls(**kw)


def load_config(path: str | Path) -> dict[str, Any]:
    """Parse a compare config file (.yaml, .yml or .json) into a dict (``CompareConfig.from_dict``)."""
    return io.read_mapping(path)


# ----------------------------------------------------------------------------------- evaluation
@register_result
@dataclass
class Evaluation:
    """One agent on one scenario over the evaluation seeds.

    per_seed: mean clicks per user-step of each seed's users.  curves: (S, T) mean clicks per user
    at each step, per seed.  weights: (T, 3) mean weights chosen at each step (None for slate
    agents).  aligned_clicks, aligned_alpha: (PRE + POST + 1,) mean clicks (and alpha) per user at
    offsets -PRE..POST from an interest shift, over every shift with a full window; n_shifts of them.
    metrics: per seed, the beyond-click metrics of its users (``experiments.common.metrics``).
    """

    scenario: str
    agent: str
    per_seed: dict[int, float]
    curves: torch.Tensor
    weights: torch.Tensor | None
    aligned_clicks: torch.Tensor
    aligned_alpha: torch.Tensor | None
    n_shifts: int
    slate_size: int
    wall_s: float
    metrics: dict[int, dict[str, float | None]] = field(default_factory=dict)


def aligned(values: torch.Tensor, shifts: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Mean of ``values`` (T, N) at offsets -PRE..POST around every shift in ``shifts`` (T, N)
    whose window lies inside the run: ((PRE + POST + 1,), number of such shifts).

    A shift at step t happened during step t, so offset 1 is the first step that meets the new
    interest."""
    t_len = values.shape[0]
    t, n = shifts.nonzero(as_tuple=True)
    keep = (t >= PRE) & (t + POST < t_len)
    t, n = t[keep], n[keep]
    offsets = torch.arange(-PRE, POST + 1, device=values.device)
    if t.numel() == 0:
        return torch.full((offsets.numel(),), float("nan")), 0
    window = values[t.unsqueeze(1) + offsets, n.unsqueeze(1)]  # (events, W)
    return window.mean(0).cpu(), int(t.numel())


@torch.no_grad()
def evaluate(
    scenario: str,
    agent: Agent,
    seeds: Sequence[int],
    users: int,
    steps: int,
    catalog: Catalog,
    population: Population | None = None,
    device: str | torch.device = "cpu",
    overrides: dict[str, Any] | None = None,
) -> Evaluation:
    """Run ``agent`` on ``users`` users of each seed at once (rows s*users..(s+1)*users-1 hold
    seed s's users, ``user_seeds(s, users)``) for ``steps`` steps, tracking clicks, interest
    shifts and the chosen weights."""
    env = DriftVecEnv(
        scenario,
        users * len(seeds),
        catalog=catalog,
        array="torch",
        device=device,
        action_mode=agent.action_mode,
        reveal_hidden=agent.needs_hidden,
        reveal_shifts=True,
        population=population,
        **(overrides or {}),
    )
    groups = torch.arange(len(seeds), device=env.device).repeat_interleave(users)
    beyond = BeyondClicks(env.sim.E, popularity(env), groups, len(seeds))
    rec_rewards, rec_shifts, rec_weights = Rewards(), Shifts(), Weights()
    record = [rec_rewards, rec_shifts, beyond] + ([rec_weights] if agent.action_mode == "weights" else [])
    user_rows = [u for s in seeds for u in user_seeds(s, users)]
    run = rollout(env, agent, steps, seed=user_rows, agent_seed=int(seeds[0]), record=record)
    rewards, shifts = rec_rewards.values, rec_shifts.values
    weights = rec_weights.values if agent.action_mode == "weights" else None
    s_count = len(seeds)
    by_seed = rewards.view(steps, s_count, users).mean(2)  # (T, S)
    per_seed = {int(s): float(v) for s, v in zip(seeds, by_seed.mean(0).tolist(), strict=True)}
    clicks_al, n_shifts = aligned(rewards, shifts)
    alpha_al = aligned(weights[..., 0], shifts)[0] if weights is not None else None
    return Evaluation(
        scenario,
        agent.name,
        per_seed,
        by_seed.T.cpu(),
        weights.mean(1).cpu() if weights is not None else None,
        clicks_al,
        alpha_al,
        n_shifts,
        env.slate_size,
        run.wall_s,
        dict(zip((int(s) for s in seeds), beyond.result(), strict=True)),
    )


# ----------------------------------------------------------------------------------- statistics
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
            diffs = [entry["per_seed"][s] - base["per_seed"][s] for s in base["per_seed"]]
            dm, dlo, dhi = mean_ci95(diffs)
            entry["diff_vs_best_fixed"] = {
                "mean": dm / base["mean"],
                "ci95": [dlo / base["mean"], dhi / base["mean"]],
                "abs_mean": dm,
                "abs_ci95": [dlo, dhi],
            }
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
        diffs = [first["per_seed"][s] - second["per_seed"][s] for s in second["per_seed"]]
        m, lo, hi = mean_ci95(diffs)
        base = second["mean"]
        out[scenario] = {
            "agent": ranked[0],
            "runner_up": ranked[1],
            "diff": {"mean": m / base, "ci95": [lo / base, hi / base], "abs_mean": m, "abs_ci95": [lo, hi]},
        }
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


# ----------------------------------------------------------------------------------- the run
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


# ----------------------------------------------------------------------------------- units
def run_unit(shared: tuple[Catalog, Population | None, bool], spec: dict[str, Any]) -> Any:
    """One unit of a comparison, as a backend runs it (``shared`` = (catalog, population, progress)).

    ``tune``: the grid's mean clicks per step on one tuning seed, a list (G,). ``train``: a PPO
    policy, {"policy": the saved policy's bytes, "train_s"}. ``eval``: one agent on one scenario
    over all evaluation seeds, an ``Evaluation``.
    """
    catalog, population, progress = shared
    kind = spec["kind"]
    if kind == "tune":
        points = [tuple(p) for p in spec["points"]]
        scores = evaluate_grid(
            spec["scenario"],
            catalog,
            points,
            spec["seed"],
            spec["users"],
            spec["steps"],
            spec["device"],
            population,
            spec["overrides"],
        )
        return scores.tolist()
    if kind == "train":
        from driftrec.experiments.online.train import TrainConfig, train

        t0 = time.perf_counter()
        cfg = TrainConfig(**spec["config"])
        if spec.get("own_catalog"):  # trains on other catalogs than the run's: loads each by name
            catalog, population = None, None
        agent = train(cfg, None, progress=progress, tensorboard=False, catalog=catalog, population=population)
        return {"policy": agent.to_bytes(), "train_s": round(time.perf_counter() - t0, 2)}
    if kind == "eval":
        name = spec["agent"]
        agent: Agent
        if name == BEST_FIXED:
            agent = FixedWeights(*spec["weights"], name=BEST_FIXED)
        elif name == "ppo":
            agent = PPOWeights.from_bytes(spec["policy"])
        else:
            agent = make_agent(name, spec["weights"])
        return evaluate(
            spec["scenario"],
            agent,
            spec["seeds"],
            spec["users"],
            spec["steps"],
            catalog,
            population,
            spec["device"],
            spec["overrides"],
        )
    raise ValueError(f"unknown unit kind {kind!r}")


def _train_config(scenario: str, cfg: CompareConfig) -> Any:
    from driftrec.experiments.online.train import TrainConfig

    return TrainConfig(
        scenario=scenario,
        users=cfg.ppo.users,
        timesteps=cfg.ppo.timesteps,
        seed=cfg.ppo.seed,
        device=cfg.device,
        catalog=cfg.ppo.catalog or cfg.catalog,
        population=cfg.population,
        transform=cfg.transform,
        items=cfg.items,
        dim=cfg.dim,
        overrides=cfg.overrides,
        hyper=cfg.ppo.hyper,
    )


def scenario_labels(scenarios: Sequence[str]) -> dict[str, str]:
    """A distinct label per scenario for unit keys and folders: a preset's name, a scenario file's
    stem, or, where two files share a stem (``sa/x.json``, ``sb/x.json``) or a stem is a preset's
    name, the file's path as given with separators as ``__``."""
    stems = [Path(s).stem for s in scenarios if s.endswith(".json")]
    taken = {s for s in scenarios if not s.endswith(".json")}
    out = {}
    for s in scenarios:
        if not s.endswith(".json"):
            out[s] = s
            continue
        stem = Path(s).stem
        unique = stems.count(stem) == 1 and stem not in taken
        out[s] = stem if unique else re.sub(r"[^A-Za-z0-9_.=-]+", "__", str(Path(s).with_suffix(""))).strip("_")
    if len(set(out.values())) != len(out):
        raise ValueError(f"scenarios {sorted(out)} cannot be told apart; give distinct scenario files")
    return out


def compare(
    cfg: CompareConfig,
    out: str | Path | None = None,
    *,
    progress: bool = True,
    catalog: Catalog | None = None,
    population: Population | None = None,
    log: Any = None,
    backend: LocalBackend | RayBackend | None = None,
) -> CompareResult:
    """Run the comparison (see module docstring) as units on ``backend`` (default: this process).

    Units: ``tune`` (scenario x tuning seed) and ``train`` (scenario, when PPO is trained here) run
    first, then ``eval`` (scenario x agent, every evaluation seed side by side in one batched env).
    With ``out``, each finished unit is stored under OUT/units/ at once (atomically) and a re-run
    with the same settings reuses it; trained policies are written to OUT/policies/SCENARIO/.
    Call ``write`` for the rest. ``log`` (a callable taking one string) reports each stage.
    """
    say = log or (lambda _msg: None)
    backend = backend or LocalBackend(workers=0, threads=torch.get_num_threads())
    start = time.perf_counter()
    device = str(resolve_device(cfg.device))
    cfg = dataclasses.replace(cfg, device=device)
    load_start = time.perf_counter()
    if catalog is None:
        catalog = build_catalog(cfg.catalog, cfg.items, cfg.dim, progress, cfg.transform)
        population = build_population(cfg.population, catalog)
    meta = {
        **catalog.meta,
        "num_items": catalog.num_items,
        "dim": catalog.dim,
        "load_s": round(time.perf_counter() - load_start, 2),
    }
    if population is not None:
        meta["population"] = {**population.meta, "members": population.num_members}
    out_path = Path(out) if out is not None else None
    store = UnitStore(out_path / "units" if out_path is not None else None)
    shared = (catalog, population, progress and backend.inline_progress)
    context = fingerprint(catalog, population)
    tc = cfg.tuning
    points = grid_points(tc.grid)
    # the largest envs, before any progress is shown: a tuning seed's grid, every evaluation seed
    for users in (tc.users * len(points), cfg.users * len(cfg.seeds)):
        check_memory(users, catalog.num_items, catalog.dim, torch.device(device))
    label = scenario_labels(cfg.scenarios)
    # the resolved parameters (a scenario file's content, the overrides applied) are part of every
    # unit's spec, so editing a file recomputes its units
    resolved = {s: make_scenario(s, **cfg.overrides).to_dict() for s in cfg.scenarios}

    # stage 1: tuning grids and PPO training
    specs: dict[str, dict[str, Any]] = {}
    for scenario in cfg.scenarios:
        for seed in tc.seeds:
            specs[f"tune/{label[scenario]}/{seed}"] = {
                "kind": "tune", "scenario": scenario, "seed": seed, "points": points, "users": tc.users,
                "steps": tc.steps, "device": device, "overrides": cfg.overrides, "context": context,
                "resolved": resolved[scenario],
            }  # fmt: skip
    policies: dict[str, dict[str, Any]] = {}
    policy_bytes: dict[str, bytes] = {}
    if "ppo" in cfg.agents:
        for scenario in cfg.scenarios:
            saved = cfg.ppo.saved(scenario)
            if saved is not None:
                policy_bytes[scenario] = Path(saved).read_bytes()
                policies[scenario] = {"source": "file", "path": str(saved)}
            else:
                tcfg = _train_config(scenario, cfg)
                specs[f"train/{label[scenario]}"] = {
                    "kind": "train", "config": dataclasses.asdict(tcfg), "threads": backend.threads, "context": context,
                    "resolved": resolved[scenario],
                }  # fmt: skip
                if cfg.ppo.catalog not in (None, cfg.catalog):
                    specs[f"train/{label[scenario]}"]["own_catalog"] = True
    results, reused = run_units(backend, store, run_unit, shared, specs, say=say, progress=progress, desc="tune+train")
    tuned: dict[str, dict[str, Any]] = {}
    tables: dict[str, pd.DataFrame] = {}
    for scenario in cfg.scenarios:
        keys = [f"tune/{label[scenario]}/{seed}" for seed in tc.seeds]
        scores = torch.tensor([results[k] for k in keys])
        best, table = best_point(points, tc.seeds, scores)
        tables[scenario] = table
        tuned[scenario] = {
            **dict(zip(WEIGHT_NAMES, best, strict=True)),
            "tuning_clicks_per_step": float(table.clicks_per_step.iloc[0]),
            "grid_points": len(table),
            "tuning_seeds": list(tc.seeds),
        }
        say(f"{scenario}: best fixed weights alpha={best[0]}, mix={best[1]}, explore={best[2]} (tuning seeds)")
        key = f"train/{label[scenario]}"
        if key in results:
            policy_bytes[scenario] = results[key]["policy"]
            info = {"source": "reused" if key in reused else "trained", "timesteps": cfg.ppo.timesteps}
            info["train_s"] = results[key]["train_s"]
            if out_path is not None:
                where = out_path / "policies" / label[scenario] / "policy.zip"
                io.write_bytes(where, policy_bytes[scenario])
                info["path"] = str(where)
            policies[scenario] = info
        if scenario in policies:
            info = policies[scenario]
            say(f"{scenario}: PPO policy {info['source']}" + (f" ({info['path']})" if "path" in info else ""))

    # stage 2: every agent on every scenario
    specs = {}
    for scenario in cfg.scenarios:
        best = tuple(tuned[scenario][k] for k in WEIGHT_NAMES)
        for name in cfg.all_agents:
            spec: dict[str, Any] = {
                "kind": "eval", "scenario": scenario, "agent": name, "seeds": list(cfg.seeds), "users": cfg.users,
                "steps": cfg.steps, "device": device, "overrides": cfg.overrides, "context": context,
                "weights": list(best if name in (BEST_FIXED, WEIGHTS_ORACLE) else cfg.fixed_weights),
                "resolved": resolved[scenario],
            }  # fmt: skip
            if name == "ppo":
                spec["policy"] = policy_bytes[scenario]
            specs[f"eval/{label[scenario]}/{name}"] = spec
    results, _ = run_units(backend, store, run_unit, shared, specs, say=say, progress=progress, desc="evaluate")
    evals: list[Evaluation] = list(results.values())
    summary = paired_summary(evals)
    for scenario, data in policy_bytes.items():
        moved = transfer(policy_config(data), scenario, catalog, cfg.overrides)
        summary[scenario]["ppo"]["transfer"] = policies[scenario]["transfer"] = moved
    return CompareResult(cfg, summary, evals, tuned, tables, policies, meta, time.perf_counter() - start)
