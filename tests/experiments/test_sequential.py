"""Sequential off-policy estimators: hand-computed values, the truth of small known processes, and
malformed inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from driftrec.agents.noisy import logit_normal_log_prob
from driftrec.experiments.offline.fqe import fqe, target_moments
from driftrec.experiments.offline.sequential import (
    SEQUENTIAL_ESTIMATORS,
    Trajectories,
    WeightTarget,
    effective_sample_size,
    estimate_sequential,
    log_weights,
)


def _hand_log(
    ratios: np.ndarray, reward: np.ndarray, alive: np.ndarray | None = None
) -> tuple[Trajectories, WeightTarget]:
    """A log whose per-step importance ratios are ``ratios`` (n, H) exactly: the behaviour
    log-density is the target's minus log(ratio)."""
    n, h = reward.shape
    action = np.linspace(0.2, 0.8, n * h).reshape(n, h, 1)
    target = WeightTarget("t", np.full((n, h, 1), 0.4), 0.5)
    logp_b = target.log_prob(action) - np.log(ratios)
    alive = np.ones((n, h), bool) if alive is None else alive
    obs = np.arange(n * h, dtype=float).reshape(n, h, 1)
    return Trajectories(reward, action, logp_b, obs, alive), target


RATIOS = np.array([[2.0, 0.5], [1.0, 3.0]])
REWARD = np.array([[1.0, 0.0], [0.0, 1.0]])


@pytest.mark.parametrize(
    ("name", "gamma", "want"),
    [
        ("tis", 1.0, (1 * 1 + 3 * 1) / 2),  # W_H = (1, 3), G = (1, 1)
        ("pdis", 1.0, (2 * 1 + 3 * 1) / 2),  # W = [[2, 1], [1, 3]]
        ("pdis", 0.5, (2 * 1 + 0.5 * 3 * 1) / 2),
        ("sntis", 1.0, (1 + 3) / (1 + 3)),
        ("snpdis", 1.0, 2 / 3 + 3 / 4),
        ("snpdis", 0.5, 2 / 3 + 0.5 * 3 / 4),
        ("tis", 0.5, (1 * 1 + 3 * 0.5) / 2),
    ],
)
def test_is_estimators_give_the_hand_computed_value(name: str, gamma: float, want: float) -> None:
    data, target = _hand_log(RATIOS, REWARD)
    (est,) = estimate_sequential(data, target, (name,), gamma=gamma, n_bootstrap_samples=50)
    assert est.value == pytest.approx(want, rel=1e-12)
    assert est.low <= est.high and est.n == 2 and est.horizon == 2


@pytest.mark.parametrize("c", [0.0, 0.5, 2.0])
def test_dr_with_a_given_q_gives_the_hand_computed_value(c: float) -> None:
    data, target = _hand_log(RATIOS, REWARD)
    const = lambda d, t, g: (np.full((2, 2), c), np.full((2, 2), c))  # noqa: E731
    (dr, sndr) = estimate_sequential(data, target, ("dr", "sndr"), n_bootstrap_samples=10, q_model=const)
    # trajectory 0: 2(1 - c) + 1 c + 1(0 - c) + 2 c = 2; trajectory 1: (0 - c) + c + 3(1 - c) + 1 c = 3 - 2c
    assert dr.value == pytest.approx((2 + 3 - 2 * c) / 2, rel=1e-12)
    # self-normalised: t0 (2(1-c) + 1(0-c))/3 + c; t1 (1(0-c) + 3(1-c))/4 + (2c + 1c)/3
    assert sndr.value == pytest.approx((2 - 3 * c) / 3 + c + (3 - 4 * c) / 4 + c, rel=1e-12)


def test_a_trajectory_that_ends_keeps_its_weight_and_earns_nothing() -> None:
    alive = np.array([[True, False], [True, True]])
    reward = np.array([[1.0, 0.0], [0.0, 1.0]])
    data, target = _hand_log(RATIOS, reward, alive)
    lw = log_weights(data, target)
    np.testing.assert_allclose(np.exp(lw), [[2.0, 2.0], [1.0, 3.0]])
    tis, snpdis = estimate_sequential(data, target, ("tis", "snpdis"), n_bootstrap_samples=10)
    assert tis.value == pytest.approx((2 * 1 + 3 * 1) / 2)
    assert snpdis.value == pytest.approx(2 / 3 + 3 / 5)
    ess = effective_sample_size(lw)
    np.testing.assert_allclose(ess, [9 / 5, 25 / 13])


