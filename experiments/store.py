"""A resumable experiment store: one file per finished unit of a sweep, written atomically.

A unit is named by a key (``eval/abrupt/fixed``) and described by a spec (everything its result
depends on). Its result lives in ``ROOT/<key with / as __>.<digest>.pkl``, where the digest hashes
the spec, so a re-run with other settings never reuses a stale result. A run killed at any moment
leaves only complete files (each is written to a temporary file and renamed), so it loses at most
the units in flight; the next run of the same command reuses every finished unit.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from driftrec.experiments import io
from driftrec.experiments.backends import LocalBackend, RayBackend, UnitFn
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.population import Population


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return "sha256:" + hashlib.sha256(obj).hexdigest()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    return str(obj)


def digest(spec: Any) -> str:
    """A stable 16-hex-digit hash of ``spec`` (JSON with sorted keys; bytes by their sha256). Keys
    of a dict spec that start with "_" are left out: they steer a unit (where to write logs) without
    changing its result."""
    if isinstance(spec, dict):
        spec = {k: v for k, v in spec.items() if not str(k).startswith("_")}
    text = json.dumps(spec, sort_keys=True, default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class UnitStore:
    """Finished units under ``root`` (None: keep nothing, reuse nothing)."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None

    def path(self, key: str, spec: Any) -> Path | None:
        if self.root is None:
            return None
        name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", key.replace("/", "__"))
        return self.root / f"{name}.{digest(spec)}.pkl"

    def load(self, key: str, spec: Any) -> tuple[bool, Any]:
        """(True, result) when ``key`` finished with this spec before, else (False, None). A file
        that cannot be read is reported and treated as missing (the unit runs again)."""
        p = self.path(key, spec)
        if p is None or not p.is_file():
            return False, None
        try:
            with open(p, "rb") as fh:
                record = pickle.load(fh)
        except Exception as exc:  # noqa: BLE001 - any damage means "run it again"
            warnings.warn(f"ignoring unreadable unit file {str(p)!r} ({exc}); running the unit again", stacklevel=2)
            return False, None
        if not isinstance(record, dict) or record.get("key") != key or record.get("digest") != digest(spec):
            return False, None
        return True, record["result"]

    def save(self, key: str, spec: Any, result: Any) -> None:
        p = self.path(key, spec)
        if p is None:
            return
        record = {"key": key, "digest": digest(spec), "result": result}
        io.write_bytes(p, pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))


def run_units(
    backend: LocalBackend | RayBackend,
    store: UnitStore,
    fn: UnitFn,
    shared: Any,
    specs: dict[str, Any],
    *,
    say: Callable[[str], None] = lambda _m: None,
    progress: bool = False,
    desc: str = "units",
) -> tuple[dict[str, Any], list[str]]:
    """Results of every unit in ``specs`` (key -> spec): reused from ``store`` where finished, else
    run on ``backend`` and stored as each finishes. Returns (results by key, keys reused)."""
    from tqdm.auto import tqdm

    results: dict[str, Any] = {}
    reused: list[str] = []
    todo: dict[str, Any] = {}
    for key, spec in specs.items():
        found, result = store.load(key, spec)
        if found:
            results[key] = result
            reused.append(key)
        else:
            todo[key] = spec
    if reused:
        say(f"{desc}: reused {len(reused)} of {len(specs)} finished units from {store.root}")
    with tqdm(total=len(todo), desc=desc, unit="unit", disable=not progress or not todo, leave=False) as bar:
        for key, result in backend.map(fn, shared, todo):
            store.save(key, todo[key], result)
            results[key] = result
            bar.set_postfix_str(key, refresh=False)
            bar.update(1)
    return {k: results[k] for k in specs}, reused


def fingerprint(catalog: Catalog, population: Population | None) -> dict[str, str]:
    """Hashes of the catalog and population tensors, the driftrec version and the simulation
    model's version: part of every unit's spec, so a stored unit is reused only for the same data
    and code."""
    from driftrec import MODEL_VERSION, __version__

    def sha(*tensors: torch.Tensor) -> str:
        h = hashlib.sha256()
        for t in tensors:
            h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    out = {"driftrec": __version__, "model_version": str(MODEL_VERSION), "catalog": sha(catalog.embeddings)}
    if population is not None:
        out["population"] = sha(population.anchors, population.counts.float(), population.prior)
    return out
