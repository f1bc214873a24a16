"""How far interest moves along a timeline of items: the statistics ``calibrate`` compares.

A user's timeline is cut into blocks of ``block`` consecutive items; a block's centroid is the
normalised mean of its item vectors. Per user: ``lag_cos[L]`` (mean cosine between centroids L
blocks apart), ``step_move`` (mean ``1 - cos`` between consecutive centroids) and ``jump_rate``
(share of consecutive pairs with cosine below ``tau``); on real data, per active day too
(``daily_stats``). See ``online.calibrate`` for the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from driftrec.simulators.catalog import Catalog

CENTRE = {"step_move": "median", "jump_rate": "mean"}
"""The per-user statistics besides the lag curve, and the centre compared for each (per-user jump
rates are coarse fractions whose median flips between 0 and 1/k, so their mean is used)."""
STATS = tuple(CENTRE)


@dataclass
class DriftStats:
    """Per-user drift statistics (one row per user with at least two blocks).

    lag_cos: (U, max_lag) mean cosine between centroids L blocks apart (NaN where a user has too
    few blocks). step_move, jump_rate: (U,). tau: the jump threshold used.
    """

    lag_cos: np.ndarray
    step_move: np.ndarray
    jump_rate: np.ndarray
    tau: float

    def summary(self) -> dict[str, dict[str, float | list[float]]]:
        """Mean, median and 10th/90th percentiles over users of each statistic (lag_cos: median
        and percentiles per lag)."""
        out: dict[str, dict[str, float | list[float]]] = {}
        for name in STATS:
            v = getattr(self, name)
            out[name] = {
                "mean": float(np.nanmean(v)) if len(v) else float("nan"),
                "median": _q(v, 0.5),
                "p10": _q(v, 0.1),
                "p90": _q(v, 0.9),
                "users": int(len(v)),
            }
        out["lag_cos"] = {
            "median": [_q(c, 0.5) for c in self.lag_cos.T],
            "p10": [_q(c, 0.1) for c in self.lag_cos.T],
            "p90": [_q(c, 0.9) for c in self.lag_cos.T],
        }
        return out


def _q(v: np.ndarray, q: float) -> float:
    v = v[np.isfinite(v)]
    return float(np.quantile(v, q)) if len(v) else float("nan")


def block_centroids(vecs: np.ndarray, block: int) -> np.ndarray:
    """(B, d) unit centroids of consecutive ``block``-item blocks of ``vecs`` (n, d); a partial
    last block is dropped."""
    b = len(vecs) // block
    c = vecs[: b * block].reshape(b, block, vecs.shape[-1]).mean(1)
    return c / np.linalg.norm(c, axis=1, keepdims=True).clip(1e-12)


def consecutive_cosines(sequences: Sequence[np.ndarray], E: np.ndarray, block: int) -> np.ndarray:
    """Cosines between consecutive block centroids, pooled over all sequences (item rows of E)."""
    out = []
    for rows in sequences:
        c = block_centroids(E[rows], block)
        if len(c) >= 2:
            out.append((c[1:] * c[:-1]).sum(1))
    return np.concatenate(out) if out else np.zeros(0)


def drift_stats(sequences: Sequence[np.ndarray], E: np.ndarray, block: int, max_lag: int, tau: float) -> DriftStats:
    """Per-user statistics of item-row sequences (see module docstring)."""
    lag, move, jump = [], [], []
    for rows in sequences:
        c = block_centroids(E[rows], block)
        if len(c) < 2:
            continue
        sim = c @ c.T
        lag.append([float(np.diagonal(sim, L).mean()) if len(c) > L else np.nan for L in range(1, max_lag + 1)])
        cons = np.diagonal(sim, 1)
        move.append(float((1 - cons).mean()))
        jump.append(float((cons < tau).mean()))
    return DriftStats(np.asarray(lag).reshape(-1, max_lag), np.asarray(move), np.asarray(jump), float(tau))


def real_sequences(ratings: pd.DataFrame, catalog: Catalog) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each user's rated items as catalog rows, and their timestamps in days (time order)."""
    row = pd.Series(np.arange(catalog.num_items), index=catalog.ids)
    df = ratings[ratings["item"].isin(row.index)]
    seqs, days = [], []
    for _, g in df.groupby("user", sort=True):
        seqs.append(row[g["item"]].to_numpy())
        days.append(g["timestamp"].to_numpy() / 86400.0)
    return seqs, days


def daily_stats(sequences: Sequence[np.ndarray], days: Sequence[np.ndarray], E: np.ndarray) -> dict[str, float]:
    """Real-data only: movement between consecutive active days' centroids, and the gap in days."""
    moves, gaps, per_day = [], [], []
    for rows, t in zip(sequences, days, strict=True):
        day = np.floor(t).astype(np.int64)
        uniq, inv, counts = np.unique(day, return_inverse=True, return_counts=True)
        if len(uniq) < 2:
            continue
        c = np.zeros((len(uniq), E.shape[1]))
        np.add.at(c, inv, E[rows])
        c /= np.linalg.norm(c, axis=1, keepdims=True).clip(1e-12)
        moves.append(float((1 - (c[1:] * c[:-1]).sum(1)).mean()))
        gaps.append(float(np.median(np.diff(uniq))))
        per_day.append(float(counts.mean()))
    return {
        "day_move_median": float(np.median(moves)),
        "days_between_median": float(np.median(gaps)),
        "items_per_active_day_median": float(np.median(per_day)),
        "users": len(moves),
    }
