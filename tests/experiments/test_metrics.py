"""Beyond-click metrics: equal to hand computations on a tiny run; popularity from counts or from
the population's choice shares."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from driftrec.agents import FixedWeights
from driftrec.envs import DriftVecEnv
from driftrec.experiments.common.metrics import METRICS, popularity
from driftrec.experiments.online.compare import evaluate
from driftrec.experiments.online.runner import SimulateConfig, run_one, summarise
from driftrec.simulators.rng import user_seeds

OVERRIDES = {"horizon": 4, "churn_rate": 0.3, "slate_size": 3}
WEIGHTS = (0.5, 0.8, 0.3)


@pytest.fixture(scope="module")
def catalog(small_catalog):
    counts = torch.arange(small_catalog.num_items, dtype=torch.float64) % 7  # zeros included
    return dataclasses.replace(small_catalog, popularity=counts)


def _by_hand(catalog, seeds: list[int], users: int, steps: int) -> list[dict[str, float | None]]:
    """Replay the run step by step and compute every metric in plain Python."""
    env = DriftVecEnv("mixed", users * len(seeds), catalog=catalog, **OVERRIDES, array="torch")
    env.reset(seed=[u for s in seeds for u in user_seeds(s, users)])
    counts = [float(c) + 1.0 for c in catalog.popularity.tolist()]
    share = [c / sum(counts) for c in counts]
    E = catalog.embeddings.double()
    out = []
    rows = [[] for _ in seeds]
    for _ in range(steps):
        _, _, term, trunc, info = env.step(torch.tensor(WEIGHTS))
        for i in range(env.num_users):
            rows[i // users].append((info["items"][i].tolist(), bool(term[i]), bool(trunc[i]), i))
    for group in rows:
        shown = {j for items, *_ in group for j in items}
        dist, info_bits, age, ended, churned = [], [], {}, [], 0
        for items, term, trunc, user in group:
            pairs = [(a, b) for x, a in enumerate(items) for b in items[x + 1 :]]
            dist.append(sum(1.0 - float(E[a] @ E[b]) for a, b in pairs) / len(pairs))
            info_bits.append(sum(-math.log2(share[j]) for j in items) / len(items))
            age[user] = age.get(user, 0) + 1
            if term or trunc:
                ended.append(age.pop(user))
            churned += term
        out.append(
            {
                "coverage": len(shown) / catalog.num_items,
                "diversity": sum(dist) / len(dist),
                "novelty": sum(info_bits) / len(info_bits),
                "session_length": sum(ended) / len(ended) if ended else None,
                "churn_rate": churned / len(group),
            }
        )
    return out


def test_metrics_equal_hand_computations(catalog):
    hand = _by_hand(catalog, [3, 8], users=5, steps=9)
    assert all(h["session_length"] is not None and h["churn_rate"] > 0 for h in hand)  # the run exercises both
    ev = evaluate("mixed", FixedWeights(*WEIGHTS), [3, 8], 5, 9, catalog, overrides=OVERRIDES)
    for seed, h in zip((3, 8), hand, strict=True):
        assert ev.metrics[seed] == pytest.approx(h, rel=1e-5)
    # simulate's run of one seed's users gives the same numbers
    cfg = SimulateConfig(["mixed"], ["fixed"], users=5, steps=9, seeds=[8], fixed_weights=WEIGHTS, overrides=OVERRIDES)
    record = run_one("mixed", FixedWeights(*WEIGHTS), 8, cfg, catalog)
    assert record.metrics == pytest.approx(hand[1], rel=1e-5)
    summary = summarise([record, dataclasses.replace(record, seed=9)])["mixed"]["fixed"]["metrics"]
    assert set(summary) == set(METRICS)
    assert summary["coverage"]["mean"] == pytest.approx(hand[1]["coverage"])
    assert summary["coverage"]["ci95"] == pytest.approx([hand[1]["coverage"]] * 2)


def test_undefined_metrics_are_none(small_catalog):
    ev = evaluate("stable", FixedWeights(), [1, 2], 4, 3, small_catalog, overrides={"slate_size": 1})
    assert ev.metrics[1]["diversity"] is None and ev.metrics[1]["session_length"] is None
    assert ev.metrics[1]["churn_rate"] == 0.0


def test_popularity_without_counts_is_the_fresh_users_choice_shares(small_catalog):
    env = DriftVecEnv("abrupt", 2, catalog=small_catalog, array="torch")
    shares = popularity(env)
    assert shares.shape == (small_catalog.num_items,) and shares.dtype == torch.float64
    assert float(shares.sum()) == pytest.approx(1.0) and bool((shares > 0).all())
    keys = torch.arange(10, dtype=torch.int64)
    assert torch.allclose(env.sim.choice_shares(keys, chunk=3), env.sim.choice_shares(keys, chunk=64))


def test_bad_popularity_is_refused(small_catalog):
    with pytest.raises(ValueError, match=r"popularity at row 2 .* finite count >= 0"):
        dataclasses.replace(small_catalog, popularity=torch.tensor([1.0, 0.0, -1.0] + [0.0] * 197))
    with pytest.raises(ValueError, match=r"shape \(200,\)"):
        dataclasses.replace(small_catalog, popularity=torch.ones(3))


def test_a_catalog_file_may_carry_popularity(tmp_path):
    import pandas as pd

    from driftrec.simulators.data import load_catalog

    table = pd.DataFrame(
        {"id": ["a", "b", "c"], "embedding": ["[1, 0]", "[0, 1]", "[1, 1]"], "popularity": [5, 0, 2.5]}
    )
    table.to_csv(tmp_path / "cat.csv", index=False)
    cat = load_catalog(tmp_path / "cat.csv", transform="none")
    assert cat.popularity.tolist() == [5.0, 0.0, 2.5] and cat.meta["popularity"] == "column 'popularity'"
    table.assign(popularity=[1, "many", 2]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=r"column 'popularity' at row 1 is 'many'; it needs counts >= 0"):
        load_catalog(tmp_path / "bad.csv", transform="none")
