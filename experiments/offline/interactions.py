"""User interaction logs from a file, and padded timelines: the real histories that ``replay`` and
``calibrate`` read.

A log is a CSV/TSV/parquet table with one row per event. A mapping names its columns:
``user``, ``item`` (catalog ids) and ``timestamp`` (numbers, e.g. Unix seconds), and optionally
``rating`` (a number; with ``min_rating``, the events at or above it count as liked). Every
user's events must be in time order in the file, and every item must be in the catalog. Each
problem is a one-line error that names the row and the value. MovieLens, read by
``simulators.data.load_movielens``, has the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from driftrec.simulators.catalog import Catalog
from driftrec.simulators.data import read_table

FIELDS = ("user", "item", "timestamp", "rating")
"""The log's fields; ``rating`` is optional."""


def parse_columns(spec: str | dict[str, str] | None) -> dict[str, str]:
    """A column mapping from ``"user=uid,item=movie,timestamp=ts[,rating=stars]"`` (or a dict):
    field -> the log's column name; unnamed fields keep their own name."""
    if spec is None:
        return {}
    pairs = spec.items() if isinstance(spec, dict) else (p.partition("=")[::2] for p in spec.split(",") if p.strip())
    out: dict[str, str] = {}
    for key, col in pairs:
        key, col = str(key).strip(), str(col).strip()
        if key not in FIELDS or not col:
            raise ValueError(f"column mapping {key}={col!r} is not FIELD=COLUMN with FIELD one of {', '.join(FIELDS)}")
        out[key] = col
    return out


def read_interactions(
    path: str | Path,
    catalog: Catalog,
    columns: dict[str, str] | None = None,
    min_rating: float | None = None,
) -> pd.DataFrame:
    """The log at ``path`` as columns user, item (str catalog id), timestamp (int64, or float64
    when the file's are not whole numbers) and rating (float64, when mapped), rows in time order
    (ties keep the file's order); with ``min_rating`` only the events rated at or above it.
    Raises ValueError (one line) for a missing column, non-numeric or unsorted timestamps, a
    non-numeric rating and items the catalog does not hold."""
    name = str(path)
    cols = {f: f for f in FIELDS if f != "rating"} | parse_columns(columns)
    table = read_table(path)
    for field, col in cols.items():
        if col not in table.columns:
            raise ValueError(
                f"the timelines file {name!r} has no column {col!r} (the {field} column); its columns are "
                f"{list(map(str, table.columns))}; map columns with --columns FIELD=COLUMN"
            )
    if table.empty:
        raise ValueError(f"the timelines file {name!r} has no events")
    for field in ("user", "item"):
        missing = table[cols[field]].isna()
        if bool(missing.any()):
            raise ValueError(f"the timelines file {name!r} has no {field} at row {int(missing.to_numpy().argmax())}")
    out = pd.DataFrame({"user": _ids(table[cols["user"]]), "item": _ids(table[cols["item"]])})
    out["timestamp"] = _numbers(table[cols["timestamp"]], "timestamp", name)
    if "rating" in cols:
        out["rating"] = _numbers(table[cols["rating"]], "rating", name)
    elif min_rating is not None:
        raise ValueError(f"min_rating={min_rating:g} needs a rating column; map one with --columns rating=COLUMN")
    back = out.groupby("user", sort=False)["timestamp"].diff() < 0
    if bool(back.any()):
        row = int(back.to_numpy().argmax())
        prev = out["timestamp"].iloc[:row][out["user"].iloc[:row] == out["user"].iloc[row]].iloc[-1]
        raise ValueError(
            f"the timelines file {name!r} is not in time order: user {out['user'].iloc[row]!r} at row {row} has "
            f"timestamp {float(out['timestamp'].iloc[row]):g} after {float(prev):g}; sort each user's events by time"
        )
    known = out["item"].isin(catalog.ids)
    if not bool(known.all()):
        row = int((~known).to_numpy().argmax())
        raise ValueError(
            f"the timelines file {name!r} has {int((~known).sum())} events whose items are not in the catalog "
            f"(first: {out['item'].iloc[row]!r} at row {row}); every item must be a catalog id"
        )
    if min_rating is not None:
        out = out[out["rating"] >= min_rating]
    users = pd.to_numeric(out["user"], errors="coerce")
    if bool(users.notna().all()):  # whole-number user ids sort as numbers
        out["user"] = users.astype(np.int64)
    out = out.sort_values("timestamp", kind="stable").reset_index(drop=True)
    if pd.api.types.is_float_dtype(out["timestamp"]) and bool((out["timestamp"] % 1 == 0).all()):
        out["timestamp"] = out["timestamp"].astype(np.int64)
    return out


