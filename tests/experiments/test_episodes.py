"""Logs with weight densities (driftrec log --weight-noise) and their episodes as trajectories."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
import torch

from driftrec.agents import FixedWeights
from driftrec.agents.noisy import MEAN_FLOOR, NoisyWeights, logit_normal_log_prob
from driftrec.envs import DriftVecEnv
from driftrec.experiments.offline.episodes import episodes_from_log
from driftrec.experiments.offline.logfile import WEIGHT_COLUMNS
from driftrec.experiments.offline.trajectories import LogConfig, simulate_log

SMALL = dict(scenario="abrupt", catalog="synthetic", items=200, dim=16, steps=12, fixed_weights=(0.3, 0.7, 0.2))


@cache
def _log(users: int = 6, noise: float = 0.5, churn: float = 0.0) -> pd.DataFrame:
    overrides = {"churn_rate": churn} if churn else {}
    return simulate_log(LogConfig(**SMALL, users=users, weight_noise=noise, overrides=overrides)).frame


def test_the_log_records_the_exact_density_of_the_weights_it_drew() -> None:
    frame = _log()
    w = torch.tensor(frame[list(WEIGHT_COLUMNS)].to_numpy())
    base = torch.tensor([0.3, 0.7, 0.2]).double()  # the fixed weights as the env gets them, float32
    want = logit_normal_log_prob(w, base.expand_as(w), 0.5)
    np.testing.assert_allclose(frame["weight_logp"].to_numpy(), want.numpy(), rtol=0, atol=1e-12)
    assert frame.groupby("slate_id")["alpha"].nunique().max() == 1
    assert frame["alpha"].std() > 0.05  # drawn, not the base's 0.3
    assert "weight_logp" not in simulate_log(LogConfig(**SMALL, users=2)).frame.columns


def test_a_users_noise_does_not_depend_on_the_batch_size() -> None:
    small, big = _log(users=3), _log(users=6)
    cols = ["step", "user", "position", *WEIGHT_COLUMNS, "weight_logp"]
    pd.testing.assert_frame_equal(small[cols].reset_index(drop=True), big[big["user"] < 3][cols].reset_index(drop=True))


def test_noisy_weights_are_inside_the_unit_interval_and_follow_their_logit_normal() -> None:
    env = DriftVecEnv("stable", 4000, num_items=100, dim=8)
    obs, info = env.reset(seed=0)
    agent = NoisyWeights(FixedWeights(0.0, 1.0, 0.2), 1.0)  # base weights on the boundary
    agent.reset(env, 3)
    w = agent.act(obs, info).double()
    assert ((w > 0) & (w < 1)).all()
    y = torch.logit(w)
    torch.testing.assert_close(
        y.mean(0), torch.logit(torch.tensor([MEAN_FLOOR, 1 - MEAN_FLOOR, 0.2], dtype=torch.float64)), atol=0.05, rtol=0
    )
    torch.testing.assert_close(y.std(0), torch.ones(3, dtype=torch.float64), atol=0.03, rtol=0)
    with pytest.raises(ValueError, match=r"scale=1.5 is outside the allowed range \(0.0, 1.0\]"):
        NoisyWeights(FixedWeights(), 1.5)


def test_episodes_hold_each_slates_clicks_weights_and_density() -> None:
    frame = _log()
    ep = episodes_from_log(frame, 12)
    d = ep.trajectories
    assert d.reward.shape == (6, 12) and ep.dropped == 0 and d.alive.all()
    per_slate = frame.groupby(["user", "step"])["reward"].sum().unstack().to_numpy()
    np.testing.assert_array_equal(d.reward, per_slate)
    first = frame[frame["position"] == 0].sort_values(["user", "step"])
    np.testing.assert_array_equal(d.action[..., 0], first["alpha"].to_numpy().reshape(6, 12))
    np.testing.assert_array_equal(d.behavior_logp, first["weight_logp"].to_numpy().reshape(6, 12))
    np.testing.assert_array_equal(ep.keys[:, 1], np.arange(6))
    assert episodes_from_log(frame, 5).trajectories.reward.shape == (6, 5)


def test_episodes_that_churn_end_early_and_episodes_the_log_cut_short_are_left_out() -> None:
    frame = _log(users=8, churn=0.3)
    ep = episodes_from_log(frame, 6)
    d = ep.trajectories
    ended = ~d.alive.all(axis=1)
    assert ended.any() and d.alive[:, 0].all()
    assert (d.reward[~d.alive] == 0).all()
    n_episodes = frame.groupby(["user", "episode"]).ngroups
    assert ep.dropped > 0 and len(d.reward) + ep.dropped == n_episodes
    lengths = frame[frame["position"] == 0].groupby(["user", "episode"]).size()
    ended_early = frame[frame["terminated"]].groupby(["user", "episode"]).size().index
    usable = [(u, e) for (u, e), n in lengths.items() if n >= 6 or ((u, e) in ended_early and n < 6)]
    assert sorted(map(tuple, ep.keys[:, 1:].tolist())) == sorted(usable)


@pytest.mark.parametrize(
    ("change", "horizon", "match"),
    [
        (lambda f: f.drop(columns="weight_logp"), 4,
         r"lacks the column\(s\) weight_logp \(a log for sequential estimates needs the weights' densities: make "
         r"it with driftrec log --weight-noise S\)"),
        (lambda f: f.drop(columns=["alpha", "context_ctr_fast"]), 4, r"lacks the column\(s\) alpha, context_ctr_fast$"),
        (lambda f: f, 13, r"horizon=13 is longer than every episode of the log \(the longest has 12 steps\)"),
        (lambda f: f, 0, r"horizon=0 is not allowed; it must be >= 1"),
        (lambda f: f.assign(alpha=np.where(f["position"] == 1, 0.9, f["alpha"])), 4,
         r"slate 0 holds different weights or densities on its rows"),
        (lambda f: f[f["step"] != 5], 4, r"an episode's steps are not consecutive \(at step 6\)"),
        (lambda f: f.assign(weight_logp=np.where(f["slate_id"] == 3, np.nan, f["weight_logp"])), 4,
         r"behavior_logp is not finite at \(3, 0\)"),
    ],
)  # fmt: skip
def test_malformed_logs_are_refused_with_a_clear_error(change, horizon: int, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        episodes_from_log(change(_log()), horizon)


def test_weight_noise_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"weight_noise=1.5 is outside the allowed range \[0.0, 1.0\]"):
        LogConfig(**SMALL, weight_noise=1.5)
    with pytest.raises(ValueError, match="explore nothing"):
        LogConfig(**{**SMALL, "fixed_weights": (0.3, 0.7, 0.0)})
    LogConfig(**{**SMALL, "fixed_weights": (0.3, 0.7, 0.0)}, weight_noise=0.5)  # the noise explores
