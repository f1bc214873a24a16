"""Sequential replay on MovieLens timelines, checked against a plain per-user reference loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from driftrec.agents import FixedWeights
from driftrec.encoders.hashing import HashingEncoder
from driftrec.experiments import replay as rp
from driftrec.experiments.cli import main
from driftrec.experiments.train import TrainConfig, train
from driftrec.simulators.data import load_catalog, load_movielens


@pytest.fixture(scope="module")
def catalog():
    return load_catalog("movielens", encoder=HashingEncoder(dim=32), progress=False)


def _reference_fixed(tl: rp.Timelines, E: torch.Tensor, alpha: float, mix: float, warmup: int, k: int):
    """The same replay, one user and one step at a time, from the update equations."""
    hr, ndcg = [], []
    for u in range(len(tl.user)):
        items = tl.item[u, : int(tl.length[u])].tolist()
        s = l_ = torch.nn.functional.normalize(E[items[:warmup]].mean(0), dim=0)
        seen = set(items[:warmup])
        h = g = 0.0
        for t in items[warmup:]:
            q = torch.nn.functional.normalize(mix * s + (1 - mix) * l_, dim=0)
            scores = E @ q
            scores[list(seen)] = -math.inf
            top = torch.topk(scores, k).indices.tolist()
            if t in top:
                h += 1
                g += 1 / math.log2(top.index(t) + 2)
            e = E[t]  # a click or an organic event: either way the evidence is the item's unit vector
            s = torch.nn.functional.normalize((1 - alpha) * s + alpha * e, dim=0)
            l_ = torch.nn.functional.normalize(0.95 * l_ + 0.05 * e, dim=0)
            seen.add(t)
        hr.append(h)
        ndcg.append(g)
    return np.array(hr), np.array(ndcg)


def test_batched_replay_equals_the_per_user_loop(catalog):
    cfg = rp.ReplayConfig(agents=["fixed"], alphas=[0.4], max_users=12)
    tl = rp.movielens_timelines(catalog, cfg.min_rating, cfg.warmup, cfg.max_users)
    E = catalog.embeddings.float()
    hr, ndcg, count = rp.replay_agent(FixedWeights(0.4, 0.7, 0.0), tl, E, cfg)
    ref_hr, ref_ndcg = _reference_fixed(tl, E, 0.4, 0.7, cfg.warmup, cfg.k)
    np.testing.assert_array_equal(count, (tl.length - cfg.warmup).numpy())
    np.testing.assert_array_equal(hr, ref_hr)
    np.testing.assert_allclose(ndcg, ref_ndcg, rtol=1e-9)
    assert hr.sum() > 0


def test_popularity_is_causal(catalog, monkeypatch):
    monkeypatch.setattr(rp, "POPULARITY_BLOCK", 1)  # exact: every event sees the likes strictly before it
    cfg = rp.ReplayConfig(agents=["popularity"], max_users=6)
    tl = rp.movielens_timelines(catalog, cfg.min_rating, cfg.warmup, cfg.max_users)
    likes = load_movielens()
    likes = likes[likes.rating >= cfg.min_rating]
    row = {item_id: i for i, item_id in enumerate(catalog.ids)}
    hr, _, _ = rp.replay_popularity(tl, catalog.num_items, likes, row, cfg)
    g_item = likes["item"].map(row).dropna().astype(int).to_numpy()
    g_time = likes["timestamp"].to_numpy()[likes["item"].map(row).notna().to_numpy()]
    want = []
    for u in range(len(tl.user)):
        items = tl.item[u, : int(tl.length[u])].tolist()
        h = 0
        for step in range(cfg.warmup, len(items)):
            counts = np.bincount(g_item[g_time < int(tl.time[u, step])], minlength=catalog.num_items).astype(float)
            counts[items[:step]] = -np.inf
            top = np.argsort(-counts, kind="stable")[: cfg.k]
            h += items[step] in top
        want.append(h)
    np.testing.assert_array_equal(hr, want)


def test_replay_compares_strategies_with_intervals(catalog, tmp_path):
    policy = train(
        TrainConfig(scenario="abrupt", users=16, timesteps=16 * 8 * 2, items=200, dim=16,
                    hyper={"n_steps": 8, "batch_size": 64}),
        tmp_path / "ppo",
        progress=False,
    )  # fmt: skip
    cfg = rp.ReplayConfig(
        agents=["fixed", "change-ctr", "ppo", "popularity"],
        alphas=[0.1, 0.9],
        max_users=15,
        policy=str(tmp_path / "ppo" / "policy.zip"),
    )
    res = rp.replay(cfg, catalog, progress=False)
    assert list(res.results) == ["fixed a=0.1", "fixed a=0.9", "change-ctr", "ppo", "popularity"]
    assert res.best_fixed in ("fixed a=0.1", "fixed a=0.9") and res.num_users == 15
    for r in res.results.values():
        assert 0.0 <= r["ndcg"] <= r["hr"] <= 1.0
        assert r["hr_ci95"][0] <= r["hr"] <= r["hr_ci95"][1]
        assert "diff_ndcg_vs_best_fixed" in r
    assert res.results[res.best_fixed]["diff_ndcg_vs_best_fixed"]["mean"] == 0.0
    assert len(res.per_user) == 5 * 15 and policy is not None
    assert rp.format_replay(res, 10).splitlines()[0].startswith("agent")


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"agents": ["linucb"]}, "agent 'linucb' cannot replay"),
        ({"agents": ["ppo"]}, "agent 'ppo' needs a trained policy"),
        ({"alphas": [1.5]}, r"alpha=1.5 is outside \[0, 1\]"),
        ({"dataset": "netflix"}, "dataset 'netflix' is unknown"),
        ({"warmup": 0}, "warmup must be an integer >= 1"),
        ({"min_rating": 7.0}, "outside MovieLens' 0.5..5 stars"),
    ],
)
def test_bad_replay_configs(kw, message):
    with pytest.raises(ValueError, match=message):
        rp.ReplayConfig(**kw)


def test_replay_command_errors(capsys, tmp_path):
    assert main(["replay", "--agents", "fixed,oracle", "--out", str(tmp_path)]) == 2
    assert "agent 'oracle' cannot replay" in capsys.readouterr().err
