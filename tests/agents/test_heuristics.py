"""Change-detection rules and 1/t averaging: they react to the observation as documented."""

from __future__ import annotations

import math

import pytest
import torch

import driftrec
from driftrec.agents import ChangeDetection, InverseT
from driftrec.simulators.recommender import FEATURE_NAMES

COL = {n: i for i, n in enumerate(FEATURE_NAMES)}


def _obs(n: int = 4, **cols: list[float]) -> torch.Tensor:
    o = torch.zeros(n, len(FEATURE_NAMES))
    for name, values in cols.items():
        o[:, COL[name]] = torch.tensor(values)
    return o


def test_cosine_detector_fires_only_on_new_dissimilar_evidence(small_catalog):
    env = driftrec.make_vec_env("abrupt", 4, catalog=small_catalog, array="torch")
    rule = ChangeDetection("cosine", threshold=0.5, calm=(0.2, 0.7, 0.0), alert=(1.0, 1.0, 0.4))
    rule.reset(env, 0)
    obs = _obs(change_signal=[0.9, 0.1, 0.1, -0.5], evidence=[1, 1, 0, 1])
    w = rule.act(obs, {})
    expected = torch.tensor([[0.2, 0.7, 0.0], [1.0, 1.0, 0.4], [0.2, 0.7, 0.0], [1.0, 1.0, 0.4]])
    assert torch.equal(w, expected)


def test_ctr_detector_fires_on_a_rate_drop_or_a_click_drought(small_catalog):
    env = driftrec.make_vec_env("abrupt", 4, catalog=small_catalog, array="torch")
    rule = ChangeDetection("ctr", threshold=0.5, patience=3)
    rule.reset(env, 0)
    dry = 1 - math.exp(-3 / 10)
    obs = _obs(ctr_fast=[0.2, 0.05, 0.2, 0.2], ctr_slow=[0.2, 0.2, 0.2, 0.2], since_click=[0, 0, dry, 0.1])
    assert rule.changed(obs).tolist() == [False, True, True, False]


def test_inverse_t_is_a_running_mean_that_restarts_with_the_episode(small_catalog):
    env = driftrec.make_vec_env("abrupt", 2, catalog=small_catalog, array="torch")
    agent = InverseT(mix=1.0, explore=0.0)
    agent.reset(env, 0)
    alphas = []
    for evidence, progress in ([0, 0], [0, 0]), ([1, 0], [0.1, 0.1]), ([1, 1], [0.2, 0.2]), ([1, 1], [0.0, 0.3]):
        alphas.append(agent.act(_obs(2, evidence=evidence, progress=progress), {})[:, 0])
    assert torch.allclose(torch.stack(alphas), torch.tensor([[1.0, 1.0], [0.5, 1.0], [1 / 3, 0.5], [1.0, 1 / 3]]))


def test_rules_run_in_the_env(small_catalog):
    for agent in (ChangeDetection("cosine"), ChangeDetection("ctr"), InverseT()):
        env = driftrec.make_vec_env("mixed", 16, catalog=small_catalog, seed=1, array="torch")
        obs, info = env.reset(seed=1)
        agent.reset(env, 1)
        for _ in range(20):
            obs, reward, *_, info = env.step(agent.act(obs, info))
        assert reward.shape == (16,)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: ChangeDetection("psychic"), "detector 'psychic' is unknown; allowed: cosine, ctr"),
        (lambda: ChangeDetection("ctr", threshold=-0.5), r"threshold=-0.5 is outside the allowed range \[0.0, 1.0\]"),
        (lambda: ChangeDetection(calm=(0.1, 0.2)), "calm needs 3 values"),
        (lambda: ChangeDetection(alert=(1.0, 1.5, 0.0)), r"alert mix=1.5 is outside the allowed range"),
        (lambda: ChangeDetection(patience=0), "patience=0 is not allowed"),
        (lambda: InverseT(explore=2), r"explore=2 is outside the allowed range"),
    ],
)
def test_bad_rule_settings(build, message):
    with pytest.raises(ValueError, match=message):
        build()
