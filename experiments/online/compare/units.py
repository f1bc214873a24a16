"""The units of a comparison, as a sweep backend runs them: ``TuneUnit`` (one tuning seed's grid),
``TrainUnit`` (one PPO policy) and ``EvalUnit`` (one agent on one scenario over every evaluation
seed, an ``Evaluation``). Each is a frozen dataclass with ``run(shared)``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from driftrec.agents import FixedWeights, PPOWeights
from driftrec.agents.base import Agent
from driftrec.agents.registry import make_agent
from driftrec.envs import DriftVecEnv
from driftrec.experiments.common.metrics import BeyondClicks, popularity
from driftrec.experiments.common.rollout import Rewards, Shifts, Weights, rollout
from driftrec.experiments.online.compare.config import BEST_FIXED
from driftrec.experiments.online.tuning import evaluate_grid
from driftrec.experiments.sweeps.store import register_result
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.population import Population
from driftrec.simulators.rng import user_seeds

PRE, POST = 10, 40
"""Shift-aligned curves cover the PRE steps before and the POST steps after each interest shift."""


@register_result
@dataclass
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


Shared = tuple[Catalog, "Population | None", bool]
"""What every unit of a run shares: (catalog, population, whether units draw progress bars)."""


class _Unit:
    """The spec a unit is stored under (``sweeps.store``): ``kind`` and every field, in the form
    the untyped specs had, so stores written before the units were typed are still reused."""

    kind: ClassVar[str]
    _optional: ClassVar[tuple[str, ...]] = ()  # left out of the spec when falsy

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if f.name in self._optional and not v:
                continue
            spec[f.name] = [list(p) for p in v] if f.name == "points" else v
        return spec


@dataclass(frozen=True)
class TuneUnit(_Unit):
    """The tuning grid's mean clicks per step on one tuning seed; ``run`` returns a list (G,)."""

    kind: ClassVar[str] = "tune"
    scenario: str
    seed: int
    points: tuple[tuple[float, float, float], ...]
    users: int
    steps: int
    device: str
    overrides: dict[str, Any]
    context: dict[str, Any]
    resolved: dict[str, Any]

    def run(self, shared: Shared) -> list[float]:
        catalog, population, _ = shared
        scores = evaluate_grid(
            self.scenario,
            catalog,
            list(self.points),
            self.seed,
            self.users,
            self.steps,
            self.device,
            population,
            self.overrides,
        )
        return scores.tolist()


@dataclass(frozen=True)
class TrainUnit(_Unit):
    """One PPO policy trained with ``config`` (a ``TrainConfig`` as a dict); ``run`` returns
    {"policy": the saved policy's bytes, "train_s"}. ``own_catalog``: it trains on other catalogs
    than the run's and loads each by name."""

    kind: ClassVar[str] = "train"
    _optional: ClassVar[tuple[str, ...]] = ("own_catalog",)
    config: dict[str, Any]
    threads: int
    context: dict[str, Any]
    resolved: dict[str, Any]
    own_catalog: bool = False

    def run(self, shared: Shared) -> dict[str, Any]:
        from driftrec.experiments.online.train import TrainConfig, train

        catalog, population, progress = shared
        t0 = time.perf_counter()
        if self.own_catalog:
            catalog, population = None, None
        cfg = TrainConfig(**self.config)
        agent = train(cfg, None, progress=progress, tensorboard=False, catalog=catalog, population=population)
        return {"policy": agent.to_bytes(), "train_s": round(time.perf_counter() - t0, 2)}


@dataclass(frozen=True)
class EvalUnit(_Unit):
    """One agent on one scenario over every evaluation seed; ``run`` returns an ``Evaluation``.
    ``weights``: best-fixed's (and the weights-oracle's calm) weights, or the fixed baseline's.
    ``policy``: the saved PPO policy's bytes, for agent "ppo"."""

    kind: ClassVar[str] = "eval"
    _optional: ClassVar[tuple[str, ...]] = ("policy",)
    scenario: str
    agent: str
    seeds: list[int]
    users: int
    steps: int
    device: str
    overrides: dict[str, Any]
    context: dict[str, Any]
    weights: list[float]
    resolved: dict[str, Any]
    policy: bytes | None = None

    def build_agent(self) -> Agent:
        if self.agent == BEST_FIXED:
            return FixedWeights(*self.weights, name=BEST_FIXED)
        if self.agent == "ppo":
            if self.policy is None:
                raise ValueError("an evaluation unit of agent 'ppo' needs the policy's bytes")
            return PPOWeights.from_bytes(self.policy)
        return make_agent(self.agent, self.weights)

    def run(self, shared: Shared) -> Evaluation:
        catalog, population, _ = shared
        return evaluate(
            self.scenario,
            self.build_agent(),
            self.seeds,
            self.users,
            self.steps,
            catalog,
            population,
            self.device,
            self.overrides,
        )


Unit = TuneUnit | TrainUnit | EvalUnit


def run_unit(shared: Shared, unit: Unit) -> Any:
    """Run one unit (what a sweep backend calls in its worker)."""
    return unit.run(shared)
