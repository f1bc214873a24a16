"""The click model and the recommender are wired correctly: oracle > fixed weights > random."""

import pytest
import torch

from driftrec.agents import FixedWeights, Oracle, RandomSlate
from driftrec.envs import DriftVecEnv, default_catalog
from driftrec.experiments.online.runner import SimulateConfig, simulate
from driftrec.simulators import scenario_names


@pytest.mark.slow
def test_oracle_beats_fixed_beats_random_on_every_preset_with_separated_cis():
    # 64 users over 50 steps: the narrowest gap between intervals is 0.32 clicks per step, 5x and more
    # the intervals' widths (128 users over 100 steps: 0.22, at 2.5x the time)
    cfg = SimulateConfig(
        scenarios=scenario_names(), agents=["oracle", "fixed", "random"], users=64, steps=50, seeds=[1, 2, 3, 4, 5]
    )
    res = simulate(cfg, progress=False).results
    for scenario in scenario_names():
        r = res[scenario]
        assert r["oracle"]["n_seeds"] == r["fixed"]["n_seeds"] == r["random"]["n_seeds"] == 5
        assert r["oracle"]["ci95"][0] > r["fixed"]["ci95"][1], (scenario, r)
        assert r["fixed"]["ci95"][0] > r["random"]["ci95"][1], (scenario, r)


def test_oracle_requires_revealed_hidden_state():
    env = DriftVecEnv("stable", 2, catalog=default_catalog(100, 16), action_mode="slate", array="torch")
    with pytest.raises(ValueError, match="reveal_hidden=True"):
        Oracle().reset(env, 0)


def test_oracle_shows_the_top_utility_items():
    env = DriftVecEnv(
        "boredom", 3, catalog=default_catalog(100, 16), action_mode="slate", reveal_hidden=True, array="torch"
    )
    obs, info = env.reset(seed=0)
    agent = Oracle()
    agent.reset(env, 0)
    slate = agent.act(obs, info)
    util = info["item_utility"]
    shown = torch.gather(util, 1, slate)
    assert torch.allclose(shown, torch.topk(util, env.slate_size, dim=1).values)


def test_random_slates_are_distinct_and_seeded():
    env = DriftVecEnv("stable", 4, catalog=default_catalog(100, 16), action_mode="slate", array="torch")
    obs, info = env.reset(seed=0)
    a, b = RandomSlate(), RandomSlate()
    a.reset(env, 1)
    b.reset(env, 1)
    s = a.act(obs, info)
    assert torch.equal(s, b.act(obs, info))
    srt = torch.sort(s, 1).values
    assert not bool((srt[:, 1:] == srt[:, :-1]).any())


def test_fixed_weights_validate_their_range():
    with pytest.raises(ValueError, match=r"alpha=1\.2 is outside the allowed range \[0\.0, 1\.0\]"):
        FixedWeights(alpha=1.2)
