"""Logged bandit feedback: the arrays off-policy estimators take, and loaders that produce them.

``BanditFeedback`` holds obp's bandit-feedback keys (``n_rounds``, ``n_actions``, ``action``,
``position`` 0-based, ``reward``, ``pscore``, ``context``). ``load_obd`` reads an Open Bandit
Dataset CSV folder (Saito et al. 2021: ``<policy>/<campaign>/<campaign>.csv`` with columns
``item_id``, ``position`` 1-based, ``click``, ``propensity_score`` and optionally
``user_feature_*``). ``bts_action_dist`` reproduces the production Bernoulli Thompson Sampling
policy's action distribution by Monte Carlo from its Beta priors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

OBD_COLUMNS = ("item_id", "position", "click", "propensity_score")


@dataclass(frozen=True)
class BanditFeedback:
    """One row per shown item. action, position (0-based), reward, pscore: (n_rounds,);
    context: (n_rounds, n_features) or None; len_list: positions per slate; slate_id: (n_rounds,)
    the slate each row belongs to, or None when unknown; user_id: (n_rounds,) the user (in a
    driftrec log: per run) each row belongs to, or None: a user's slates over time are not
    independent, so intervals resample users when it is known; timestamp: (n_rounds,) each row's
    time in ``time_unit`` (a driftrec log's step; OBD's hours since its first row), or None."""

    n_rounds: int
    n_actions: int
    len_list: int
    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    context: np.ndarray | None = None
    slate_id: np.ndarray | None = None
    user_id: np.ndarray | None = None
    timestamp: np.ndarray | None = None
    time_unit: str = "step"

    def as_dict(self) -> dict[str, Any]:
        """The obp-style dict (keys as in ``obp.dataset.OpenBanditDataset.obtain_batch_bandit_feedback``)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def load_obd(path: str | Path, n_actions: int | None = None, len_list: int | None = None) -> BanditFeedback:
    """Read an Open Bandit Dataset log: a CSV file, or a folder holding ``<name>.csv`` (e.g.
    ``obd/random/all``). ``n_actions`` defaults to the item count the data declares: the rows of
    ``item_context.csv`` beside the log (OBD ships one); without it, the largest item id + 1, with a
    warning (items never shown would be missed). ``len_list`` defaults to the largest position
    seen. Errors name the file, the column and the first bad row."""
    p = Path(path)
    declared = _declared_items(p.parent if p.is_file() else p) if n_actions is None else None
    if p.is_dir():
        csv = p / f"{p.name}.csv"
        if not csv.is_file():
            found = sorted(x.name for x in p.glob("*.csv"))
            raise FileNotFoundError(f"no {csv.name} in {str(p)!r} (found: {', '.join(found) or 'no CSV files'})")
        p = csv
    if not p.is_file():
        raise FileNotFoundError(f"no such OBD log: {str(p)!r}")
    frame = pd.read_csv(p, index_col=0)
    missing = [c for c in OBD_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{str(p)!r} lacks the OBD column(s) {', '.join(missing)}; found {', '.join(frame.columns)}")
    if frame.empty:
        raise ValueError(f"{str(p)!r} has no rows")
    for col in OBD_COLUMNS:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            raise ValueError(f"{str(p)!r}: column {col} has a missing or non-numeric value at row {int(bad[0])}")
        frame[col] = values
    action = frame["item_id"].to_numpy(np.int64)
    position = frame["position"].to_numpy(np.int64) - 1
    reward = frame["click"].to_numpy(np.float64)
    pscore = frame["propensity_score"].to_numpy(np.float64)
    for name, arr, ok in (
        ("item_id", action, action >= 0),
        ("position", position + 1, position >= 0),
        ("click", reward, np.isin(reward, (0.0, 1.0))),
        ("propensity_score", pscore, (pscore > 0) & (pscore <= 1)),
    ):
        bad = np.flatnonzero(~ok)
        if len(bad):
            allowed = {"item_id": ">= 0", "position": ">= 1", "click": "0 or 1", "propensity_score": "in (0, 1]"}
            raise ValueError(
                f"{str(p)!r}: column {name} is {arr[bad[0]].item()!r} at row {int(bad[0])}; allowed: {allowed[name]}"
            )
    if n_actions is not None:
        n_act = int(n_actions)
    elif declared is not None:
        n_act = declared
    else:
        n_act = int(action.max()) + 1
        warnings.warn(
            f"{str(p)!r}: no item_context.csv beside it, so n_actions={n_act} is the largest item id + 1; items "
            "that were never logged are missed (pass n_actions to set it)",
            stacklevel=2,
        )
    n_pos = int(position.max()) + 1 if len_list is None else int(len_list)
    if action.max() >= n_act or position.max() >= n_pos:
        raise ValueError(f"{str(p)!r} has item ids or positions beyond n_actions={n_act}, len_list={n_pos}")
    user_cols = [c for c in frame.columns if c.startswith("user_feature_")]
    context = None
    if user_cols:
        context = np.stack([pd.factorize(frame[c])[0] for c in user_cols], axis=1).astype(np.int64)
    timestamp = None
    if "timestamp" in frame.columns:
        when = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce")
        if when.isna().any():
            row = int(np.flatnonzero(when.isna().to_numpy())[0])
            raise ValueError(
                f"{str(p)!r}: column timestamp is {frame['timestamp'].iloc[row]!r} at row {row}, not a time"
            )
        timestamp = ((when - when.min()).dt.total_seconds() / 3600.0).to_numpy(np.float64)
    times = {"timestamp": timestamp, "time_unit": "hour"} if timestamp is not None else {}
    return BanditFeedback(len(frame), n_act, n_pos, action, position, reward, pscore, context, **times)


def _declared_items(folder: Path) -> int | None:
    """The item count of ``folder/item_context.csv`` (ids must be 0..n-1), or None without one."""
    ctx = folder / "item_context.csv"
    if not ctx.is_file():
        return None
    ids = pd.read_csv(ctx, usecols=["item_id"])["item_id"]
    values = pd.to_numeric(ids, errors="coerce")
    if values.isna().any() or sorted(values.astype(int)) != list(range(len(values))):
        raise ValueError(f"{str(ctx)!r}: item_id must list the items 0..n-1 once each")
    return len(values)


def bts_action_dist(alpha: Any, beta: Any, len_list: int = 3, n_sim: int = 100_000, seed: int = 12345) -> np.ndarray:
    """The Bernoulli Thompson Sampling policy's probabilities (n_actions, len_list): draw
    theta_i ~ Beta(alpha_i, beta_i) for every item, rank by theta, and count how often each item
    lands at each of the first ``len_list`` positions over ``n_sim`` draws (chunks of 10,000)."""
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"alpha and beta must be equal-length 1-d arrays, got shapes {a.shape} and {b.shape}")
    if (a <= 0).any() or (b <= 0).any():
        raise ValueError("Beta priors must be positive")
    if not 1 <= len_list <= a.shape[0]:
        raise ValueError(f"len_list={len_list} must be in [1, {a.shape[0]}]")
    rng = np.random.default_rng(seed)
    counts = np.zeros((a.shape[0], len_list))
    done = 0
    while done < n_sim:
        m = min(10_000, n_sim - done)
        theta = rng.beta(a, b, size=(m, a.shape[0]))
        top = np.argsort(-theta, axis=1)[:, :len_list]  # (m, len_list)
        for k in range(len_list):
            counts[:, k] += np.bincount(top[:, k], minlength=a.shape[0])
        done += m
    return counts / n_sim


def read_bts_priors(path: str | Path, campaign: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """The (alpha, beta) Beta priors of the production BTS policy from OBD's ``prior_bts_*.yaml``."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such prior file: {str(p)!r}")
    raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or campaign not in raw or not {"alpha", "beta"} <= set(raw[campaign]):
        raise ValueError(f"{str(p)!r} has no '{campaign}: {{alpha: [...], beta: [...]}}' entry")
    return np.asarray(raw[campaign]["alpha"], dtype=np.float64), np.asarray(raw[campaign]["beta"], dtype=np.float64)
