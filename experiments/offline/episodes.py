"""A driftrec log's episodes as the (n, H) arrays of the sequential estimators (``Trajectories``).

A log has one row per shown item; a step of one user is one slate (``slate_id``). Its reward is the
slate's clicks, its action the weights drawn (``alpha``, ``mix``, ``explore``) with their
log-density (``weight_logp``, from ``driftrec log --weight-noise S``), its observation the
``context_*`` columns. An episode is the steps of one (run, user, episode) in step order, from the
episode's start. An episode enters the arrays when it has at least H steps, or ended (churn,
``terminated``) before H; an episode the log cut short (it began too late, or the env's own
horizon truncated it first) cannot say what its remaining steps would have earned, and is left out
(``EpisodeArrays.dropped`` counts them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from driftrec.encoders.checks import check_int
from driftrec.experiments.offline.logfile import CONTEXT_COLUMNS, WEIGHT_COLUMNS, WEIGHT_LOGP_COLUMN
from driftrec.experiments.offline.sequential import Trajectories

EPISODE_KEYS = ("run", "user", "episode")
NEEDED = (
    *EPISODE_KEYS,
    "step",
    "slate_id",
    "reward",
    *WEIGHT_COLUMNS,
    WEIGHT_LOGP_COLUMN,
    *CONTEXT_COLUMNS,
    "terminated",
)


@dataclass(frozen=True)
class EpisodeArrays:
    """trajectories: the usable episodes' first H steps. keys: (n, 3) their (run, user, episode).
    dropped: episodes left out because the log ends before their H-th step."""

    trajectories: Trajectories
    keys: np.ndarray
    dropped: int


def episodes_from_log(frame: pd.DataFrame, horizon: int, source: str = "log") -> EpisodeArrays:
    """The first ``horizon`` steps of every usable episode of a driftrec log (see the module)."""
    check_int("horizon", horizon, 1)
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        hint = (
            " (a log for sequential estimates needs the weights' densities: make it with driftrec log --weight-noise S)"
            if WEIGHT_LOGP_COLUMN in missing
            else ""
        )
        raise ValueError(f"{source} lacks the column(s) {', '.join(missing)}{hint}")
    slates = frame.groupby("slate_id", sort=False)
    first = slates[[*EPISODE_KEYS, "step", *WEIGHT_COLUMNS, WEIGHT_LOGP_COLUMN, *CONTEXT_COLUMNS]].first()
    varying = (slates[[*WEIGHT_COLUMNS, WEIGHT_LOGP_COLUMN]].nunique() > 1).any(axis=1)
    if varying.any():
        raise ValueError(f"{source}: slate {varying.idxmax()} holds different weights or densities on its rows")
    steps = first.assign(reward=slates["reward"].sum(), terminated=slates["terminated"].any()).sort_values(
        [*EPISODE_KEYS, "step"]
    )
    by_episode = steps.groupby(list(EPISODE_KEYS), sort=False)
    pos = by_episode.cumcount().to_numpy()
    gaps = by_episode["step"].diff().fillna(1).to_numpy()
    if (gaps != 1).any():
        at = int(steps["step"].iloc[np.argmax(gaps != 1)])
        raise ValueError(f"{source}: an episode's steps are not consecutive (at step {at})")
    episode = by_episode.ngroup().to_numpy()
    n_all = int(episode.max()) + 1
    length = np.bincount(episode, minlength=n_all)
    ended = np.zeros(n_all, bool)
    term = steps["terminated"].to_numpy(bool)
    ended[episode[term & (pos < horizon)]] = True
    usable = (length >= horizon) | ended
    if not usable.any():
        raise ValueError(
            f"horizon={horizon} is longer than every episode of the {source} (the longest has {int(length.max())} "
            "steps); give a shorter horizon or log more steps"
        )
    keep = usable[episode] & (pos < horizon)
    row = np.cumsum(usable) - 1  # new index of each usable episode
    i, t = row[episode[keep]], pos[keep]
    n = int(usable.sum())
    sel = steps[keep]

    def grid(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full((n, horizon, *values.shape[1:]), fill, dtype=np.float64)
        out[i, t] = values
        return out

    alive = np.zeros((n, horizon), bool)
    alive[i, t] = True
    # after an episode ends its steps stay dead; the arrays need finite values there all the same
    action = grid(sel[list(WEIGHT_COLUMNS)].to_numpy(np.float64), 0.5)
    obs = grid(sel[list(CONTEXT_COLUMNS)].to_numpy(np.float64), 0.0)
    traj = Trajectories(
        reward=grid(sel["reward"].to_numpy(np.float64), 0.0),
        action=action,
        behavior_logp=grid(sel[WEIGHT_LOGP_COLUMN].to_numpy(np.float64), 0.0),
        observation=obs,
        alive=alive,
    )
    keys = steps[list(EPISODE_KEYS)].to_numpy()[np.flatnonzero(pos == 0)][usable]
    return EpisodeArrays(traj, keys, int((~usable).sum()))
