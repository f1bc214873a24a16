"""Off-policy estimators: the value of a target policy from logs of another (obp's interface).

Every estimator is a small frozen dataclass with

    estimate_policy_value(reward=, action=, position=, pscore=, action_dist=, ...) -> float
    estimate_interval(..., alpha=0.05, n_bootstrap_samples=1000, random_state=None) -> dict

with the argument names of obp (Saito et al. 2021): ``reward``, ``action``, ``position`` (n_rounds,)
of the logged rounds (one row per shown item: position 0-based), ``pscore`` (n_rounds,) the logging
policy's probability of that action at that position, and ``action_dist`` (n_rounds, n_actions,
len_list) the target policy's probabilities. DM and DR also take ``estimated_rewards_by_reg_model``
(n_rounds, n_actions, len_list). The value is the expected reward per logged row (per shown item).

- ``ReplayMethod``: Li et al. (2011) replay for uniform-random logs: the mean reward of the rows
  where the logged action is the one the (deterministic) target policy chooses.
- ``InverseProbabilityWeighting``: IPS, ``mean(r * w)`` with ``w = pi(a|x, pos) / pscore``,
  optionally clipped at ``lambda_``.
- ``SelfNormalizedInverseProbabilityWeighting``: SNIPS, ``sum(r w) / sum(w)``.
- ``DirectMethod``: ``mean(sum_a pi(a|x, pos) q(x, a, pos))``.
- ``DoublyRobust``: DM plus the IPS-weighted residual of the logged action.
- ``SlateIndependentIPS``: position-wise IPS for slates: the expected reward of a whole slate.

Where ``action_dist`` would be too large (a catalog of thousands of items over millions of rows),
give ``evaluation_policy_pscore`` (n_rounds,) instead: the target's probability of each logged
action at its position (obp's ``evaluation_policy_pscore``), and for DM/DR
``estimated_reward_logged`` (n_rounds,) = q(x, a, pos) of the logged action and
``estimated_reward_target`` (n_rounds,) = sum_a pi(a | x, pos) q(x, a, pos). Intervals resample
rows or, given ``slate_id``, whole slates. Bad input raises a ValueError that names the argument
and the first bad row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from driftrec.encoders.checks import check_int


def _array(name: str, value: Any, ndim: int, dtype: str) -> np.ndarray:
    if value is None:
        raise ValueError(f"{name} is required")
    arr = np.asarray(value)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if dtype == "int":
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
        return arr.astype(np.int64)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)) if arr.size else []
    if len(bad):
        raise ValueError(f"{name} has a NaN or infinite value at row {int(bad[0])}")
    return arr


def check_inputs(
    reward: Any,
    action: Any,
    position: Any,
    pscore: Any | None,
    action_dist: Any | None,
    estimated_rewards: Any | None = None,
    evaluation_policy_pscore: Any | None = None,
    estimated_reward_logged: Any | None = None,
    estimated_reward_target: Any | None = None,
    slate_id: Any | None = None,
) -> dict[str, Any]:
    """Validated float64/int64 arrays (see the module docstring for shapes); raises ValueError
    naming the argument and the first bad row.

    Returns reward, action, position, pscore (or None), ``pi`` (n,) the target's probability of
    each logged action at its position, ``fractional_row`` (the first row where the target's
    probabilities are not all 0 or 1, or None), ``slate_id`` (or None) and, given a reward model, ``q_logged`` (n,) and
    ``q_target`` (n,) = sum_a pi(a | x, pos) q(x, a, pos).
    """
    r = _array("reward", reward, 1, "float")
    a = _array("action", action, 1, "int")
    n = r.shape[0]
    if n == 0:
        raise ValueError("the logs are empty (0 rounds)")
    pos = np.zeros(n, dtype=np.int64) if position is None else _array("position", position, 1, "int")
    for name, arr in (("action", a), ("position", pos)):
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} rows but reward has {n}")
    for name, arr in (("action", a), ("position", pos)):
        bad = np.flatnonzero(arr < 0)
        if len(bad):
            raise ValueError(f"{name}={int(arr[bad[0]])} at row {int(bad[0])} is negative")
    out: dict[str, Any] = {"reward": r, "action": a, "position": pos}
    if (action_dist is None) == (evaluation_policy_pscore is None):
        raise ValueError("give the target policy as exactly one of action_dist or evaluation_policy_pscore")
    idx = np.arange(n)
    if action_dist is not None:
        dist = _array("action_dist", action_dist, 3, "float")
        if dist.shape[0] != n:
            raise ValueError(f"action_dist has {dist.shape[0]} rows but reward has {n}")
        n_actions, len_list = dist.shape[1], dist.shape[2]
        for name, arr, hi in (("action", a, n_actions), ("position", pos, len_list)):
            bad = np.flatnonzero(arr >= hi)
            if len(bad):
                raise ValueError(f"{name}={int(arr[bad[0]])} at row {int(bad[0])} is outside [0, {hi})")
        bad = np.flatnonzero(((dist < -1e-9) | (dist > 1 + 1e-9)).reshape(n, -1).any(1))
        if len(bad):
            raise ValueError(f"action_dist has a probability outside [0, 1] at row {int(bad[0])}")
        sums = dist.sum(axis=1)  # (n, len_list): each position's distribution over actions
        bad = np.flatnonzero((np.abs(sums - 1.0) > 1e-6).any(axis=1))
        if len(bad):
            raise ValueError(
                f"action_dist does not sum to 1 over actions at row {int(bad[0])} "
                f"(sums {sums[bad[0]].round(6).tolist()})"
            )
        out["pi"] = dist[idx, a, pos]
        frac = np.flatnonzero((np.abs(dist - np.round(dist)) > 1e-9).reshape(n, -1).any(1))
        out["fractional_row"] = int(frac[0]) if len(frac) else None
    else:
        pi = _array("evaluation_policy_pscore", evaluation_policy_pscore, 1, "float")
        if pi.shape[0] != n:
            raise ValueError(f"evaluation_policy_pscore has {pi.shape[0]} rows but reward has {n}")
        bad = np.flatnonzero((pi < 0) | (pi > 1))
        if len(bad):
            raise ValueError(f"evaluation_policy_pscore={float(pi[bad[0]])!r} at row {int(bad[0])} is outside [0, 1]")
        out["pi"] = pi
        frac = np.flatnonzero(np.abs(pi - np.round(pi)) > 1e-9)
        out["fractional_row"] = int(frac[0]) if len(frac) else None
    out["pscore"] = None
    if pscore is not None:
        p = _array("pscore", pscore, 1, "float")
        if p.shape[0] != n:
            raise ValueError(f"pscore has {p.shape[0]} rows but reward has {n}")
        bad = np.flatnonzero((p <= 0) | (p > 1))
        if len(bad):
            raise ValueError(f"pscore={float(p[bad[0]])!r} at row {int(bad[0])} is outside (0, 1]")
        out["pscore"] = p
    if estimated_rewards is not None:
        if action_dist is None:
            raise ValueError(
                "estimated_rewards_by_reg_model goes with action_dist; with evaluation_policy_pscore "
                "give estimated_reward_logged and estimated_reward_target"
            )
        q = _array("estimated_rewards_by_reg_model", estimated_rewards, 3, "float")
        if q.shape != dist.shape:
            raise ValueError(f"estimated_rewards_by_reg_model has shape {q.shape}, action_dist {dist.shape}")
        out["q_logged"] = q[idx, a, pos]
        out["q_target"] = (dist[idx, :, pos] * q[idx, :, pos]).sum(1)
    elif estimated_reward_logged is not None or estimated_reward_target is not None:
        for name, v in (
            ("estimated_reward_logged", estimated_reward_logged),
            ("estimated_reward_target", estimated_reward_target),
        ):
            arr = _array(name, v, 1, "float")
            if arr.shape[0] != n:
                raise ValueError(f"{name} has {arr.shape[0]} rows but reward has {n}")
            out["q_logged" if name.endswith("logged") else "q_target"] = arr
    out["slate_id"] = None if slate_id is None else _array("slate_id", slate_id, 1, "int")
    if out["slate_id"] is not None and out["slate_id"].shape[0] != n:
        raise ValueError(f"slate_id has {out['slate_id'].shape[0]} rows but reward has {n}")
    return out


_BOOTSTRAP_CELLS = 1 << 24
"""Resampled indices drawn at once (bounds the bootstrap's memory to about 128 MiB)."""


class _Estimator:
    """Shared value and bootstrap interval. ``_per_round`` gives numerator and denominator terms
    per logged row; the value is sum(num) / sum(den). The bootstrap resamples rows or, given
    ``slate_id``, whole slates (rows of a slate are not independent)."""

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @staticmethod
    def _value(num: np.ndarray, den: np.ndarray) -> float:
        total = den.sum()
        if total <= 0:
            raise ValueError("no logged row has positive weight under the target policy; the estimate is undefined")
        return float(num.sum() / total)

    def _inputs(self, kw: dict[str, Any]) -> dict[str, Any]:
        known = {
            "reward",
            "action",
            "position",
            "pscore",
            "action_dist",
            "estimated_rewards_by_reg_model",
            "evaluation_policy_pscore",
            "estimated_reward_logged",
            "estimated_reward_target",
            "slate_id",
        }
        unknown = sorted(set(kw) - known)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown argument(s) {', '.join(unknown)}")
        return check_inputs(
            kw.get("reward"),
            kw.get("action"),
            kw.get("position"),
            kw.get("pscore"),
            kw.get("action_dist"),
            kw.get("estimated_rewards_by_reg_model"),
            kw.get("evaluation_policy_pscore"),
            kw.get("estimated_reward_logged"),
            kw.get("estimated_reward_target"),
            kw.get("slate_id"),
        )

    def estimate_policy_value(self, **kw: Any) -> float:
        """The estimated value of the target policy (see the class docstring for its unit)."""
        return self._value(*self._per_round(self._inputs(kw)))

    def estimate_interval(
        self,
        alpha: float = 0.05,
        n_bootstrap_samples: int = 1000,
        random_state: int | None = None,
        **kw: Any,
    ) -> dict[str, float]:
        """Bootstrap (1 - alpha) interval: {"mean", "95.0% CI (lower)", "95.0% CI (upper)"}
        (obp's keys; the mean is over the bootstrap samples). Resamples slates when ``slate_id``
        is given, else rows."""
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha={alpha!r} must be in (0, 1)")
        check_int("n_bootstrap_samples", n_bootstrap_samples, 1)
        d = self._inputs(kw)
        num, den = self._per_round(d)
        if d["slate_id"] is not None:
            _, unit = np.unique(d["slate_id"], return_inverse=True)
            num, den = np.bincount(unit, weights=num), np.bincount(unit, weights=den)
        gen = torch.Generator().manual_seed(0 if random_state is None else int(random_state))
        n = num.shape[0]
        vals = np.empty(n_bootstrap_samples)
        chunk = max(1, _BOOTSTRAP_CELLS // n)
        for start in range(0, n_bootstrap_samples, chunk):
            b = min(chunk, n_bootstrap_samples - start)
            idx = torch.randint(0, n, (b, n), generator=gen).numpy()
            vals[start : start + b] = num[idx].sum(1) / np.maximum(den[idx].sum(1), 1e-300)
        level = 100 * (1 - alpha)
        return {
            "mean": float(vals.mean()),
            f"{level:.1f}% CI (lower)": float(np.quantile(vals, alpha / 2)),
            f"{level:.1f}% CI (upper)": float(np.quantile(vals, 1 - alpha / 2)),
        }


@dataclass(frozen=True)
class ReplayMethod(_Estimator):
    """Li et al. (2011) replay: for logs of a uniform-random policy and a deterministic target
    (probabilities 0 or 1), the mean reward of the rows where the target picks the logged action."""

    estimator_name: str = "replay"

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        if d["fractional_row"] is not None:
            row = d["fractional_row"]
            raise ValueError(
                f"replay needs a deterministic target policy; its probabilities are fractional at row {row}"
            )
        return d["reward"] * d["pi"], d["pi"]


def _weights(d: dict[str, Any], lambda_: float = math.inf) -> np.ndarray:
    if d["pscore"] is None:
        raise ValueError("pscore is required")
    return np.minimum(d["pi"] / d["pscore"], lambda_)


@dataclass(frozen=True)
class InverseProbabilityWeighting(_Estimator):
    """IPS: mean(reward * min(pi / pscore, lambda_)), per logged row."""

    lambda_: float = math.inf
    estimator_name: str = "ipw"

    def __post_init__(self) -> None:
        if not self.lambda_ > 0:
            raise ValueError(f"lambda_={self.lambda_!r} must be > 0 (the clipping threshold of the weights)")

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        w = _weights(d, self.lambda_)
        return d["reward"] * w, np.ones_like(w)


@dataclass(frozen=True)
class SelfNormalizedInverseProbabilityWeighting(_Estimator):
    """SNIPS: sum(reward * w) / sum(w), w = pi / pscore, per logged row."""

    estimator_name: str = "snipw"

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        w = _weights(d)
        return d["reward"] * w, w


def _q(d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    if "q_target" not in d:
        raise ValueError(
            "a reward model is required: estimated_rewards_by_reg_model (with action_dist) or "
            "estimated_reward_logged and estimated_reward_target (with evaluation_policy_pscore)"
        )
    return d["q_logged"], d["q_target"]


@dataclass(frozen=True)
class DirectMethod(_Estimator):
    """DM: mean over rows of sum_a pi(a | x, pos) q(x, a, pos)."""

    estimator_name: str = "dm"

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        _, q_target = _q(d)
        return q_target, np.ones_like(q_target)


@dataclass(frozen=True)
class DoublyRobust(_Estimator):
    """DR: DM + mean(w * (reward - q(x, a, pos))), w = min(pi / pscore, lambda_)."""

    lambda_: float = math.inf
    estimator_name: str = "dr"

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        q_logged, q_target = _q(d)
        w = _weights(d, self.lambda_)
        return q_target + w * (d["reward"] - q_logged), np.ones_like(w)


@dataclass(frozen=True)
class SlateIndependentIPS(_Estimator):
    """Position-wise (independent) IPS for slates (Li et al. 2018; obp's ``SlateIndependentIPS``):
    the expected reward of a whole slate, sum over positions of reward * pi(item at pos) /
    pscore(item at pos), averaged over slates. Unbiased when a position's reward depends only on
    the item there (position-based click models). Takes obp's slate argument names:
    ``slate_id``, ``reward``, ``position``, ``pscore_item_position``,
    ``evaluation_policy_pscore_item_position``; the interval resamples slates."""

    estimator_name: str = "iips"

    def _inputs(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw = dict(kw)
        if kw.get("slate_id") is None:
            raise ValueError("slate_id is required: the slate each row belongs to")
        if "pscore_item_position" in kw:
            kw["pscore"] = kw.pop("pscore_item_position")
        if "evaluation_policy_pscore_item_position" in kw:
            kw["evaluation_policy_pscore"] = kw.pop("evaluation_policy_pscore_item_position")
        kw.setdefault("action", np.zeros(np.shape(kw.get("reward", [])), dtype=np.int64))
        return super()._inputs(kw)

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        w = _weights(d)
        _, unit, count = np.unique(d["slate_id"], return_inverse=True, return_counts=True)
        return d["reward"] * w, 1.0 / count[unit]


ESTIMATORS: dict[str, type[_Estimator]] = {
    "replay": ReplayMethod,
    "ipw": InverseProbabilityWeighting,
    "snipw": SelfNormalizedInverseProbabilityWeighting,
    "dm": DirectMethod,
    "dr": DoublyRobust,
    "iips": SlateIndependentIPS,
}
"""Estimators by short name (obp's ``estimator_name``)."""
