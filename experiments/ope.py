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

Rows are treated as independent (position-wise, "independent IPS" for slates). Bad input raises a
ValueError that names the argument and the first bad row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


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
    action_dist: Any,
    estimated_rewards: Any | None = None,
) -> dict[str, np.ndarray | None]:
    """Validated float64/int64 arrays (see the module docstring for shapes); raises ValueError
    naming the argument and the first bad row."""
    r = _array("reward", reward, 1, "float")
    a = _array("action", action, 1, "int")
    n = r.shape[0]
    if n == 0:
        raise ValueError("the logs are empty (0 rounds)")
    pos = np.zeros(n, dtype=np.int64) if position is None else _array("position", position, 1, "int")
    dist = _array("action_dist", action_dist, 3, "float")
    for name, arr in (("action", a), ("position", pos)):
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} rows but reward has {n}")
    if dist.shape[0] != n:
        raise ValueError(f"action_dist has {dist.shape[0]} rows but reward has {n}")
    n_actions, len_list = dist.shape[1], dist.shape[2]
    for name, arr, hi in (("action", a, n_actions), ("position", pos, len_list)):
        bad = np.flatnonzero((arr < 0) | (arr >= hi))
        if len(bad):
            raise ValueError(f"{name}={int(arr[bad[0]])} at row {int(bad[0])} is outside [0, {hi})")
    bad = np.flatnonzero(((dist < -1e-9) | (dist > 1 + 1e-9)).reshape(n, -1).any(1))
    if len(bad):
        raise ValueError(f"action_dist has a probability outside [0, 1] at row {int(bad[0])}")
    sums = dist.sum(axis=1)  # (n, len_list): each position's distribution over actions
    bad = np.flatnonzero((np.abs(sums - 1.0) > 1e-6).any(axis=1))
    if len(bad):
        raise ValueError(
            f"action_dist does not sum to 1 over actions at row {int(bad[0])} (sums {sums[bad[0]].round(6).tolist()})"
        )
    out: dict[str, np.ndarray | None] = {"reward": r, "action": a, "position": pos, "action_dist": dist}
    if pscore is not None:
        p = _array("pscore", pscore, 1, "float")
        if p.shape[0] != n:
            raise ValueError(f"pscore has {p.shape[0]} rows but reward has {n}")
        bad = np.flatnonzero((p <= 0) | (p > 1))
        if len(bad):
            raise ValueError(f"pscore={float(p[bad[0]])!r} at row {int(bad[0])} is outside (0, 1]")
        out["pscore"] = p
    else:
        out["pscore"] = None
    if estimated_rewards is not None:
        q = _array("estimated_rewards_by_reg_model", estimated_rewards, 3, "float")
        if q.shape != dist.shape:
            raise ValueError(f"estimated_rewards_by_reg_model has shape {q.shape}, action_dist {dist.shape}")
        out["q"] = q
    return out


def _target_prob(d: dict[str, Any]) -> np.ndarray:
    """pi(a_i | x_i, pos_i) of each logged row: (n,)."""
    idx = np.arange(d["reward"].shape[0])
    return d["action_dist"][idx, d["action"], d["position"]]


