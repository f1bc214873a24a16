"""Files of results and settings: atomic writes (a file is either the old version or the complete new
one, never half), and config files read as data."""

from __future__ import annotations

import json
import time
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


def finish_run(out: Path, summary: dict[str, Any], start: float, files: str) -> int:
    """A command's last step: ``out``/summary.json with the wall time since ``start``
    (``time.perf_counter``), then the line that names what was written; returns exit status 0."""
    wall = time.perf_counter() - start
    write_summary(out / "summary.json", {**summary, "wall_s": round(wall, 2)})
    print(f"wrote {out}/ summary.json, {files} ({wall:.1f}s)")
    return 0


def read_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping a config file holds: YAML (.yaml, .yml, ``yaml.safe_load``) or JSON (.json); a
    one-line ValueError (FileNotFoundError) for a file that is missing, malformed, empty or not a
    mapping."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such config file: {str(p)!r}")
    text = p.read_text(encoding="utf-8")
    if p.suffix in (".yaml", ".yml"):
        import yaml

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ValueError(f"config {str(p)!r} is not valid YAML: {problem}{at}") from exc
    elif p.suffix == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config {str(p)!r} is not valid JSON: {exc}") from exc
    else:
        raise ValueError(f"config {str(p)!r} must be a .yaml, .yml or .json file")
    if raw is None:
        raise ValueError(f"config {str(p)!r} is empty")
    if not isinstance(raw, dict):
        raise ValueError(f"config {str(p)!r} must hold a mapping of keys to values")
    return raw
