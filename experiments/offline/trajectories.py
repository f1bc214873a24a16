"""Trajectory logs: one row per shown item, with the propensities that make them usable off-policy.

``simulate_log`` runs a weights-mode agent (the logging policy) on a scenario and records every
shown item. Columns map one-to-one onto obp's bandit-feedback keys:

    action    item index in the catalog            position  0-based slot in the slate
    reward    click (0/1)                          pscore    the logging policy's probability of
                                                             that item at that position
    context_* the observation the agent acted on (``FEATURE_NAMES``), obp's ``context``

plus ids (``run`` = the seed, ``slate_id``, ``step``, ``user`` = row of the batch, ``episode``), the
weights the agent chose (``alpha``, ``mix``, ``explore``; with ``weight_noise`` > 0, drawn around its
choice by ``agents.noisy.NoisyWeights``, with their exact log-density in ``weight_logp``) and, for
offline RL, whether the user's episode ended at that step (``terminated``: churn; ``truncated``: the
horizon) and the observation the step led to (``next_context_*``, before any reset): what a
transition dataset needs (``experiments.offline.minari_export``). The run's settings go into the
parquet metadata (key ``driftrec``), so the run that made a log can be re-created.

Target policies for off-policy evaluation are fixed weightings (``FixedWeights``). Each keeps its
own profiles, updated at its own alpha by the evidence the logging run saw (the clicks on the
logged slates and the organic events), and would have shown its own slate at every logged step:
``simulate_log(..., targets)`` gives each target's probability of every logged item at its
position and, with ``truth=True``, the expected clicks of its slates on the logged users' true
states (the value single-step estimators estimate, computed by the simulator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from driftrec.agents import FixedWeights
from driftrec.agents.noisy import NoisyWeights
from driftrec.agents.registry import agent_entry, make_agent
from driftrec.encoders.checks import check_int, check_number
from driftrec.envs import DriftVecEnv
from driftrec.experiments.common.rollout import Step, rollout
from driftrec.experiments.common.settings import CatalogSettings
from driftrec.experiments.offline.feedback import BanditFeedback
from driftrec.experiments.offline.logfile import (  # noqa: F401  (the log files' names lived here before)
    CONTEXT_COLUMNS,
    FLAG_COLUMNS,
    FORMAT,
    ID_COLUMNS,
    INT_COLUMNS,
    LOG_COLUMNS,
    NEXT_CONTEXT_COLUMNS,
    OBP_COLUMNS,
    WEIGHT_COLUMNS,
    WEIGHT_LOGP_COLUMN,
    apply_mapping,
    check_log,
    feedback_from_frame,
    load_log,
    read_log_file,
    write_log,
)
from driftrec.experiments.online.runner import build_catalog, build_population
from driftrec.simulators import explore, recommender
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.click import attraction, expected_clicks
from driftrec.simulators.params import EXPLORE_MODES
from driftrec.simulators.population import Population
from driftrec.simulators.scenarios import make_scenario
from driftrec.simulators.state import RecState


@dataclass(frozen=True)
class LogConfig(CatalogSettings):
    """What ``simulate_log`` runs.

    agent: the logging policy, a weights-mode agent of ``driftrec.agents.registry`` ("fixed" uses
    ``fixed_weights`` = (alpha, mix, explore); "ppo" the saved ``policy``).
    explore_mode: "slate" (default: with probability explore the whole slate is uniform, so every
    item has positive probability at every position), "softmax" (a Boltzmann sample near the
    query, full support as well) or "slot" (see ``RecParams``).
    users, steps, seed: N users for T steps with ``reset(seed)``; the log has N * T * k rows.
    catalog, items, dim, population, device, overrides: as in ``SimulateConfig``.
    """

    scenario: str = "abrupt"
    """preset"""
    agent: str = "fixed"
    """the logging policy, a weights agent"""
    fixed_weights: tuple[float, float, float] = (0.3, 0.7, 0.3)
    """alpha, mix and explore of agent fixed; explore must be > 0 unless weight_noise > 0"""
    explore_mode: str = "slate"
    """slate: with probability explore the whole slate is uniform (every item can appear at every position, which
    off-policy estimates need); softmax: with probability explore the slate is a Boltzmann sample near the query
    (full support too; --set explore_temperature=T); slot: single slots are replaced"""
    users: int = 256
    """users logged at once, N"""
    steps: int = 100
    """steps, T (the log has N*T*k rows)"""
    seed: int = 0
    """seed of the users"""
    overrides: dict[str, Any] = field(default_factory=dict)
    policy: str | None = None
    """saved PPO policy for --agent ppo"""
    weight_noise: float = 0.0
    """0: log the agent's weights as chosen; S in (0, 1]: draw each weight from a logit-normal of logit-space
    scale S around the agent's choice and log its exact log-density (weight_logp), which sequential off-policy
    estimates need"""

    def __post_init__(self) -> None:
        entry = agent_entry(self.agent)
        check_number("weight_noise", self.weight_noise, 0.0, 1.0)
        if self.explore_mode not in EXPLORE_MODES:
            raise ValueError(f"explore_mode {self.explore_mode!r} is unknown; allowed: {', '.join(EXPLORE_MODES)}")
        for key in ("users", "steps", "items", "dim"):
            check_int(key, getattr(self, key), 1)
        if "explore_mode" in self.overrides:
            raise ValueError("set explore_mode with its own field (--explore-mode), not as an override")
        make_scenario(self.scenario, **self.overrides)
        make_agent(self.agent, self.fixed_weights, self.policy)
        if entry.action_mode != "weights" or entry.reads_hidden:
            raise ValueError(
                f"agent {self.agent!r} cannot log: a logging policy must choose weights (its propensities come "
                "from the explore weight), and must not read the hidden state or the shift flags"
            )
        if self.agent == "fixed" and not self.fixed_weights[2] > 0 and not self.weight_noise > 0:
            raise ValueError(
                f"fixed weights {list(self.fixed_weights)} explore nothing: a log with explore=0 is deterministic "
                "and no other policy can be evaluated on it; give explore > 0"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def make_env(
        self, catalog: Catalog | None = None, population: Population | None = None, progress: bool = False
    ) -> DriftVecEnv:
        """The logging run's env (torch arrays): its catalog and population unless given."""
        catalog = (
            build_catalog(self.catalog, self.items, self.dim, progress, self.transform) if catalog is None else catalog
        )
        population = build_population(self.population, catalog) if population is None else population
        return DriftVecEnv(
            self.scenario, self.users, catalog=catalog, array="torch", device=self.device,
            population=population, explore_mode=self.explore_mode, **self.overrides,
        )  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogConfig:
        d = dict(d)
        d["fixed_weights"] = tuple(d.get("fixed_weights", (0.3, 0.7, 0.3)))
        return cls(**d)


