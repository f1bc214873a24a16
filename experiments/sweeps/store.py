"""A resumable experiment store: one file per finished unit of a sweep, written atomically.

A unit is named by a key (``eval/abrupt/fixed``) and described by a spec (everything its result
depends on). Its result lives in ``ROOT/<key with / as __>.<digest>.json``, where the digest hashes
the spec, so a re-run with other settings never reuses a stale result. A run killed at any moment
leaves only complete files (each is written to a temporary file and renamed), so it loses at most
the units in flight; the next run of the same command reuses every finished unit.

Unit files are data, never code: JSON with tagged values for what JSON lacks (tensors and arrays
as dtype, shape and base64 bytes; bytes; tuples; dicts with non-string keys; the result dataclasses
registered with ``register_result``), decoded without executing anything. Each carries an HMAC tag
under this user's key (``driftrec.encoders.signing``): a unit file that this user's driftrec did
not write (dropped into a shared runs folder, copied from elsewhere, edited) is ignored with a
warning and the unit runs again.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from driftrec.encoders.signing import sign, verify
from driftrec.experiments.common import io
from driftrec.experiments.sweeps.backends import LocalBackend, RayBackend, UnitFn
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.population import Population

FORMAT = "driftrec-unit/1"
PURPOSE = "unit-store"
_RESULT_TYPES: dict[str, type] = {}


def register_result(cls: type) -> type:
    """Allow the dataclass ``cls`` in stored unit results (a class decorator)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    _RESULT_TYPES[cls.__name__] = cls
    return cls


def encode(obj: Any) -> Any:
    """``obj`` as JSON-ready data (see the module docstring); raises TypeError for anything else."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        items = [encode(v) for v in obj]
        return items if isinstance(obj, list) else {"__tuple__": items}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode(v) for k, v in obj.items()}
        return {"__dict__": [[encode(k), encode(v)] for k, v in obj.items()]}
    if isinstance(obj, bytes):
        return {"__bytes__": base64.b64encode(obj).decode()}
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        kind = "__tensor__" if isinstance(obj, torch.Tensor) else "__ndarray__"
        arr = obj.detach().cpu().numpy() if isinstance(obj, torch.Tensor) else obj
        arr = np.ascontiguousarray(arr)
        return {kind: {"dtype": arr.dtype.str, "shape": list(arr.shape), "data": base64.b64encode(arr).decode()}}
    if dataclasses.is_dataclass(obj) and type(obj).__name__ in _RESULT_TYPES:
        fields = {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {"__dataclass__": type(obj).__name__, "fields": fields}
    raise TypeError(f"a unit result cannot hold a {type(obj).__name__} (store data: numbers, text, tensors, bytes)")


def decode(obj: Any) -> Any:
    """The inverse of ``encode``; builds only numbers, text, containers, arrays and registered
    dataclasses. Raises ValueError on anything else."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        raise ValueError(f"unexpected {type(obj).__name__} in a unit file")
    if "__tuple__" in obj:
        return tuple(decode(v) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {decode(k): decode(v) for k, v in obj["__dict__"]}
    if "__bytes__" in obj:
        return base64.b64decode(obj["__bytes__"], validate=True)
    for kind in ("__tensor__", "__ndarray__"):
        if kind in obj:
            spec = obj[kind]
            dtype = np.dtype(spec["dtype"])
            if dtype.hasobject:
                raise ValueError("object arrays are not allowed in a unit file")
            arr = np.frombuffer(base64.b64decode(spec["data"], validate=True), dtype=dtype)
            arr = arr.reshape([int(n) for n in spec["shape"]]).copy()
            return torch.from_numpy(arr) if kind == "__tensor__" else arr
    if "__dataclass__" in obj:
        cls = _RESULT_TYPES.get(obj["__dataclass__"])
        if cls is None:
            raise ValueError(f"unknown result type {obj['__dataclass__']!r} in a unit file")
        return cls(**{k: decode(v) for k, v in obj["fields"].items()})
    return {k: decode(v) for k, v in obj.items()}


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
    if hasattr(spec, "to_spec"):  # a typed unit (``online.compare.units``)
        spec = spec.to_spec()
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
        return self.root / f"{name}.{digest(spec)}.json"

    def load(self, key: str, spec: Any) -> tuple[bool, Any]:
        """(True, result) when ``key`` finished with this spec before, else (False, None). A file
        that cannot be read, or that this user's driftrec did not write, is reported and treated as
        missing (the unit runs again). Nothing in it is executed."""
        p = self.path(key, spec)
        if p is None or not p.is_file():
            return False, None
        try:
            outer = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(outer, dict) or outer.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} file")
            text = outer["record"]
            if not isinstance(text, str) or not verify(outer.get("sig", ""), PURPOSE, text.encode()):
                raise ValueError("not signed with this user's driftrec key")
            record = json.loads(text)
            if record.get("key") != key or record.get("digest") != digest(spec):
                raise ValueError("it belongs to another unit")
            return True, decode(record["result"])
        except Exception as exc:  # noqa: BLE001 - any damage or doubt means "run it again"
            warnings.warn(f"ignoring unit file {str(p)!r} ({exc}); running the unit again", stacklevel=2)
            return False, None

    def save(self, key: str, spec: Any, result: Any) -> None:
        p = self.path(key, spec)
        if p is None:
            return
        text = json.dumps({"key": key, "digest": digest(spec), "result": encode(result)}, allow_nan=True)
        io.write_json(p, {"format": FORMAT, "sig": sign(PURPOSE, text.encode()), "record": text})


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


SUBPACKAGES = ("encoders", "simulators", "envs", "agents", "experiments")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A hash of driftrec's own source (every .py file of its subpackages and ``__init__.py``), so
    that editing the code, a preset default for instance, recomputes stored units."""
    root = Path(__file__).resolve().parents[2]  # the package root (this file is experiments/sweeps/store.py)
    h = hashlib.sha256()
    files = [root / "__init__.py", *(f for sub in SUBPACKAGES for f in sorted((root / sub).rglob("*.py")))]
    for f in files:
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def fingerprint(catalog: Catalog, population: Population | None) -> dict[str, str]:
    """Hashes of the catalog and population tensors, the driftrec version, the simulation model's
    version and driftrec's source (``code_digest``): part of every unit's spec, so a stored unit is
    reused only for the same data and code."""
    from driftrec import MODEL_VERSION, __version__

    def sha(*tensors: torch.Tensor) -> str:
        h = hashlib.sha256()
        for t in tensors:
            h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    out = {
        "driftrec": __version__,
        "model_version": str(MODEL_VERSION),
        "code": code_digest(),
        "catalog": catalog.digest,
    }
    if catalog.popularity is not None:
        out["popularity"] = sha(catalog.popularity)
    if population is not None:
        out["population"] = sha(population.anchors, population.counts.float(), population.prior)
    return out