def test_on_policy_weights_are_one_and_every_is_estimator_is_the_mean_return() -> None:
    rng = np.random.default_rng(0)
    reward = rng.random((50, 4))
    data, target = _hand_log(np.ones((50, 4)), reward)
    est = estimate_sequential(data, target, ("tis", "pdis", "sntis", "snpdis"), n_bootstrap_samples=200)
    for e in est:
        assert e.value == pytest.approx(reward.sum(1).mean(), rel=1e-12)
        assert e.ess == pytest.approx(50)
        assert e.low < e.value < e.high


def _bandit_log(n: int, horizon: int, seed: int) -> tuple[Trajectories, WeightTarget, float]:
    """A process with a known value: the reward of step t is the first weight plus a normal of
    sd 0.3, the behaviour is logit-normal(0.5, 0.6), the target logit-normal(0.3, 0.4); the
    truth is horizon * E_target[a]."""
    g = torch.Generator().manual_seed(seed)
    y = torch.logit(torch.tensor(0.5, dtype=torch.float64)) + 0.6 * torch.randn(
        n, horizon, 1, generator=g, dtype=torch.float64
    )
    a = torch.sigmoid(y)
    mean_b = torch.full_like(a, 0.5)
    logp_b = logit_normal_log_prob(a, mean_b, 0.6).numpy()
    r = a[..., 0].numpy() + 0.3 * torch.randn(n, horizon, generator=g, dtype=torch.float64).numpy()
    target = WeightTarget("t", np.full((n, horizon, 1), 0.3), 0.4)
    truth = horizon * float(target_moments(target)[0][0, 0, 0])
    obs = np.zeros((n, horizon, 2))
    return Trajectories(r, a.numpy(), logp_b, obs, np.ones((n, horizon), bool)), target, truth


@pytest.mark.parametrize("name", SEQUENTIAL_ESTIMATORS)
def test_every_estimator_recovers_a_known_value(name: str) -> None:
    data, target, truth = _bandit_log(20_000, 3, seed=1)
    (est,) = estimate_sequential(data, target, (name,), n_bootstrap_samples=300)
    half = (est.high - est.low) / 2
    assert abs(est.value - truth) < 1.5 * half, (est, truth)  # within the interval, with margin for luck
    assert half < 0.15 * truth  # and the interval says something


def test_fqe_is_exact_where_q_is_in_its_features_and_then_dr_beats_pdis() -> None:
    data, target, truth = _bandit_log(4_000, 2, seed=2)
    r = 2.0 * data.action[..., 0] + data.observation[..., 0]  # deterministic, linear in the features
    data = Trajectories(r, data.action, data.behavior_logp, data.observation, data.alive)
    q, v = fqe(data, target, ridge=0.0, folds=1, features="quadratic")
    ea = target_moments(target)[0][..., 0]
    np.testing.assert_allclose(q[:, 1], r[:, 1], atol=1e-6)
    np.testing.assert_allclose(v[:, 1], 2.0 * ea[:, 1], atol=1e-6)
    np.testing.assert_allclose(v[:, 0], 4.0 * ea[:, 0], atol=1e-6)  # V_0 = E[2a] + V_1
    exact = lambda d, t, g: fqe(d, t, g, ridge=0.0)  # noqa: E731  (linear features, cross-fitted: exact too)
    dr, pdis = estimate_sequential(data, target, ("dr", "pdis"), n_bootstrap_samples=200, q_model=exact)
    assert dr.value == pytest.approx(4.0 * ea[0, 0], abs=1e-4)  # exact but for the fits' rounding, times W
    assert dr.high - dr.low < 0.01 * (pdis.high - pdis.low)


def test_target_moments_match_sampling() -> None:
    target = WeightTarget("t", np.array([[[0.1, 0.5, 0.97]]]), 0.8)
    m1, m2 = target_moments(target)
    z = np.random.default_rng(0).standard_normal((400_000, 3))
    mu = np.log(target.mean[0, 0] / (1 - target.mean[0, 0]))
    a = 1 / (1 + np.exp(-(mu + 0.8 * z)))
    np.testing.assert_allclose(m1[0, 0], a.mean(0), atol=2e-3)
    np.testing.assert_allclose(m2[0, 0], (a * a).mean(0), atol=2e-3)


def _good() -> dict[str, np.ndarray]:
    data, _ = _hand_log(RATIOS, REWARD)
    return {k: getattr(data, k).copy() for k in ("reward", "action", "behavior_logp", "observation", "alive")}


def _with(**changes: object) -> dict[str, object]:
    d: dict[str, object] = dict(_good())
    for key, value in changes.items():
        d[key] = value(d[key]) if callable(value) else value
    return d