def parse_target(spec: str) -> FixedWeights:
    """A target policy from ``"[NAME:]alpha=A,mix=M,explore=E"`` (missing keys: 0.3, 0.7, 0.05)."""
    name, _, body = spec.rpartition(":")
    values = {"alpha": 0.3, "mix": 0.7, "explore": 0.05}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, eq, raw = part.partition("=")
        if not eq or key.strip() not in values:
            raise ValueError(f"target policy {spec!r}: {part!r} is not alpha=, mix= or explore= followed by a number")
        try:
            values[key.strip()] = float(raw)
        except ValueError:
            raise ValueError(f"target policy {spec!r}: {key.strip()}={raw!r} is not a number") from None
    label = name or f"alpha={values['alpha']:g},mix={values['mix']:g},explore={values['explore']:g}"
    return FixedWeights(**values, name=label)


@dataclass
class LoggedRun:
    """A log and what the simulator knows about it.

    frame: one row per shown item (``LOG_COLUMNS``). meta: the run's settings (``format``,
    ``config``, ``catalog``, ``slate_size``, ``num_items``). target_pscore[name]: (n_rows,) the
    target's probability of each logged item at its position. target_truth[name]: the target's
    expected clicks per slate on the logged states (only with ``truth=True``), and
    ``logged_truth`` the same for the logging policy's own slates; ``target_truth_by_step[name]``
    (T,) the target's expected clicks per slate at each logged step, averaged over the users.
    """

    frame: pd.DataFrame
    meta: dict[str, Any]
    target_pscore: dict[str, np.ndarray]
    target_truth: dict[str, float]
    logged_truth: float | None = None
    target_truth_by_step: dict[str, np.ndarray] = field(default_factory=dict)

    def feedback(self) -> BanditFeedback:
        """The log as obp-style arrays."""
        return feedback_from_frame(self.frame, self.meta.get("num_items"), self.meta.get("slate_size"))


