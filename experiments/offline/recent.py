"""Drift-aware off-policy estimators: a target's value now, from a log of drifting users.

The plain estimators (``offline.ope``) average over the whole log, so under drift they estimate
the target's value averaged over the logged period, not its value at the end of it. These weight
each logged row by its recency ``k(t)`` before the base estimator's sums::

    sliding window (window W):     k(t) = 1 if t > now - W else 0
    exponential decay (half-life h): k(t) = 2 ** (-(now - t) / h)

with ``t`` the row's time (``timestamp``: the step in a driftrec log, hours in OBD) and ``now``
the log's last time. IPS becomes ``sum_i k_i r_i w_i / sum_i k_i`` and SNIPS ``sum_i k_i r_i w_i /
sum_i k_i w_i``: the recency kernel trades variance (fewer effective rows) for less drift bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftrec.encoders.checks import check_number
from driftrec.experiments.offline.ope import (
    InverseProbabilityWeighting,
    SelfNormalizedInverseProbabilityWeighting,
    _array,
    _Estimator,
)

RECENT_ESTIMATORS = ("sw-ipw", "sw-snipw", "decay-ipw", "decay-snipw")
"""Drift-aware estimators by short name: sliding-window (``sw-``) and exponentially decayed
(``decay-``) IPS and SNIPS."""


def recency_kernel(timestamp: np.ndarray, window: float | None = None, half_life: float | None = None) -> np.ndarray:
    """(n,) recency weight of each row from its time (n,): a sliding window of ``window`` time
    units or an exponential decay of half-life ``half_life``, relative to the last time."""
    if (window is None) == (half_life is None):
        raise ValueError("give exactly one of window (sliding window) or half_life (exponential decay)")
    age = timestamp.max() - timestamp
    if window is not None:
        check_number("window", window, 0.0, math.inf, lo_open=True)
        return (age < window).astype(np.float64)
    check_number("half_life", half_life, 0.0, math.inf, lo_open=True)
    return np.exp2(-age / half_life)


@dataclass(frozen=True)
class RecencyWeighted(_Estimator):
    """``base`` (IPS or SNIPS) over the recent log: every row's terms times its recency weight
    (``recency_kernel``). Takes the base estimator's arguments plus ``timestamp`` (n_rounds,),
    each row's time; the interval resamples as the base does."""

    base: _Estimator
    window: float | None = None
    half_life: float | None = None
    estimator_name: str = "recent"

    def __post_init__(self) -> None:
        recency_kernel(np.zeros(1), self.window, self.half_life)  # checks the kernel's arguments

    def _inputs(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw = dict(kw)
        t = kw.pop("timestamp", None)
        if t is None:
            raise ValueError(f"{self.estimator_name} needs timestamp: the time of every logged row")
        d = self.base._inputs(kw)
        t = _array("timestamp", t, 1, "float")
        if t.shape[0] != d["reward"].shape[0]:
            raise ValueError(f"timestamp has {t.shape[0]} rows but reward has {d['reward'].shape[0]}")
        d["recency"] = recency_kernel(t, self.window, self.half_life)
        return d

    def _per_round(self, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        num, den = self.base._per_round(d)
        return num * d["recency"], den * d["recency"]


def make_recent(name: str, window: float, half_life: float) -> RecencyWeighted:
    """The drift-aware estimator ``name`` (one of ``RECENT_ESTIMATORS``)."""
    if name not in RECENT_ESTIMATORS:
        raise ValueError(f"drift-aware estimator {name!r} unknown; allowed: {', '.join(RECENT_ESTIMATORS)}")
    kind, _, base_name = name.partition("-")
    base = InverseProbabilityWeighting() if base_name == "ipw" else SelfNormalizedInverseProbabilityWeighting()
    if kind == "sw":
        return RecencyWeighted(base, window=window, estimator_name=name)
    return RecencyWeighted(base, half_life=half_life, estimator_name=name)