def _set(index: tuple[int, ...], value: float):  # noqa: ANN202
    def f(a: np.ndarray) -> np.ndarray:
        a = a.copy()
        a[index] = value
        return a

    return f


BAD = [
    ("density NaN", _with(behavior_logp=_set((1, 0), np.nan)), r"behavior_logp is not finite at \(1, 0\)"),
    ("density +inf", _with(behavior_logp=_set((0, 1), np.inf)), r"behavior_logp is not finite at \(0, 1\)"),
    ("weight 0", _with(action=_set((0, 1, 0), 0.0)), r"action \(weights\) must lie in the open interval \(0, 1\)"),
    ("weight 1.2", _with(action=_set((1, 1, 0), 1.2)), r"open interval \(0, 1\); 1.2 at \(1, 1, 0\)"),
    ("reward NaN", _with(reward=_set((0, 0), np.nan)), r"reward is not finite at \(0, 0\)"),
    ("flat reward", _with(reward=np.zeros(2)), r"reward must be \(n_trajectories, horizon\)"),
    ("short logp", _with(behavior_logp=np.zeros((2, 1))), r"behavior_logp must have shape \(2, 2\)"),
    ("2-d action", _with(action=np.full((2, 2), 0.5)), r"action must have shape \(2, 2, D\)"),
    ("alive ints", _with(alive=np.ones((2, 2), int)), r"alive must be a bool array"),
    ("dead at 0", _with(alive=np.array([[True, True], [False, False]])), r"alive must be True at step 0; trajectory 1"),
]


@pytest.mark.parametrize(("case", "kwargs", "match"), BAD, ids=[b[0] for b in BAD])
def test_malformed_trajectories_are_refused_with_a_clear_error(case: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Trajectories(**kwargs)


def test_a_trajectory_cannot_come_back_and_the_horizon_cannot_exceed_the_log() -> None:
    d = _good()
    d["reward"], d["behavior_logp"] = np.zeros((1, 3)), np.zeros((1, 3))
    d["action"], d["observation"] = np.full((1, 3, 1), 0.5), np.zeros((1, 3, 1))
    d["alive"] = np.array([[True, False, True]])
    with pytest.raises(ValueError, match="alive must stay False once False"):
        Trajectories(**d)
    data, target = _hand_log(RATIOS, REWARD)
    with pytest.raises(ValueError, match=r"horizon=3 is longer than the logged trajectories \(2 steps\)"):
        data.first(3)
    with pytest.raises(ValueError, match="horizon=0 is not allowed"):
        data.first(0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"estimators": ("wis",)}, r"sequential estimator\(s\) \['wis'\] unknown; allowed: tis, pdis"),
        ({"gamma": 1.5}, r"gamma=1.5 is outside the allowed range \[0.0, 1.0\]"),
        ({"n_bootstrap_samples": 0}, r"n_bootstrap_samples=0 is not allowed"),
    ],
)
def test_bad_estimator_settings_are_refused(kwargs: dict, match: str) -> None:
    data, target = _hand_log(RATIOS, REWARD)
    with pytest.raises(ValueError, match=match):
        estimate_sequential(data, target, **kwargs)


def test_bad_targets_are_refused() -> None:
    with pytest.raises(ValueError, match=r"target 't' scale=0.0 is outside the allowed range \(0.0, 1.0\]"):
        WeightTarget("t", np.full((2, 2, 1), 0.4), 0.0)
    with pytest.raises(ValueError, match=r"target 't': mean must be \(n, H, A\) weights in \[0, 1\]"):
        WeightTarget("t", np.full((2, 2, 1), 1.4), 0.5)
    data, _ = _hand_log(RATIOS, REWARD)
    with pytest.raises(ValueError, match=r"target 'u': mean has shape \(2, 2, 3\), the log's actions \(2, 2, 1\)"):
        estimate_sequential(data, WeightTarget("u", np.full((2, 2, 3), 0.4), 0.5))


def test_weights_that_overflow_are_an_error_for_the_plain_estimators_not_a_wrong_number() -> None:
    data, target = _hand_log(np.array([[1e200, 1e200], [1.0, 1.0]]), REWARD)
    with pytest.raises(ValueError, match="tis: the importance weights overflow float64 at step 1"):
        estimate_sequential(data, target, ("tis",), n_bootstrap_samples=5)
    (sn,) = estimate_sequential(data, target, ("snpdis",), n_bootstrap_samples=5)
    assert sn.value == pytest.approx(1.0 + 0.0)  # all the weight on trajectory 0: r = (1, 0)
