"""Deprecated aliases: old names that keep working after a rename, with a warning naming the new one.

A module that renamed something sets ``__getattr__ = moved_names(__name__, {"old": ("new", get)})``:
reading ``module.old`` then warns once per call site (DeprecationWarning) and returns ``get()``.
It lives in the bottom layer so that every layer can use it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


def moved_names(module: str, moved: dict[str, tuple[str, Callable[[], Any]]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that resolves the old names in ``moved`` (old -> (where it went,
    a function returning the object)) with a DeprecationWarning, and refuses any other name."""

    def __getattr__(name: str) -> Any:
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new, get = moved[name]
        warnings.warn(f"{module}.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
        return get()

    return __getattr__
