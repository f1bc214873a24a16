"""Sequential off-policy estimators: the value of a weight policy over whole trajectories.

The question: what would a weight policy (its alpha, mix and explore at every step) have earned
over the logged users' first ``H`` steps? The log must hold the weights drawn at every step and
their exact log-density under the logging policy (``driftrec log --weight-noise S``); the slates
and clicks that followed are the environment's part, so they need no propensities here.

With ``w_t = pi_e(a_t | s_t) / pi_b(a_t | s_t)`` and ``W_t = w_0 * ... * w_t`` (``W_{-1} = 1``),
for n trajectories and discount ``gamma`` (names as in SCOPE-RL):

    tis     mean_i  W_{i,H-1} * sum_t gamma^t r_it                      (trajectory-wise IS)
    pdis    mean_i  sum_t gamma^t W_it r_it                              (per-decision IS)
    sntis   sum_i W_{i,H-1} G_i / sum_i W_{i,H-1}                        (self-normalised)
    snpdis  sum_t gamma^t  sum_i W_it r_it / sum_i W_it
    dr      mean_i  sum_t gamma^t [W_it (r_it - Q_t(s_it, a_it)) + W_{i,t-1} V_t(s_it)]
    sndr    dr with each W_t divided by its mean over trajectories

``Q`` is fitted on the log by fitted-Q evaluation (``fqe``) and ``V_t(s) = E_{a ~ pi_e} Q_t(s, a)``.
After a trajectory ends (churn) its rewards are 0 and its weights stay as they were. The value is
the expected discounted sum of rewards over H steps (clicks over H steps for gamma = 1).

A deterministic target (a fixed weighting, a PPO policy's mean action) has no density; it is
evaluated through its kernel-smoothed version, as SCOPE-RL does for continuous actions: weights
drawn from a logit-normal of logit-space ``bandwidth`` around the target's weights
(``agents.noisy``). The smoothed policy's value is what is estimated; its distance to the
deterministic target's value shrinks with the bandwidth, while the weights' variance grows.

Horizon limits: the variance of ``W_t`` grows exponentially in ``t`` (as the product of the
per-step second moments ``E[w^2]``), so IS-based estimates stop being informative once the
effective sample size ``(sum_i W_it)^2 / sum_i W_it^2`` falls to a few trajectories; every estimate
reports it (``ess``). DR keeps its variance lower only as far as Q is good. Intervals: percentile
bootstrap over trajectories (``n_bootstrap_samples`` resamples); the Q model is fitted once on the whole
log, so the intervals leave out its fitting noise. Where the weights overflow float64 the plain
estimators refuse (an error, not a wrong number); a self-normalised resample whose weights all
underflow to 0 is undefined, and its interval bounds are then NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from driftrec.agents.noisy import logit_normal_log_prob
from driftrec.encoders.checks import check_int, check_number
from driftrec.experiments.offline.fqe import fqe

QModel = Callable[["Trajectories", "WeightTarget", float], tuple[np.ndarray, np.ndarray]]
"""``q_model(data, target, gamma) -> (Q at the logged actions, V under the target)``, each (n, H)."""
SEQUENTIAL_ESTIMATORS = ("tis", "pdis", "sntis", "snpdis", "dr", "sndr")
_UNNORMALISED = ("tis", "pdis", "dr")


@dataclass(frozen=True)
class Trajectories:
    """n logged trajectories of horizon H (A weights, F observation features).

    Attributes:
        reward: (n, H) reward of each step (0 after the trajectory's end).
        action: (n, H, A) the weights drawn, in (0, 1).
        behavior_logp: (n, H) their log-density under the logging policy.
        observation: (n, H, F) what the policy saw before choosing.
        alive: (n, H) bool, the step is part of the trajectory: True at t = 0, and once False
            (the user left) False to the end.
    """

    reward: np.ndarray
    action: np.ndarray
    behavior_logp: np.ndarray
    observation: np.ndarray
    alive: np.ndarray

    def __post_init__(self) -> None:
        r = self.reward
        if r.ndim != 2 or r.shape[0] < 1 or r.shape[1] < 1:
            raise ValueError(f"reward must be (n_trajectories, horizon) with both >= 1, got shape {r.shape}")
        n, h = r.shape
        shapes = {"behavior_logp": (n, h), "alive": (n, h)}
        for name, want in shapes.items():
            if getattr(self, name).shape != want:
                raise ValueError(f"{name} must have shape {want} like reward, got {getattr(self, name).shape}")
        for name in ("action", "observation"):
            got = getattr(self, name).shape
            if len(got) != 3 or got[:2] != (n, h):
                raise ValueError(f"{name} must have shape ({n}, {h}, D) like reward, got {got}")
        for name in ("reward", "behavior_logp", "observation", "action"):
            bad = np.argwhere(~np.isfinite(getattr(self, name)))
            if len(bad):
                raise ValueError(f"{name} is not finite at {tuple(int(i) for i in bad[0])}")
        a = self.action
        if (a <= 0).any() or (a >= 1).any():
            where = tuple(int(i) for i in np.argwhere((a <= 0) | (a >= 1))[0])
            raise ValueError(f"action (weights) must lie in the open interval (0, 1); {float(a[where])!r} at {where}")
        alive = self.alive
        if alive.dtype != np.bool_:
            raise ValueError(f"alive must be a bool array, got {alive.dtype}")
        if not alive[:, 0].all():
            raise ValueError(f"alive must be True at step 0; trajectory {int(np.argmin(alive[:, 0]))} is not")
        if (alive[:, 1:] & ~alive[:, :-1]).any():
            i = int(np.argwhere(alive[:, 1:] & ~alive[:, :-1])[0][0])
            raise ValueError(f"alive must stay False once False (a trajectory cannot come back); trajectory {i}")

    @property
    def n_trajectories(self) -> int:
        return self.reward.shape[0]

    @property
    def horizon(self) -> int:
        return self.reward.shape[1]

    def first(self, horizon: int) -> Trajectories:
        """The first ``horizon`` steps of every trajectory."""
        check_int("horizon", horizon, 1)
        if horizon > self.horizon:
            raise ValueError(f"horizon={horizon} is longer than the logged trajectories ({self.horizon} steps)")
        cut = slice(0, horizon)
        return Trajectories(
            self.reward[:, cut], self.action[:, cut], self.behavior_logp[:, cut],
            self.observation[:, cut], self.alive[:, cut],
        )  # fmt: skip


@dataclass(frozen=True)
class WeightTarget:
    """A target weight policy on the logged states.

    Attributes:
        name: its label in tables.
        mean: (n, H, A) its weights at every logged state (a stochastic target's centre).
        scale: logit-space scale of its logit-normal (``agents.noisy``), > 0; for a deterministic
            target, the kernel bandwidth.
        deterministic: the target itself is deterministic and ``scale`` is a bandwidth.
    """

    name: str
    mean: np.ndarray
    scale: float
    deterministic: bool = False

    def __post_init__(self) -> None:
        check_number(f"target {self.name!r} scale", self.scale, 0.0, 1.0, lo_open=True)
        m = self.mean
        if m.ndim != 3 or not np.isfinite(m).all() or (m < 0).any() or (m > 1).any():
            raise ValueError(f"target {self.name!r}: mean must be (n, H, A) weights in [0, 1], got shape {m.shape}")

    def log_prob(self, action: np.ndarray) -> np.ndarray:
        """(n, H) log-density of ``action`` (n, H, A) under the target (``agents.noisy.logit_normal_log_prob``)."""
        a, m = torch.from_numpy(np.asarray(action, np.float64)), torch.from_numpy(np.asarray(self.mean, np.float64))
        return logit_normal_log_prob(a, m, self.scale).numpy()


@dataclass(frozen=True)
class SequentialEstimate:
    """One estimator's value for one target, with its bootstrap interval.

    ess: effective sample size of the cumulative weights at the last step (trajectory-wise),
    ``min_ess`` the smallest over the steps; n: trajectories; horizon: H.
    """

    target: str
    estimator: str
    value: float
    low: float
    high: float
    ess: float
    min_ess: float
    n: int
    horizon: int


def log_weights(data: Trajectories, target: WeightTarget) -> np.ndarray:
    """(n, H) log of the cumulative importance weights ``W_t`` (frozen after a trajectory's end)."""
    if target.mean.shape != data.action.shape:
        raise ValueError(
            f"target {target.name!r}: mean has shape {target.mean.shape}, the log's actions {data.action.shape}"
        )
    step = np.where(data.alive, target.log_prob(data.action) - data.behavior_logp, 0.0)
    return np.cumsum(step, axis=1)


def effective_sample_size(log_w: np.ndarray) -> np.ndarray:
    """(H,) ``(sum_i W_it)^2 / sum_i W_it^2`` per step, from the log weights (n, H)."""
    w = np.exp(log_w - log_w.max(axis=0, keepdims=True))
    return w.sum(0) ** 2 / (w * w).sum(0)


def estimate_sequential(
    data: Trajectories,
    target: WeightTarget,
    estimators: tuple[str, ...] = SEQUENTIAL_ESTIMATORS,
    *,
    gamma: float = 1.0,
    n_bootstrap_samples: int = 1000,
    alpha: float = 0.05,
    random_state: int = 0,
    q_model: QModel = fqe,
) -> list[SequentialEstimate]:
    """Each estimator's value of ``target`` on ``data``, with a (1 - alpha) percentile bootstrap
    interval over trajectories (``n_bootstrap_samples`` resamples from ``random_state``). ``q_model(data,
    target, gamma)`` gives DR's ``Q_t(s_t, a_t)`` and ``V_t(s_t)``, each (n, H) (default ``fqe``)."""
    unknown = [e for e in estimators if e not in SEQUENTIAL_ESTIMATORS]
    if unknown or not estimators:
        raise ValueError(
            f"sequential estimator(s) {unknown or '[]'} unknown; allowed: {', '.join(SEQUENTIAL_ESTIMATORS)}"
        )
    check_number("gamma", gamma, 0.0, 1.0)
    check_number("alpha", alpha, 0.0, 1.0, lo_open=True)
    check_int("n_bootstrap_samples", n_bootstrap_samples, 1)
    n, h = data.reward.shape
    log_w = log_weights(data, target)
    ess = effective_sample_size(log_w)
    disc = gamma ** np.arange(h)
    qv = q_model(data, target, gamma) if any(e in ("dr", "sndr") for e in estimators) else None
    with np.errstate(over="ignore", invalid="ignore"):  # overflowing weights are refused below
        terms = _Terms(data, log_w, disc, qv)
    counts = (
        np.random.default_rng(random_state).multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap_samples).astype(float)
    )
    out = []
    for name in estimators:
        if name in _UNNORMALISED and not np.isfinite(terms.w).all():
            t = int(np.argwhere(~np.isfinite(terms.w))[0][1])
            raise ValueError(
                f"{name}: the importance weights overflow float64 at step {t}; the target is too far from the "
                f"logging policy for this horizon (use a shorter horizon, or a self-normalised estimator)"
            )
        with np.errstate(invalid="ignore", divide="ignore"):  # see the module: a NaN bound, not a wrong one
            value = float(terms.value(name, np.ones((1, n)))[0])
            boot = terms.value(name, counts)
        low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        out.append(SequentialEstimate(target.name, name, value, float(low), float(high), float(ess[-1]),
                                      float(ess.min()), n, h))  # fmt: skip
    return out


class _Terms:
    """Every estimator as sums over trajectories, so that a bootstrap resample is a matrix of
    counts (B, n) and each sum one product (B, n) @ (n, ...)."""

    def __init__(
        self, data: Trajectories, log_w: np.ndarray, disc: np.ndarray, qv: tuple[np.ndarray, np.ndarray] | None
    ) -> None:
        r = data.reward
        self.n = r.shape[0]
        self.disc = disc
        self.w = np.exp(log_w)
        shift = log_w.max(axis=0, keepdims=True)  # self-normalised sums are scale-free per step
        self.ws = np.exp(log_w - shift)
        self.G = r @ disc
        self.pd_rows = (self.w * r) @ disc
        self.wr_s = self.ws * r
        if qv is not None:
            q, v = qv
            if q.shape != r.shape or v.shape != r.shape:
                raise ValueError(f"the Q model must give Q and V of shape {r.shape}, got {q.shape} and {v.shape}")
            prev = np.concatenate([np.zeros((self.n, 1)), log_w[:, :-1]], axis=1)
            w_prev = np.exp(prev)
            self.dr_rows = ((self.w * (r - q) + w_prev * v) * data.alive) @ disc
            self.ws_prev = np.exp(prev - prev.max(axis=0, keepdims=True))
            self.a_s = self.ws * (r - q) * data.alive
            self.b_s = self.ws_prev * v * data.alive

    def value(self, name: str, c: np.ndarray) -> np.ndarray:
        """(B,) the estimator on each resample of counts ``c`` (B, n)."""
        n, disc = self.n, self.disc
        if name == "tis":
            return c @ (self.w[:, -1] * self.G) / n
        if name == "pdis":
            return c @ self.pd_rows / n
        if name == "sntis":
            return (c @ (self.ws[:, -1] * self.G)) / (c @ self.ws[:, -1])
        if name == "snpdis":
            return ((c @ self.wr_s) / (c @ self.ws)) @ disc
        if name == "dr":
            return c @ self.dr_rows / n
        # sndr: each step's weights divided by their sum over the resample
        return ((c @ self.a_s) / (c @ self.ws) + (c @ self.b_s) / (c @ self.ws_prev)) @ disc