class _LogRecorder:
    """Rollout recorder of ``simulate_log``: the logged columns of every step and, for each target
    weighting, its propensity of every shown item (its shadow profiles follow the logged evidence,
    ``Simulation.shadow_update``) and, with ``truth``, the expected clicks of its slate and the
    logging policy's on the true states (``click.expected_clicks``)."""

    def __init__(
        self, env: DriftVecEnv, targets: Sequence[FixedWeights], truth: bool, noisy: NoisyWeights | None = None
    ) -> None:
        n, dev = env.num_users, env.device
        self.noisy = noisy
        self.tw = [torch.tensor([t.alpha, t.mix, t.explore], device=dev).expand(n, 3) for t in targets]
        self.truth = truth
        self.shadows: list[RecState] | None = None
        self.cols: dict[str, list[torch.Tensor]] = {c: [] for c in (*_STEP_COLUMNS, "weight_logp")}
        self.target_pscore: list[list[torch.Tensor]] = [[] for _ in targets]
        self.target_value: list[list[torch.Tensor]] = [[] for _ in targets]
        self.logged_value: list[torch.Tensor] = []

    def record(self, env: DriftVecEnv, step: Step) -> None:
        sim, sc, state = env.sim, env.scenario, step.state
        k, mode = env.slate_size, sc.rec.explore_mode
        temp, floor = sim.explore_temperature, sc.rec.explore_floor

        def shares(q: torch.Tensor) -> torch.Tensor | None:
            if mode != "softmax":
                return None
            return explore.stratum_shares(sim.E, q, k, temp, floor, sim.row_block)

        if self.shadows is None:  # every target starts from the profiles the logging run starts from
            self.shadows = [state.rec for _ in self.tw]
        res = env.last_step
        cols = self.cols
        cols["episode"].append(state.episode)
        cols["obs"].append(step.obs)
        cols["terminated"].append(step.terminated)
        cols["truncated"].append(step.truncated)
        cols["next_obs"].append(step.next_info["final_obs"])
        for name, v in (("items", res.items), ("clicks", res.clicks), ("pscore", res.pscore), ("weights", res.weights)):
            cols[name].append(v)
        if self.noisy is not None:
            cols["weight_logp"].append(self.noisy.last_log_prob)  # type: ignore[arg-type]
        attr = attraction(sim.item_utility(state), sc.click) if self.truth else None
        if attr is not None:
            q_log = recommender.query(state.rec, res.weights[:, 1])
            g_log = recommender.top_k(sim.E, q_log, k, sim.score_chunk, sim.row_block, sim.tail_blocks)
            self.logged_value.append(expected_clicks(g_log, res.weights[:, 2], attr, sim.exam, mode, shares(q_log)))
        for i, w in enumerate(self.tw):
            q = recommender.query(self.shadows[i], w[:, 1])
            g = recommender.top_k(sim.E, q, k, sim.score_chunk, sim.row_block, sim.tail_blocks)
            sh = shares(q)
            shown = torch.gather(sh, 1, res.items) if sh is not None else None
            self.target_pscore[i].append(explore.slate_propensity(g, w[:, 2], res.items, sim.num_items, mode, shown))
            if attr is not None:
                self.target_value[i].append(expected_clicks(g, w[:, 2], attr, sim.exam, mode, sh))
            self.shadows[i] = sim.shadow_update(self.shadows[i], w, res, step.done, env.state.rec)


_STEP_COLUMNS = ("episode", "items", "clicks", "pscore", "weights", "obs", "terminated", "truncated", "next_obs")