def _ids(col: pd.Series) -> pd.Series:
    """Ids as text, whole numbers without a decimal point (so 318 and 318.0 are the item "318")."""
    values = pd.to_numeric(col, errors="coerce")
    if bool(values.notna().all()) and bool((values % 1 == 0).all()):
        return values.astype(np.int64).astype(str)
    return col.astype(str)


def _numbers(col: pd.Series, field: str, name: str) -> pd.Series:
    values = pd.to_numeric(col, errors="coerce").astype("float64")
    bad = ~np.isfinite(values.to_numpy())
    if bool(bad.any()):
        row = int(bad.argmax())
        raise ValueError(
            f"the timelines file {name!r} has a non-numeric {field} {col.iloc[row]!r} at row {row}; "
            f"{field}s must be numbers"
        )
    return values


def check_enough(likes: pd.DataFrame, warmup: int, name: str) -> None:
    """A one-line error unless some user has more than ``warmup`` events (``warmup`` build the
    prior and at least one is scored)."""
    longest = int(likes.groupby("user").size().max()) if len(likes) else 0
    if longest <= warmup:
        raise ValueError(
            f"no user of {name!r} has more than warmup={warmup} events (the longest has {longest}); "
            "give a longer log or a smaller --warmup"
        )


@dataclass
class Timelines:
    """Padded timelines of U users: item (U, L) catalog rows (-1 past the end), time (U, L)
    seconds, length (U,), user (U,) ids."""

    item: torch.Tensor
    time: torch.Tensor
    length: torch.Tensor
    user: np.ndarray


def padded_timelines(
    catalog: Catalog, min_rating: float, warmup: int, max_users: int | None, likes: pd.DataFrame | None = None
) -> Timelines:
    """Liked items per user in time order, as catalog rows; users with fewer than ``warmup`` + 1
    liked catalog items are dropped. ``likes``: the liked events (MovieLens ratings >=
    ``min_rating`` by default, ``liked_ratings``; or a log's, ``liked_events``)."""
    df = liked_ratings(min_rating) if likes is None else likes
    row = catalog_rows(catalog)
    df = df.assign(row=df["item"].map(row)).dropna(subset=["row"])
    if df.empty:
        raise ValueError("no liked item is in the catalog; replay needs a catalog with the timelines' item ids")
    groups = [(u, g) for u, g in df.groupby("user", sort=True) if len(g) > warmup]
    if max_users is not None:
        groups = groups[:max_users]
    if not groups:
        raise ValueError(f"no user has more than warmup={warmup} liked items")
    longest = max(len(g) for _, g in groups)
    item = torch.full((len(groups), longest), -1, dtype=torch.int64)
    when = torch.zeros((len(groups), longest), dtype=torch.int64)
    for i, (_, g) in enumerate(groups):
        item[i, : len(g)] = torch.tensor(g["row"].to_numpy(np.int64))
        when[i, : len(g)] = torch.tensor(g["timestamp"].to_numpy(np.int64))
    length = torch.tensor([len(g) for _, g in groups], dtype=torch.int64)
    return Timelines(item, when, length, np.array([u for u, _ in groups]))


def liked_ratings(min_rating: float) -> pd.DataFrame:
    """MovieLens ratings >= ``min_rating``, in time order (``load_movielens``)."""
    from driftrec.simulators.data import load_movielens

    df = load_movielens()
    return df[df.rating >= min_rating]


def catalog_rows(catalog: Catalog) -> dict[str, int]:
    """Catalog id -> row."""
    return {item_id: i for i, item_id in enumerate(catalog.ids)}
