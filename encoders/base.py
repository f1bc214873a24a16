"""The text-encoder interface: texts in, unit vectors out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class TextEncoder(Protocol):
    """Anything that turns texts into L2-normalised vectors.

    ``encode(texts)`` returns a float32 tensor of shape (len(texts), dim) with unit rows.
    ``name`` identifies the model (it keys embedding caches and is recorded in catalog metadata).
    """

    name: str
    dim: int

    def encode(self, texts: list[str]) -> torch.Tensor: ...


def check_texts(texts: object) -> list[str]:
    """Validate an encoder's input: a non-empty list of strings."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, got a single str; wrap it in a list")
    try:
        items = list(texts)  # type: ignore[call-overload]
    except TypeError as exc:
        raise TypeError(f"texts must be a list of strings, got {type(texts).__name__}") from exc
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(t).__name__}: {t!r}")
    return items
