"""Confidence intervals over seeds (Student t; no SciPy needed)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# two-sided 95% Student t quantiles t_{0.975, df}
_T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (conservative between table rows)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df in _T975:
        return _T975[df]
    below = [d for d in _T975 if d < df]
    return _T975[max(below)] if df <= 120 else 1.960


def mean_ci95(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval of independent per-seed values: (mean, lo, hi).

    With a single value the interval is degenerate (lo = hi = mean) and says nothing.
    """
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci95 needs at least one value")
    m = math.fsum(values) / n
    if n == 1:
        return m, m, m
    sd = math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return m, m - half, m + half


def paired_difference(values: Mapping[str, float], base: Mapping[str, float]) -> dict[str, Any]:
    """The paired per-seed difference ``values - base`` (both by seed; ``base``'s seeds) with its 95%
    t-interval: {"mean", "ci95"} relative to ``base``'s mean (0.15 = 15% more), {"abs_mean",
    "abs_ci95"} in the values' own units."""
    m, lo, hi = mean_ci95([values[s] - base[s] for s in base])
    b = math.fsum(base.values()) / len(base)  # base's mean, as mean_ci95 gives it
    return {"mean": m / b, "ci95": [lo / b, hi / b], "abs_mean": m, "abs_ci95": [lo, hi]}
