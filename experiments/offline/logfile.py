"""Trajectory log files: their columns, writing (parquet, atomically, with the run's settings in the
metadata), reading (parquet, CSV, TSV), mapping a foreign table's columns, checking, and the
arrays the estimators take (``BanditFeedback``). The logs themselves come from
``trajectories.simulate_log``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftrec.experiments.common.io import atomic_write
from driftrec.experiments.offline.feedback import BanditFeedback
from driftrec.simulators.recommender import FEATURE_NAMES

if TYPE_CHECKING:
    from driftrec.experiments.offline.trajectories import LoggedRun

FORMAT = "driftrec-log/2"
"""Version 2 adds ``terminated``, ``truncated`` and ``next_context_*`` (version 1 logs still load)."""
CONTEXT_COLUMNS = tuple(f"context_{n}" for n in FEATURE_NAMES)
NEXT_CONTEXT_COLUMNS = tuple(f"next_context_{n}" for n in FEATURE_NAMES)
ID_COLUMNS = ("run", "slate_id", "step", "user", "episode")
OBP_COLUMNS = ("action", "position", "reward", "pscore")
WEIGHT_COLUMNS = ("alpha", "mix", "explore")
FLAG_COLUMNS = ("terminated", "truncated")
LOG_COLUMNS = (
    *ID_COLUMNS, "position", "action", "reward", "pscore", *WEIGHT_COLUMNS, *CONTEXT_COLUMNS, *FLAG_COLUMNS,
    *NEXT_CONTEXT_COLUMNS,
)  # fmt: skip
"""Every column of a driftrec log, in file order."""
WEIGHT_LOGP_COLUMN = "weight_logp"
"""Optional last column of a log whose weights were drawn with known densities (``LogConfig.weight_noise``):
the log-density of the slate's (alpha, mix, explore) under the logging policy, the same on the slate's rows."""
INT_COLUMNS = frozenset((*ID_COLUMNS, "position", "action"))


def write_log(path: str | Path, run: LoggedRun) -> Path:
    """Write the log as parquet with ``run.meta`` in the file's metadata, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    if p.suffix.lower() not in (".parquet", ".pq"):
        raise ValueError(f"log file {str(p)!r} must end in .parquet or .pq")
    table = pa.Table.from_pandas(run.frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"driftrec": json.dumps(run.meta)})
    return atomic_write(p, lambda tmp: pq.write_table(table, tmp))