def simulate_log(
    cfg: LogConfig,
    targets: Sequence[FixedWeights] = (),
    *,
    truth: bool = False,
    catalog: Catalog | None = None,
    population: Population | None = None,
    progress: bool = False,
) -> LoggedRun:
    """Run the logging policy of ``cfg`` and record every shown item (see the module docstring).

    ``targets``: fixed weightings to evaluate later; their propensities of the logged items are
    computed at every step. ``truth``: also compute the targets' (and the logging policy's)
    expected clicks per slate on the logged states (position-based click model only).
    """
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise ValueError(f"target policies need distinct names, got {names}")
    agent = make_agent(cfg.agent, cfg.fixed_weights, cfg.policy)
    noisy = NoisyWeights(agent, cfg.weight_noise) if cfg.weight_noise > 0 else None
    env = cfg.make_env(catalog, population, progress)
    catalog = env.catalog
    sc = env.scenario
    if truth and sc.click.model != "position":
        raise ValueError(
            f"expected clicks per position need the position-based click model; {cfg.scenario!r} uses "
            f"{sc.click.model!r} (override click model=position)"
        )
    n, k = cfg.users, env.slate_size
    log = _LogRecorder(env, targets, truth, noisy)
    desc = f"logging {cfg.agent} on {cfg.scenario}"
    with tqdm(total=cfg.steps, desc=desc, unit="step", leave=False, disable=not progress) as bar:
        rollout(env, noisy or agent, cfg.steps, seed=cfg.seed, record=[log], on_step=bar.update)
    cols, tp, tv, lv = log.cols, log.target_pscore, log.target_value, log.logged_value
    frame = _frame(cols, cfg, n, k)
    meta = {
        "format": FORMAT,
        "config": cfg.to_dict(),
        "catalog": {**{str(a): str(b) for a, b in catalog.meta.items()}, "num_items": catalog.num_items},
        "num_items": catalog.num_items,
        "slate_size": k,
        "scenario": sc.name,
    }
    target_pscore = {t.name: torch.stack(tp[i]).reshape(-1).double().cpu().numpy() for i, t in enumerate(targets)}
    stacked = {t.name: torch.stack(tv[i]).double() for i, t in enumerate(targets)} if truth else {}  # (T, N)
    by_step = {name: v.mean(1).cpu().numpy() for name, v in stacked.items()}
    target_truth = {name: float(v.mean()) for name, v in stacked.items()}
    logged_truth = float(torch.stack(lv).double().mean()) if truth else None
    return LoggedRun(frame, meta, target_pscore, target_truth, logged_truth, by_step)


def _frame(cols: dict[str, list[torch.Tensor]], cfg: LogConfig, n: int, k: int) -> pd.DataFrame:
    """Rows ordered by (step, user, position)."""
    t_steps = len(cols["items"])
    rows = t_steps * n * k

    step = np.repeat(np.arange(t_steps, dtype=np.int64), n * k)
    user = np.tile(np.repeat(np.arange(n, dtype=np.int64), k), t_steps)
    weights = torch.stack(cols["weights"]).cpu().numpy()  # (T, N, 3)
    obs = torch.stack(cols["obs"]).cpu().numpy()  # (T, N, F)
    data: dict[str, np.ndarray] = {
        "run": np.full(rows, cfg.seed, dtype=np.int64),
        "slate_id": np.repeat(np.arange(t_steps * n, dtype=np.int64), k),
        "step": step,
        "user": user,
        "episode": torch.stack(cols["episode"]).cpu().numpy().repeat(k).astype(np.int64),  # (T, N) per row
        "position": np.tile(np.arange(k, dtype=np.int64), t_steps * n),
        "action": torch.stack(cols["items"]).cpu().numpy().reshape(-1).astype(np.int64),
        "reward": torch.stack(cols["clicks"]).cpu().numpy().reshape(-1).astype(np.float64),
        "pscore": torch.stack(cols["pscore"]).double().cpu().numpy().reshape(-1),
    }
    for j, name in enumerate(WEIGHT_COLUMNS):
        data[name] = weights[:, :, j].repeat(k).reshape(-1).astype(np.float64)
    for j, name in enumerate(CONTEXT_COLUMNS):
        data[name] = obs[:, :, j].repeat(k).reshape(-1).astype(np.float64)
    for name in FLAG_COLUMNS:
        data[name] = torch.stack(cols[name]).cpu().numpy().repeat(k).reshape(-1)
    nxt = torch.stack(cols["next_obs"]).cpu().numpy()  # (T, N, F)
    for j, name in enumerate(NEXT_CONTEXT_COLUMNS):
        data[name] = nxt[:, :, j].repeat(k).reshape(-1).astype(np.float64)
    frame = pd.DataFrame(data, columns=list(LOG_COLUMNS))
    if cols["weight_logp"]:
        frame[WEIGHT_LOGP_COLUMN] = torch.stack(cols["weight_logp"]).cpu().numpy().repeat(k).reshape(-1)
    return frame


# ----------------------------------------------------------------------------- files
