"""A driftrec trajectory log as a Minari dataset, for offline RL.

    export_minari("runs/log.parquet", "driftrec/abrupt/fixed-v0")   # or: driftrec log ... --minari ID

One Minari episode per (run, user, episode) of the log, in that order, with the steps in order:

    observations  (T + 1, 11) float32: ``context_*`` of each step, then ``next_context_*`` of the last
    actions       (T, 3) float32: the weights as the single-user env takes them, ``2 w - 1`` in [-1, 1]
    rewards       (T,) float64: clicks in the step's slate (the sum over its positions)
    terminations  (T,) bool: ``terminated`` (the user churned), D4RL's ``terminals``
    truncations   (T,) bool: ``truncated`` (the horizon), D4RL's ``timeouts``; the last step of an
                  episode the log's end cut short is marked truncated too, as a time limit

The dataset has no environment to recover (the log's catalog may be one the env cannot rebuild by
name): its spaces are the single-user env's, and its description holds the log's settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from gymnasium import spaces

from driftrec.experiments.offline.logfile import (
    CONTEXT_COLUMNS,
    FLAG_COLUMNS,
    NEXT_CONTEXT_COLUMNS,
    WEIGHT_COLUMNS,
    check_log,
    read_log_file,
)
from driftrec.simulators.recommender import FEATURE_HIGH, FEATURE_LOW, NUM_FEATURES

NEEDED = ("run", "user", "episode", "step", "position", "reward", *WEIGHT_COLUMNS, *CONTEXT_COLUMNS,
          *FLAG_COLUMNS, *NEXT_CONTEXT_COLUMNS)  # fmt: skip


def log_episodes(frame: pd.DataFrame) -> list[dict[str, np.ndarray]]:
    """The episodes of a checked driftrec log, as dicts of Minari's arrays (module docstring)."""
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the log lacks {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}: a Minari export needs a "
            "log from driftrec 0.1 with format driftrec-log/2 (rerun `driftrec log`)"
        )
    keys = ["run", "user", "episode", "step"]
    clicks = frame.groupby(keys, sort=True)["reward"].sum()
    steps = frame[frame.position == 0].sort_values(keys)
    if len(steps) != len(clicks):
        raise ValueError("the log has a slate without a row at position 0")
    steps = steps.assign(reward=clicks.to_numpy())
    episodes = []
    for _, ep in steps.groupby(["run", "user", "episode"], sort=False):
        if not np.array_equal(ep.step.to_numpy(), np.arange(ep.step.iloc[0], ep.step.iloc[0] + len(ep))):
            raise ValueError("the log skips a step inside an episode")
        obs = ep[list(CONTEXT_COLUMNS)].to_numpy(np.float32)
        last = ep[list(NEXT_CONTEXT_COLUMNS)].to_numpy(np.float32)[-1:]
        terminated = ep.terminated.to_numpy(bool)
        truncated = ep.truncated.to_numpy(bool).copy()
        if terminated[:-1].any() or truncated[:-1].any():
            raise ValueError("the log continues an episode after it ended")
        truncated[-1] |= not terminated[-1]  # cut short by the log's end: a time limit
        episodes.append({
            "observations": np.concatenate([obs, last]),
            "actions": (2.0 * ep[list(WEIGHT_COLUMNS)].to_numpy(np.float32) - 1.0).astype(np.float32),
            "rewards": ep.reward.to_numpy(np.float64),
            "terminations": terminated,
            "truncations": truncated,
        })  # fmt: skip
    return episodes


def export_minari(log: str | Path, dataset_id: str, *, author: str = "driftrec", data_format: str = "arrow") -> Any:
    """Write the log at ``log`` as the Minari dataset ``dataset_id`` (under Minari's datasets
    folder, ``MINARI_DATASETS_PATH``) and return it. Needs ``minari[create]``."""
    try:
        import minari
        from minari.data_collector import EpisodeBuffer
    except ImportError as exc:
        raise ImportError('a Minari export needs minari with its creation extra: pip install "minari[create]"') from exc
    frame, meta = read_log_file(log)
    episodes = log_episodes(check_log(frame, str(log)))
    buffers = [EpisodeBuffer(id=i, **ep) for i, ep in enumerate(episodes)]
    settings = json.dumps((meta or {}).get("config", {}), sort_keys=True)
    return minari.create_dataset_from_buffers(
        dataset_id,
        buffers,
        observation_space=spaces.Box(FEATURE_LOW.numpy(), FEATURE_HIGH.numpy(), (NUM_FEATURES,), np.float32),
        action_space=spaces.Box(-1.0, 1.0, (3,), np.float32),
        algorithm_name=(meta or {}).get("config", {}).get("agent", "unknown"),
        author=author,
        description=f"driftrec log {Path(log).name}, scenario {(meta or {}).get('scenario')}; settings: {settings}",
        data_format=data_format,
    )