def read_log_file(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """A log file (parquet, or CSV/TSV) as a DataFrame and its driftrec metadata (None when absent)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"no such log file: {str(p)!r}")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(p)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise ValueError(f"{str(p)!r} is not a readable parquet file ({exc})") from None
        raw = (table.schema.metadata or {}).get(b"driftrec")
        return table.to_pandas(), (json.loads(raw) if raw else None)
    if suffix in (".csv", ".tsv"):
        return pd.read_csv(p, sep="\t" if suffix == ".tsv" else ","), None
    raise ValueError(f"cannot read log {str(p)!r}: unknown file type {suffix!r}; use .parquet, .pq, .csv or .tsv")


def apply_mapping(frame: pd.DataFrame, columns: dict[str, str] | None, first_position: int = 0) -> pd.DataFrame:
    """Rename a foreign log's columns to driftrec's (``columns`` maps driftrec name -> file column,
    e.g. {"action": "item_id", "reward": "click"}) and make positions 0-based."""
    if first_position not in (0, 1):
        raise ValueError(f"first_position={first_position!r} must be 0 or 1")
    frame = frame.copy()
    if columns:
        known = set(LOG_COLUMNS)
        for ours, theirs in columns.items():
            if ours not in known:
                raise ValueError(
                    f"column mapping names {ours!r}, which is not a log column; allowed: {', '.join(LOG_COLUMNS)}"
                )
            if theirs not in frame.columns:
                raise ValueError(
                    f"column mapping {ours}={theirs}: the file has no column {theirs!r}; "
                    f"it has {', '.join(map(str, frame.columns))}"
                )
        frame = frame.rename(columns={theirs: ours for ours, theirs in columns.items()})
    if first_position and "position" in frame.columns:
        frame["position"] = pd.to_numeric(frame["position"], errors="coerce") - first_position
    return frame


def check_log(frame: pd.DataFrame, source: str = "log") -> pd.DataFrame:
    """Validate a log's columns and values; returns it with int64/float64 columns. Errors name the
    column and the first bad row: missing column, NaN, wrong type, pscore outside (0, 1],
    negative action or position, reward not finite."""
    missing = [c for c in OBP_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{source} lacks the column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))} "
            "(map a foreign log's columns with --columns, e.g. action=item_id,reward=click)"
        )
    if frame.empty:
        raise ValueError(f"{source} has no rows")
    out = frame.copy()
    for col in [c for c in LOG_COLUMNS if c in frame.columns]:
        raw = frame[col]
        if raw.dtype == object or raw.dtype.kind not in "biuf":
            values = pd.to_numeric(raw, errors="coerce")
            bad = np.flatnonzero(values.isna().to_numpy() & raw.notna().to_numpy())
            if len(bad):
                raise ValueError(
                    f"{source}: column {col} holds {raw.iloc[bad[0]]!r} at row {int(bad[0])}; it must be numeric"
                )
        else:
            values = raw.astype(np.float64) if raw.dtype.kind == "b" else raw
        arr = values.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(arr))
        if len(bad):
            raise ValueError(f"{source}: column {col} is missing, NaN or infinite at row {int(bad[0])}")
        if col in FLAG_COLUMNS:
            bad = np.flatnonzero((arr != 0) & (arr != 1))
            if len(bad):
                raise ValueError(
                    f"{source}: column {col} is {float(arr[bad[0]])!r} at row {int(bad[0])}; it must be 0 or 1"
                )
            out[col] = arr.astype(bool)
        elif col in INT_COLUMNS:
            bad = np.flatnonzero((arr != np.round(arr)) | (arr < 0))
            if len(bad):
                raise ValueError(
                    f"{source}: column {col} is {float(arr[bad[0]])!r} at row {int(bad[0])}; it must be an integer >= 0"
                )
            out[col] = arr.astype(np.int64)
        else:
            out[col] = arr
    bad = np.flatnonzero((out["pscore"] <= 0) | (out["pscore"] > 1))
    if len(bad):
        raise ValueError(
            f"{source}: column pscore is {float(out['pscore'].iloc[bad[0]])!r} at row {int(bad[0])}; "
            "a propensity must be in (0, 1]"
        )
    return out


def feedback_from_frame(
    frame: pd.DataFrame, n_actions: int | None = None, len_list: int | None = None
) -> BanditFeedback:
    """A checked log as obp-style arrays (``context`` from the ``context_*`` columns when present)."""
    action = frame["action"].to_numpy(np.int64)
    position = frame["position"].to_numpy(np.int64)
    n_act = int(action.max()) + 1 if n_actions is None else int(n_actions)
    n_pos = int(position.max()) + 1 if len_list is None else int(len_list)
    for col, arr, hi in (("action", action, n_act), ("position", position, n_pos)):
        bad = np.flatnonzero(arr >= hi)
        if len(bad):
            raise ValueError(f"column {col} is {int(arr[bad[0]])} at row {int(bad[0])}; it must be below {hi}")
    ctx_cols = [c for c in CONTEXT_COLUMNS if c in frame.columns]
    context = frame[ctx_cols].to_numpy(np.float64) if ctx_cols else None
    slate = frame["slate_id"].to_numpy(np.int64) if "slate_id" in frame.columns else None
    user = None
    if "user" in frame.columns:
        keys = frame[["run", "user"]] if "run" in frame.columns else frame[["user"]]
        user = keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy(np.int64)
    return BanditFeedback(
        len(frame),
        n_act,
        n_pos,
        action,
        position,
        frame["reward"].to_numpy(np.float64),
        frame["pscore"].to_numpy(np.float64),
        context,
        slate,
        user,
        frame["step"].to_numpy(np.float64) if "step" in frame.columns else None,
    )


def load_log(
    path: str | Path, columns: dict[str, str] | None = None, first_position: int = 0
) -> tuple[BanditFeedback, dict[str, Any] | None]:
    """Read and check a log: a driftrec parquet log, or any CSV/parquet table whose columns
    ``columns`` maps onto action, position, reward, pscore (and optionally slate_id, context_*).
    Returns the arrays and the driftrec metadata (None for foreign logs)."""
    frame, meta = read_log_file(path)
    frame = check_log(apply_mapping(frame, columns, first_position), str(path))
    n_actions = meta.get("num_items") if meta else None
    len_list = meta.get("slate_size") if meta else None
    return feedback_from_frame(frame, n_actions, len_list), meta