class _Estimator:
    """Shared bootstrap interval over rounds (resampled with a seeded torch.Generator)."""

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-round numerator terms and, for ratio estimators, denominator terms."""
        raise NotImplementedError

    @staticmethod
    def _value(num: np.ndarray, den: np.ndarray | None) -> float:
        if den is None:
            return float(num.mean())
        total = den.sum()
        if total <= 0:
            raise ValueError("no logged row has positive weight under the target policy; the estimate is undefined")
        return float(num.sum() / total)

    def _inputs(self, kw: dict[str, Any]) -> dict[str, Any]:
        return check_inputs(
            kw.get("reward"),
            kw.get("action"),
            kw.get("position"),
            kw.get("pscore"),
            kw.get("action_dist"),
            kw.get("estimated_rewards_by_reg_model"),
        )

    def estimate_policy_value(self, **kw: Any) -> float:
        """The estimated value (expected reward per logged row) of the target policy."""
        return self._value(*self._per_round(self._inputs(kw)))

    def estimate_interval(
        self,
        alpha: float = 0.05,
        n_bootstrap_samples: int = 1000,
        random_state: int | None = None,
        **kw: Any,
    ) -> dict[str, float]:
        """Bootstrap (1 - alpha) interval over rounds: {"mean", "95.0% CI (lower)", "95.0% CI (upper)"}
        (obp's keys; the mean is over the bootstrap samples)."""
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha={alpha!r} must be in (0, 1)")
        if isinstance(n_bootstrap_samples, bool) or not isinstance(n_bootstrap_samples, int) or n_bootstrap_samples < 1:
            raise ValueError(f"n_bootstrap_samples={n_bootstrap_samples!r} must be a positive integer")
        num, den = self._per_round(self._inputs(kw))
        gen = torch.Generator().manual_seed(0 if random_state is None else int(random_state))
        n = num.shape[0]
        idx = torch.randint(0, n, (n_bootstrap_samples, n), generator=gen).numpy()
        nums = num[idx].sum(1)
        vals = nums / n if den is None else nums / np.maximum(den[idx].sum(1), 1e-300)
        level = 100 * (1 - alpha)
        return {
            "mean": float(vals.mean()),
            f"{level:.1f}% CI (lower)": float(np.quantile(vals, alpha / 2)),
            f"{level:.1f}% CI (upper)": float(np.quantile(vals, 1 - alpha / 2)),
        }


@dataclass(frozen=True)
class ReplayMethod(_Estimator):
    """Li et al. (2011) replay: for logs of a uniform-random policy and a deterministic target
    (action_dist of 0s and 1s), the mean reward of the rows where the target picks the logged action."""

    estimator_name: str = "replay"

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
        dist = d["action_dist"]
        row = np.flatnonzero((np.abs(dist - np.round(dist)) > 1e-9).reshape(dist.shape[0], -1).any(1))
        if len(row):
            raise ValueError(f"replay needs a deterministic target policy; action_dist is fractional at row {row[0]}")
        match = _target_prob(d)
        return d["reward"] * match, match


@dataclass(frozen=True)
class InverseProbabilityWeighting(_Estimator):
    """IPS: mean(reward * min(pi / pscore, lambda_))."""

    lambda_: float = math.inf
    estimator_name: str = "ipw"

    def __post_init__(self) -> None:
        if not self.lambda_ > 0:
            raise ValueError(f"lambda_={self.lambda_!r} must be > 0 (the clipping threshold of the weights)")

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
        if d["pscore"] is None:
            raise ValueError("pscore is required")
        w = np.minimum(_target_prob(d) / d["pscore"], self.lambda_)
        return d["reward"] * w, None


@dataclass(frozen=True)
class SelfNormalizedInverseProbabilityWeighting(_Estimator):
    """SNIPS: sum(reward * w) / sum(w), w = pi / pscore."""

    estimator_name: str = "snipw"

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
        if d["pscore"] is None:
            raise ValueError("pscore is required")
        w = _target_prob(d) / d["pscore"]
        return d["reward"] * w, w


@dataclass(frozen=True)
class DirectMethod(_Estimator):
    """DM: mean over rounds of sum_a pi(a | x, pos) q(x, a, pos)."""

    estimator_name: str = "dm"

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
        if "q" not in d:
            raise ValueError("estimated_rewards_by_reg_model is required")
        idx = np.arange(d["reward"].shape[0])
        return (d["action_dist"][idx, :, d["position"]] * d["q"][idx, :, d["position"]]).sum(1), None


@dataclass(frozen=True)
class DoublyRobust(_Estimator):
    """DR: DM + mean(w * (reward - q(x, a, pos))), w = min(pi / pscore, lambda_)."""

    lambda_: float = math.inf
    estimator_name: str = "dr"

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
        if d["pscore"] is None:
            raise ValueError("pscore is required")
        dm, _ = DirectMethod()._per_round(d)
        idx = np.arange(d["reward"].shape[0])
        w = np.minimum(_target_prob(d) / d["pscore"], self.lambda_)
        return dm + w * (d["reward"] - d["q"][idx, d["action"], d["position"]]), None
