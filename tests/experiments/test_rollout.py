"""The one rollout loop: it steps exactly as a hand-written loop does, and its recorders keep what
they say; the shadow-profile update follows the real profiles when the weights are the same."""

import pytest
import torch

from driftrec.agents import FixedWeights, RandomSlate
from driftrec.envs import DriftVecEnv, default_catalog
from driftrec.experiments.common.rollout import (
    ConstantAction,
    Ended,
    RandomWeights,
    Rewards,
    RewardSum,
    Shifts,
    Weights,
    rollout,
)
from driftrec.simulators.rng import user_seeds


def env_of(n=6, **kw):
    return DriftVecEnv("mixed", n, catalog=default_catalog(60, 16), array="torch", **kw)


def test_rollout_steps_as_a_hand_written_loop():
    agent = RandomSlate()
    env = env_of(action_mode="slate")
    obs, info = env.reset(seed=5)
    agent.reset(env, 5)
    by_hand = []
    for _ in range(12):
        obs, reward, *_, info = env.step(agent.act(obs, info))
        by_hand.append(reward)
    rewards = Rewards()
    run = rollout(env_of(action_mode="slate"), RandomSlate(), 12, seed=5, record=[rewards])
    assert run.steps == 12 and run.wall_s > 0
    assert torch.equal(rewards.values, torch.stack(by_hand))


def test_recorders_keep_what_they_say():
    env = env_of(reveal_shifts=True, horizon=5)
    rw, mean, total, shifts, weights, ended = (
        Rewards(),
        Rewards(per_user=False),
        RewardSum(),
        Shifts(),
        Weights(),
        Ended(),
    )
    seen = []
    rollout(
        env,
        RandomWeights(3),
        12,
        seed=1,
        record=[rw, mean, total, shifts, weights, ended, type("R", (), {"record": lambda s, e, st: seen.append(st)})()],
    )
    r = rw.values
    assert r.shape == (12, 6) and mean.values.shape == (12,)
    assert torch.equal(mean.values, r.mean(1))
    assert torch.allclose(total.total, r.sum(0))
    assert weights.values.shape == (12, 6, 3) and float(weights.values.min()) >= 0 and float(weights.values.max()) <= 1
    done = torch.stack([s.done for s in seen])
    assert ended.count == int(done.sum()) and ended.count >= 12  # horizon 5: every user ends twice
    assert not bool((shifts.values & done).any())  # a new user is not a shift
    assert [s.t for s in seen] == list(range(12))
    assert all(torch.equal(a.next_obs, b.obs) for a, b in zip(seen[:-1], seen[1:], strict=True))


def test_constant_weights_per_user_and_per_user_seeds():
    w = torch.tensor([[0.1, 0.5, 0.0]] * 3 + [[0.9, 0.5, 0.0]] * 3)
    seeds = user_seeds(4, 3) * 2  # the same three users at two weightings
    total = RewardSum()
    weights = Weights()
    rollout(env_of(), ConstantAction(w), 8, seed=seeds, agent_seed=4, record=[total, weights])
    assert torch.equal(weights.values[0], w) and total.total.shape == (6,)
    with pytest.raises(ValueError, match="one seed per user needs agent_seed"):
        rollout(env_of(), ConstantAction(w), 1, seed=seeds)


def test_the_shadow_update_of_the_logged_weights_is_the_real_update():
    """A target weighting equal to the logging policy's keeps exactly the real profiles."""
    env = env_of(horizon=7)
    agent = FixedWeights(0.4, 0.6, 0.2)
    obs, info = env.reset(seed=2)
    agent.reset(env, 2)
    shadow = env.state.rec
    w = torch.tensor([0.4, 0.6, 0.2]).expand(6, 3)
    other = env.state.rec
    for _ in range(15):
        obs, _, term, trunc, info = env.step(agent.act(obs, info))
        shadow = env.sim.shadow_update(shadow, w, env.last_step, term | trunc, env.state.rec)
        other = env.sim.shadow_update(
            other, w * torch.tensor([0.1, 1.0, 1.0]), env.last_step, term | trunc, env.state.rec
        )
    assert torch.allclose(shadow.short, env.state.rec.short, atol=1e-6)
    assert torch.allclose(shadow.long, env.state.rec.long, atol=1e-6)
    assert not torch.allclose(other.short, env.state.rec.short, atol=1e-3)  # a slower alpha differs
