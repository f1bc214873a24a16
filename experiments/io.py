"""Atomic file writes: a file is either the old version or the complete new one, never half."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftrec.encoders.atomic import atomic_write

__all__ = ["atomic_write", "write_bytes", "write_json", "write_text"]


def write_text(path: str | Path, text: str) -> Path:
    def w(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, w)


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_csv(path: str | Path, frame: Any) -> Path:
    """Write a pandas DataFrame as CSV, atomically."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_summary(path: str | Path, obj: dict[str, Any]) -> Path:
    """Write a run's summary.json with the simulation model's version first, so numbers from
    different model versions are never mixed up (``driftrec.simulators.MODEL_VERSION``)."""
    from driftrec.simulators.params import MODEL_VERSION

    return write_json(path, {"model_version": MODEL_VERSION, **{k: v for k, v in obj.items() if k != "model_version"}})
