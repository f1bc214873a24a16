"""Slate-mode linear bandits: exact UCB on a shortlist, exact inverses, restarts, learning."""

from __future__ import annotations

import pytest
import torch

from driftrec.agents import LinearBandit, RandomSlate
from driftrec.agents.bandits import item_features
from driftrec.envs import DriftVecEnv


def _run(agent, scenario, catalog, users=32, steps=40, seed=3, check=None):
    env = DriftVecEnv(scenario, users, catalog=catalog, action_mode="slate", array="torch")
    obs, info = env.reset(seed=seed)
    agent.reset(env, seed)
    total = 0.0
    for _ in range(steps):
        slate = agent.act(obs, info)
        if check is not None:
            check(agent, env, slate)
        obs, reward, _, _, info = env.step(slate)
        total += float(reward.mean())
    return total / steps


def _full_ucb_slate(agent, k):
    """Top-k of mean + width * sqrt(x' W x) over every item (the definition, no shortlist)."""
    theta = (agent.Vinv @ agent.b.unsqueeze(-1)).squeeze(-1)
    W = agent.Vinv @ agent.Vt @ agent.Vinv if agent.kind == "d-linucb" else agent.Vinv
    quad = ((agent._E @ W) * agent._E).sum(-1)
    return torch.topk(theta @ agent._E.T + agent.width * quad.clamp_min(0).sqrt(), k, dim=1).indices


@pytest.mark.parametrize("kind", ["linucb", "d-linucb", "linucb-restart"])
@pytest.mark.parametrize("width", [0.03, 1.0])
def test_shortlist_gives_the_exact_ucb_slate_and_inverse(kind, width, small_catalog):
    seen = []

    def check(agent, env, slate):
        full = _full_ucb_slate(agent, env.slate_size)
        assert torch.equal(torch.sort(slate, 1).values, torch.sort(full, 1).values)
        eye = torch.eye(agent.V.shape[1])
        assert torch.allclose(agent.Vinv @ agent.V, eye.expand_as(agent.V), atol=1e-4)
        seen.append(slate)

    _run(LinearBandit(kind, width=width), "abrupt", small_catalog, users=16, steps=30, check=check)
    assert len(seen) == 30


@pytest.mark.parametrize("kind", ["linucb", "d-linucb"])
def test_blockwise_widths_equal_the_one_product(kind, small_catalog, monkeypatch):
    import driftrec.agents.bandits as bandits

    fast = _run(LinearBandit(kind, dims=None), "abrupt", small_catalog, steps=15)
    monkeypatch.setattr(bandits, "_MEMORY", 2000)  # forces the blockwise paths, a few users per block
    slow_agent = LinearBandit(kind, dims=None)
    slow = _run(slow_agent, "abrupt", small_catalog, steps=15)
    assert slow_agent._XX is None and slow == pytest.approx(fast, abs=1e-6)


def test_slates_are_distinct_valid_items(small_catalog):
    def check(agent, env, slate):
        assert slate.shape == (env.num_users, env.slate_size) and slate.dtype == torch.int64
        assert bool(((slate >= 0) & (slate < env.num_items)).all())
        srt = torch.sort(slate, 1).values
        assert not bool((srt[:, 1:] == srt[:, :-1]).any())

    for kind in ("eps-greedy", "linucb", "d-linucb", "linucb-restart"):
        _run(LinearBandit(kind, epsilon=0.5), "missions", small_catalog, steps=10, check=check)


def test_bandits_learn_and_are_deterministic(small_catalog):
    random = _run(RandomSlate(), "stable", small_catalog)
    for kind in ("eps-greedy", "linucb", "d-linucb"):
        score = _run(LinearBandit(kind), "stable", small_catalog)
        assert score > 3 * random, (kind, score, random)
        assert score == _run(LinearBandit(kind), "stable", small_catalog)


def test_restart_returns_a_user_to_the_prior(small_catalog):
    env = DriftVecEnv("abrupt", 4, catalog=small_catalog, action_mode="slate", array="torch")
    obs, info = env.reset(seed=1)
    agent = LinearBandit("linucb-restart", cooldown=0)
    agent.reset(env, 1)
    for _ in range(5):
        obs, _, _, _, info = env.step(agent.act(obs, info))
    agent._learn(info)
    assert not torch.allclose(agent.V[0], torch.eye(agent.V.shape[1]))
    obs = obs.clone()
    obs[0, 2] = 1.0  # since_click saturated: user 0 has not clicked for a long time
    obs[1:, 2] = 0.0
    obs[1:, 0] = obs[1:, 1] = 0.5
    info = {}
    agent.act(obs, info)
    eye = torch.eye(agent.V.shape[1])
    assert torch.allclose(agent.V[0], eye) and torch.allclose(agent.Vinv[0], eye)
    assert not torch.allclose(agent.V[1], eye)


def test_item_features_keep_the_leading_directions(small_catalog):
    E = small_catalog.embeddings
    X, proj = item_features(E, 8)
    assert X.shape == (E.shape[0], 8) and proj.shape == (E.shape[1], 8)
    assert torch.allclose(proj.T @ proj, torch.eye(8), atol=1e-5)
    assert float(X.norm(dim=1).max()) <= 1.0 + 1e-5
    full, eye = item_features(E, None)
    assert torch.equal(full, E) and torch.equal(eye, torch.eye(E.shape[1]))


@pytest.mark.parametrize(
    "kw, error, message",
    [
        ({"kind": "ucb2"}, ValueError, "bandit kind 'ucb2' is unknown; allowed: eps-greedy, linucb"),
        ({"width": -1.0}, ValueError, "width"),
        ({"epsilon": 1.5}, ValueError, "epsilon"),
        ({"gamma": 0.0}, ValueError, "gamma"),
        ({"reg": 0.0}, ValueError, "reg"),
        ({"dims": 0}, ValueError, "dims"),
    ],
)
def test_bad_bandit_settings(kw, error, message):
    with pytest.raises(error, match=message):
        LinearBandit(**kw)


def test_bandits_need_slate_mode(small_catalog):
    env = DriftVecEnv("stable", 2, catalog=small_catalog, array="torch")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="slate-mode agent"):
        LinearBandit("linucb").reset(env, 0)


def test_the_defaults_sweep_runs():
    from driftrec.experiments.studies.bandit_sweep import SETTINGS, sweep

    rows = sweep(users=2, steps=3)
    assert len(rows) == len(SETTINGS) and all(0.0 <= float(r[2]) <= 10.0 for r in rows)
