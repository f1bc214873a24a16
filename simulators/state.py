"""Simulation state: plain tensors with N rows (one per user), kept apart from parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch

T = TypeVar("T")

WEIGHT_NAMES = ("alpha", "mix", "explore")
"""Columns of a weights action: evidence update rate, short/long mix (lambda), exploration share."""


@dataclass
class UserState:
    """Hidden user state (never in an observation).

    facets: (N, K, d) unit interest facets.  facet_weights: (N, K) on the simplex.
    mission_topic: (N, d) unit.  mission_active: (N,) bool.
    fatigue: (N, d) moving average of consumed item vectors (norm <= 1).
    intent: (N, d) unit, the current interest: the facet mixture, pulled toward an active mission.
    """

    facets: torch.Tensor
    facet_weights: torch.Tensor
    mission_topic: torch.Tensor
    mission_active: torch.Tensor
    fatigue: torch.Tensor
    intent: torch.Tensor


@dataclass
class RecState:
    """What the recommender knows and tracks for each user (all observable).

    short, long: (N, d) unit short- and long-term profiles.
    weights: (N, 3) weights used at the last step (alpha, mix, explore).
    change: (N,) cosine between the short profile and the newest evidence (the change signal).
    evidence: (N,) 1.0 if evidence arrived at the last step, else 0.0.
    ctr_fast, ctr_slow: (N,) moving averages of clicks per slot at rates 0.3 and 0.03.
    since_click: (N,) steps since the last click.
    organic: (N,) moving average (rate 0.1) of organic-event indicators.
    """

    short: torch.Tensor
    long: torch.Tensor
    weights: torch.Tensor
    change: torch.Tensor
    evidence: torch.Tensor
    ctr_fast: torch.Tensor
    ctr_slow: torch.Tensor
    since_click: torch.Tensor
    organic: torch.Tensor


@dataclass
class SimState:
    """Everything that evolves. keys/episode index the per-user random streams; t is the step
    within the episode."""

    user: UserState
    rec: RecState
    t: torch.Tensor
    keys: torch.Tensor
    episode: torch.Tensor


def _zip_fields(x: T, y: T, leaf: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> T:
    """A dataclass of ``x``'s type whose tensors are ``leaf(x's, y's)``, nested dataclasses recursively."""
    out = {}
    for f in dataclasses.fields(x):  # type: ignore[arg-type]
        a, b = getattr(x, f.name), getattr(y, f.name)
        out[f.name] = _zip_fields(a, b, leaf) if dataclasses.is_dataclass(a) else leaf(a, b)
    return type(x)(**out)


def scatter_rows(dst: T, rows: torch.Tensor, src: T) -> T:
    """A copy of dataclass ``dst`` whose tensors take ``src``'s values at ``rows``.

    ``src`` holds len(rows) rows; nested dataclasses are handled recursively.
    """

    def put(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a = a.clone()
        a[rows] = b
        return a

    return _zip_fields(dst, src, put)


def where_rows(mask: torch.Tensor, new: T, old: T) -> T:
    """A copy of dataclass ``old`` that takes ``new``'s rows where ``mask`` (N,) bool is set."""
    return _zip_fields(old, new, lambda b, a: torch.where(mask.view(-1, *([1] * (b.dim() - 1))), a, b))


def graph_ready(state: T) -> T:
    """Dataclass ``state`` with its tensors as a compiled step takes its inputs (``ready_tensor``)."""
    return _zip_fields(state, state, lambda a, _: ready_tensor(a))


def ready_tensor(a: torch.Tensor) -> torch.Tensor:
    """``a`` as a compiled step takes an input: row-major strides, size-1 dimensions included, and an
    inference tensor, since dynamo guards on both and a mismatch compiles the step again; ``a``
    itself where it is so, else a copy. Call it under ``torch.inference_mode`` (a copy made there is
    an inference tensor)."""
    stride, strides = 1, []
    for size in reversed(a.shape):
        strides.append(stride)
        stride *= size
    if a.is_inference() and a.stride() == tuple(reversed(strides)):
        return a
    return a.clone(memory_format=torch.contiguous_format)


def take_rows(state: T, rows: torch.Tensor | slice) -> T:
    """A copy of dataclass ``state`` with only the users ``rows`` (long indices; a slice gives views)."""
    out = {}
    for f in dataclasses.fields(state):  # type: ignore[arg-type]
        v = getattr(state, f.name)
        out[f.name] = take_rows(v, rows) if dataclasses.is_dataclass(v) else v[rows]
    return type(state)(**out)
