"""Argument checks shared by every layer: one integer check and one number check.

They live in the bottom layer (``encoders``), beside the atomic writer, so that encoders,
simulators, agents, envs and experiments all use the same ones and give the same one-line errors.
A wrong type is a TypeError, a value out of range a ValueError; both name the argument and what is
allowed.
"""

from __future__ import annotations

import math


def _int_text(n: int) -> str:
    """``n`` as written by people: 2**63 - 1 rather than 9223372036854775807."""
    if n >= 2**31 and (n + 1).bit_count() == 1:
        return f"2**{(n + 1).bit_length() - 1} - 1"
    return str(n)


def check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    """``value`` if it is an int in [lo, hi] (not a bool, float or str), else a clear error."""
    allowed = f">= {lo}" if hi is None else f"in [{lo}, {_int_text(hi)}]"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer {allowed}, got {type(value).__name__}: {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name}={value!r} is not allowed; it must be {allowed}")
    return value


def check_number(name: str, value: object, lo: float, hi: float, *, lo_open: bool = False) -> float:
    """``value`` as a float if it is a finite real number in [lo, hi] (or (lo, hi]), else a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}: {value!r}")
    v = float(value)
    bracket = "(" if lo_open else "["
    ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        raise ValueError(f"{name}={value!r} is outside the allowed range {bracket}{lo}, {hi}]")
    return v
