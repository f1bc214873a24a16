"""Beyond clicks: coverage, diversity, novelty and retention of a run, per group of users (seed).

Per group g (the users of one evaluation seed) over the T steps of a run:

- ``coverage``: the share of the catalog's M items shown at least once to any user of g.
- ``diversity``: intra-list diversity, the mean over user-steps of the mean pairwise cosine
  distance ``1 - e_i . e_j`` between the k items of the slate (unit item vectors, so in the
  language model's space); None for k = 1.
- ``novelty``: the mean self-information ``-log2 p_i`` of the shown items, in bits; high for
  long-tail items. p is the catalog's popularity (``Catalog.popularity``: real counts, with one
  added to each so that no item has zero share) where the catalog has one, as MovieLens does;
  otherwise the items' shares of what the scenario's fresh users would pick on their own from the
  whole catalog (``Simulator.choice_shares``). On a catalog without real popularity those shares
  are close to uniform, so novelty stays near ``log2 M`` for every agent.
- ``session_length``: the mean length in steps of the episodes that ended during the run (churn
  or the horizon); None if none ended.
- ``churn_rate``: the share of user-steps that ended in churn (the per-step churn hazard).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from driftrec.envs.batched import DriftVecEnv
from driftrec.simulators.rng import seed_to_key, user_seeds

if TYPE_CHECKING:
    from driftrec.experiments.common.rollout import Step

METRICS = ("coverage", "diversity", "novelty", "session_length", "churn_rate")
"""The beyond-click metrics, in the order tables show them."""

POPULARITY_SEED, POPULARITY_USERS = 0, 1024
"""The fresh users whose choice shares define an env's item popularity (the same for every agent)."""


def popularity(env: DriftVecEnv) -> torch.Tensor:
    """(M,) float64 item shares summing to 1 that novelty is measured under (module docstring):
    the catalog's counts plus one, or the choice shares of ``POPULARITY_USERS`` fresh users."""
    counts = env.catalog.popularity
    if counts is not None:
        c = counts.to(env.device, torch.float64) + 1.0
        return c / c.sum()
    seeds = torch.tensor(user_seeds(POPULARITY_SEED, POPULARITY_USERS), dtype=torch.int64, device=env.device)
    return env.sim.choice_shares(seed_to_key(seeds))


class BeyondClicks:
    """Accumulates the module's metrics step by step for the N users of a batched run.

    Args:
        E: (M, d) unit item vectors.
        popularity: (M,) item shares summing to 1 (``popularity``).
        groups: (N,) int64 group of each user row, in [0, G).
        num_groups: G.
    """

    def __init__(self, E: torch.Tensor, popularity: torch.Tensor, groups: torch.Tensor, num_groups: int) -> None:
        dev = E.device
        self.E, self.groups, self.num_groups = E, groups.to(dev), num_groups
        # floor at the smallest normal float64, so an item no user would pick has finite novelty
        self.self_info = -torch.log2(popularity.to(dev, torch.float64).clamp_min(torch.finfo(torch.float64).tiny))
        self.shown = torch.zeros(num_groups, E.shape[0], dtype=torch.bool, device=dev)
        self.age = torch.zeros(groups.shape[0], dtype=torch.int64, device=dev)
        z = {"dtype": torch.float64, "device": dev}
        self.user_steps = torch.zeros(num_groups, **z)
        self.distance = torch.zeros(num_groups, **z)
        self.info = torch.zeros(num_groups, **z)
        self.ended, self.ended_steps, self.churned = (torch.zeros(num_groups, **z) for _ in range(3))
        self.k = 0

    def record(self, env: DriftVecEnv, step: Step) -> None:
        """As a rollout recorder (``experiments.common.rollout``): ``update`` with the step's items."""
        self.update(step.next_info["items"], step.terminated, step.truncated)

    def update(self, items: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor) -> None:
        """One step: ``items`` (N, k) shown, ``terminated`` (N,) churned, ``truncated`` (N,) at the horizon."""
        g = self.groups
        n, k = items.shape
        self.k = k
        self.shown[g.unsqueeze(1).expand(n, k), items] = True
        ones = torch.ones(n, dtype=torch.float64, device=g.device)
        self.user_steps.index_add_(0, g, ones)
        if k > 1:
            v = self.E[items]  # (N, k, d)
            cos = torch.bmm(v, v.transpose(1, 2))  # (N, k, k)
            pair_cos = (cos.sum((1, 2)) - cos.diagonal(dim1=1, dim2=2).sum(1)) / (k * (k - 1))
            self.distance.index_add_(0, g, 1.0 - pair_cos.to(torch.float64))
        self.info.index_add_(0, g, self.self_info[items].mean(1))
        self.age += 1
        done = terminated | truncated
        self.ended.index_add_(0, g, done.to(torch.float64))
        self.ended_steps.index_add_(0, g, torch.where(done, self.age, 0).to(torch.float64))
        self.churned.index_add_(0, g, terminated.to(torch.float64))
        self.age = torch.where(done, 0, self.age)

    def result(self) -> list[dict[str, Any]]:
        """Per group, ``{metric: value}`` for every name in ``METRICS`` (None where undefined)."""
        steps = self.user_steps.clamp_min(1.0)
        cols = {
            "coverage": (self.shown.sum(1).to(torch.float64) / self.E.shape[0]).tolist(),
            "diversity": (self.distance / steps).tolist() if self.k > 1 else [None] * self.num_groups,
            "novelty": (self.info / steps).tolist(),
            "session_length": [
                s / e if e > 0 else None for s, e in zip(self.ended_steps.tolist(), self.ended.tolist(), strict=True)
            ],
            "churn_rate": (self.churned / steps).tolist(),
        }
        return [{m: cols[m][i] for m in METRICS} for i in range(self.num_groups)]
