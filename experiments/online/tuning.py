"""Grid-tuned fixed weights: the strongest constant baseline, found on tuning seeds.

Every grid point is evaluated on the same users (common random numbers) in one batched run: the
env holds ``users`` users per grid point, block g of users runs grid point g's weights, and every
block gets the same per-user seeds. So a point's score equals a separate run of those weights on
those users, at the cost of one env instead of one per point.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch

from driftrec.encoders.checks import check_number
from driftrec.envs import DriftVecEnv
from driftrec.experiments.common.rollout import ConstantAction, RewardSum, rollout
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.population import Population
from driftrec.simulators.rng import user_seeds
from driftrec.simulators.state import WEIGHT_NAMES

FIXED_GRID: dict[str, tuple[float, ...]] = {
    "alpha": (0.1, 0.3, 0.6, 1.0),
    "mix": (0.5, 0.8, 1.0),
    "explore": (0.0, 0.05, 0.1, 0.2),
}
"""The default grid: 48 (alpha, mix, explore) points."""

TUNING_SEEDS = (9001, 9002)
"""Seeds for tuning; evaluation seeds must differ (``compare`` checks)."""


def check_grid(grid: object, name: str = "the fixed-weights grid") -> None:
    """Raise unless ``grid`` maps each of alpha, mix, explore (and nothing else) to a non-empty
    list of numbers in [0, 1] (one-line errors naming the key and the value)."""
    if not isinstance(grid, dict):
        raise TypeError(f"{name} must be a mapping of alpha, mix, explore to lists of values, got {grid!r}")
    unknown = sorted(set(grid) - set(WEIGHT_NAMES), key=str)
    if unknown:
        keys = ", ".join(map(str, unknown))
        raise ValueError(f"{name} has unknown key(s) {keys}; allowed: {', '.join(WEIGHT_NAMES)}")
    missing = [k for k in WEIGHT_NAMES if k not in grid or (isinstance(grid[k], (list, tuple)) and not grid[k])]
    if missing:
        raise ValueError(f"{name} needs values for {', '.join(missing)}")
    for key in WEIGHT_NAMES:
        values = grid[key]
        if not isinstance(values, (list, tuple)) or not values:
            raise TypeError(f"{name} {key} must be a non-empty list of numbers in [0, 1], got {values!r}")
        for v in values:
            check_number(f"grid value {key}", v, 0.0, 1.0)


def grid_points(grid: dict[str, Sequence[float]]) -> list[tuple[float, float, float]]:
    """Every (alpha, mix, explore) combination of ``grid`` (a list of values per weight; ``check_grid``)."""
    check_grid(grid)
    return [tuple(map(float, p)) for p in itertools.product(*(grid[k] for k in WEIGHT_NAMES))]  # type: ignore[misc]


def evaluate_grid(
    scenario: str,
    catalog: Catalog,
    points: Sequence[tuple[float, float, float]],
    seed: int,
    users: int,
    steps: int,
    device: str | torch.device = "cpu",
    population: Population | None = None,
    overrides: dict[str, Any] | None = None,
) -> torch.Tensor:
    """Mean clicks per user-step of each point (G,) on the same ``users`` users (seed ``seed``)."""
    g = len(points)
    env = DriftVecEnv(
        scenario, users * g, catalog=catalog, device=device, population=population, array="torch", **(overrides or {})
    )
    w = torch.tensor(points, dtype=torch.float32, device=env.device).repeat_interleave(users, dim=0)
    total = RewardSum()
    grid = ConstantAction(w, name="grid")
    rollout(env, grid, steps, seed=user_seeds(seed, users) * g, agent_seed=seed, record=[total])
    return (total.total.view(g, users).mean(1) / steps).cpu()


def tune_fixed(
    scenario: str,
    catalog: Catalog,
    *,
    grid: dict[str, Sequence[float]] | None = None,
    seeds: Sequence[int] = TUNING_SEEDS,
    users: int = 128,
    steps: int = 200,
    device: str | torch.device = "cpu",
    population: Population | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[tuple[float, float, float], pd.DataFrame]:
    """The grid point with the most clicks per step over ``seeds``, and the whole grid's table
    (alpha, mix, explore, clicks_per_step mean over seeds, one column per seed)."""
    points = grid_points(grid or FIXED_GRID)
    scores = torch.stack(
        [evaluate_grid(scenario, catalog, points, s, users, steps, device, population, overrides) for s in seeds]
    )
    return best_point(points, seeds, scores)


def best_point(
    points: Sequence[tuple[float, float, float]], seeds: Sequence[int], scores: torch.Tensor
) -> tuple[tuple[float, float, float], pd.DataFrame]:
    """The point with the most clicks per step over the seeds, given ``scores`` (S, G) (seed s,
    point g), and the grid's table sorted best first (see ``tune_fixed``)."""
    table = pd.DataFrame(points, columns=list(WEIGHT_NAMES))
    for i, s in enumerate(seeds):
        table[f"seed_{s}"] = scores[i].tolist()
    table["clicks_per_step"] = scores.mean(0).tolist()
    best = points[int(scores.mean(0).argmax())]
    return best, table.sort_values("clicks_per_step", ascending=False).reset_index(drop=True)
