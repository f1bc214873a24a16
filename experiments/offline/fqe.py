"""Fitted-Q evaluation of a weight policy on logged trajectories, for the doubly robust estimators.

One ridge regression per step, backwards from the horizon (finite-horizon FQE)::

    Q_t(s, a) = phi(s, a) . beta_t,   fitted to  y_t = r_t + gamma * V_{t+1}(s_{t+1})
    V_t(s)    = E_{a ~ pi_e(. | s)} Q_t(s, a)

with features ``phi(s, a) = [1, s, a]`` ("linear", the default) or ``[1, s, a, a^2, s (x) a]``
("quadratic"), ``s`` standardised on the log, cross-fitted over folds of trajectories as SCOPE-RL's
DR does (``fqe``). Because ``phi`` is linear in ``a`` and ``a^2``, ``V_t`` needs only the target's
first two moments of each weight, computed by Gauss-Hermite quadrature over its logit-normal (exact
to float64 rounding for these smooth integrands). A wrong Q leaves DR unbiased (the weights are
exact) and costs variance only; with few trajectories per step, the linear features keep the fit's
own variance low.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from driftrec.agents.noisy import mean_logit

if TYPE_CHECKING:
    from driftrec.experiments.offline.sequential import Trajectories, WeightTarget

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(32)
_WEIGHTS = _WEIGHTS / np.sqrt(2.0 * np.pi)


def target_moments(target: WeightTarget) -> tuple[np.ndarray, np.ndarray]:
    """E[a] and E[a^2] (n, H, A) of the target's weights at every logged state."""
    y = mean_logit(torch.from_numpy(np.asarray(target.mean, np.float64))).numpy()[..., None] + target.scale * _NODES
    a = 1.0 / (1.0 + np.exp(-y))
    return a @ _WEIGHTS, (a * a) @ _WEIGHTS


FEATURES = ("linear", "quadratic")


def _features(s: np.ndarray, a: np.ndarray, a2: np.ndarray, kind: str = "quadratic") -> np.ndarray:
    """(rows, 1 + F + 2A + F*A) from standardised observations s (rows, F), weights or their
    means a (rows, A) and squares or second moments a2 (rows, A)."""
    if kind == "linear":
        return np.concatenate([np.ones((len(s), 1)), s, a], axis=1)
    inter = (s[:, :, None] * a[:, None, :]).reshape(len(s), -1)
    return np.concatenate([np.ones((len(s), 1)), s, a, a2, inter], axis=1)


def fqe(
    data: Trajectories,
    target: WeightTarget,
    gamma: float = 1.0,
    ridge: float = 1e-2,
    folds: int = 2,
    features: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """``Q_t(s_t, a_t)`` at the logged actions and ``V_t(s_t)`` under the target, both (n, H) and 0
    after a trajectory's end. Cross-fitted: the trajectories are split into ``folds`` groups
    (trajectory i in group i mod folds) and each group's Q and V come from the model fitted on the
    others (``folds=1``: one model on every trajectory), so that DR's correction is not fitted to the
    rewards it corrects. ``ridge``: the L2 penalty per row on the standardised features (the
    intercept is not penalised; 0 gives least squares)."""
    if features not in FEATURES:
        raise ValueError(f"features {features!r} is unknown; allowed: {', '.join(FEATURES)}")
    n, h = data.reward.shape
    if folds < 1 or (folds > 1 and n < 2 * folds):
        raise ValueError(f"folds={folds} needs at least {2 * folds} trajectories, got {n}; use folds=1")
    group = np.arange(n) % folds
    q = np.zeros((n, h))
    v = np.zeros((n, h))
    for g in range(folds):
        fit = group != g if folds > 1 else np.ones(n, bool)
        out = group == g
        qg, vg = _fqe_fit(data, target, gamma, ridge, fit, out, features)
        q[out], v[out] = qg, vg
    return q, v


def _fqe_fit(
    data: Trajectories,
    target: WeightTarget,
    gamma: float,
    ridge: float,
    fit: np.ndarray,
    out: np.ndarray,
    kind: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Backward FQE on the trajectories ``fit`` (n,) bool; Q and V of the trajectories ``out``."""
    n, h = data.reward.shape
    obs, alive = data.observation, data.alive
    flat = obs[alive & fit[:, None]]
    mu, sd = flat.mean(0), flat.std(0)
    sd = np.where(sd > 1e-9, sd, np.inf)  # a constant feature standardises to 0
    s_all = (obs - mu) / sd
    ea, ea2 = target_moments(target)
    v_fit = np.zeros((n, h))  # V of the fitting trajectories, for their targets y
    q = np.zeros((n, h))
    v = np.zeros((n, h))
    for t in reversed(range(h)):
        rows = alive[:, t] & fit
        y = data.reward[rows, t] + (gamma * v_fit[rows, t + 1] if t + 1 < h else 0.0)
        a = data.action[:, t]
        beta = _ridge(_features(s_all[rows, t], a[rows], a[rows] ** 2, kind), y, ridge)
        both = alive[:, t] & (fit | out)
        s = s_all[both, t]
        q[both, t] = _features(s, a[both], a[both] ** 2, kind) @ beta
        v[both, t] = _features(s, ea[both, t], ea2[both, t], kind) @ beta
        v_fit[rows, t] = v[rows, t]
    return q[out], v[out]


def _ridge(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Coefficients of ``y ~ x`` (x's first column the intercept) under an L2 penalty of ``ridge``
    per row on the other columns scaled to unit spread; a column without spread gets 0."""
    spread = x[:, 1:].std(0)
    scale = np.where(spread > 1e-12, spread, np.inf)
    z = np.concatenate([x[:, :1], x[:, 1:] / scale], axis=1)
    pen = np.sqrt(ridge * len(x)) * np.eye(z.shape[1])[1:]
    a = np.concatenate([z, pen]) if ridge > 0 else z
    b = np.concatenate([y, np.zeros(len(pen))]) if ridge > 0 else y
    coef = np.linalg.lstsq(a, b, rcond=None)[0]
    return np.concatenate([coef[:1], coef[1:] / scale])
