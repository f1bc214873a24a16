"""Grid-tuned fixed weights: one batched run equals separate runs; the best point is the argmax."""

from __future__ import annotations

import pytest
import torch

from driftrec.envs import DriftVecEnv
from driftrec.experiments.online.tuning import evaluate_grid, grid_points, tune_fixed
from driftrec.simulators.rng import user_seeds


def test_one_batched_grid_run_equals_separate_runs(small_catalog):
    points = [(0.1, 0.5, 0.0), (0.6, 1.0, 0.1), (1.0, 0.8, 0.2)]
    scores = evaluate_grid("abrupt", small_catalog, points, seed=5, users=8, steps=15)
    for p, score in zip(points, scores.tolist(), strict=True):
        env = DriftVecEnv("abrupt", 8, catalog=small_catalog, array="torch")
        env.reset(seed=user_seeds(5, 8))
        total = sum(float(env.step(torch.tensor(p))[1].sum()) for _ in range(15))
        assert score == pytest.approx(total / (8 * 15), abs=1e-6)


def test_tune_fixed_returns_the_best_point_and_the_table(small_catalog):
    grid = {"alpha": (0.1, 1.0), "mix": (1.0,), "explore": (0.0, 0.3)}
    best, table = tune_fixed("abrupt", small_catalog, grid=grid, seeds=(1, 2), users=8, steps=10)
    assert len(table) == 4 and list(table.columns) == ["alpha", "mix", "explore", "seed_1", "seed_2", "clicks_per_step"]
    top = table.iloc[0]
    assert best == (top.alpha, top["mix"], top.explore)
    assert top.clicks_per_step == pytest.approx((top.seed_1 + top.seed_2) / 2)
    assert table.clicks_per_step.is_monotonic_decreasing


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"alpha": (0.1,), "mix": ()}, "needs values for mix, explore"),
        ({"alpha": (1.5,), "mix": (1.0,), "explore": (0.0,)}, r"grid value alpha=1.5 is outside the allowed range"),
    ],
)
def test_bad_grids(grid, message):
    with pytest.raises((ValueError, TypeError), match=message):
        grid_points(grid)
