"""A disk cache of text embeddings keyed by (model id, text hash).

Layout: ``<root>/<model slug>/shard-<id>.npz``. Each shard holds the hex SHA-256 prefixes of its
texts, their vectors and a checksum over both, and is written atomically (temporary file, then
``os.replace``), so a killed run leaves only complete shards (plus a stray temporary file that is
ignored and removed). A shard that cannot be read or whose checksum does not match is reported,
deleted and its texts re-encoded: a corrupt cache costs time, never a wrong vector or a crash.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

CACHE_ENV = "DRIFTREC_CACHE_DIR"
"""Environment variable that overrides the cache root."""


def default_cache_dir() -> Path:
    """``$DRIFTREC_CACHE_DIR``, else ``$XDG_CACHE_HOME/driftrec``, else ``~/.cache/driftrec``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "driftrec"


def text_key(text: str) -> str:
    """The cache key of one text: the first 32 hex digits (128 bits) of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _checksum(keys: np.ndarray, vecs: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(keys.tobytes())
    h.update(np.ascontiguousarray(vecs).tobytes())
    return h.hexdigest()


def _slug(model_id: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("_")[-60:]
    return f"{readable}-{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"


class EmbeddingCache:
    """Cached vectors of one model.

    Args:
        model_id: what the vectors come from (model name plus anything that changes them).
        root: cache root (default ``default_cache_dir()``).
    """

    def __init__(self, model_id: str, root: str | Path | None = None) -> None:
        self.model_id = model_id
        self.dir = (Path(root).expanduser() if root is not None else default_cache_dir()) / _slug(model_id)
        self._table: dict[str, np.ndarray] | None = None

    def _load(self) -> dict[str, np.ndarray]:
        if self._table is not None:
            return self._table
        table: dict[str, np.ndarray] = {}
        if self.dir.is_dir():
            for tmp in self.dir.glob(".tmp-*"):
                tmp.unlink(missing_ok=True)  # left by a killed writer
            for shard in sorted(self.dir.glob("shard-*.npz")):
                try:
                    with np.load(shard, allow_pickle=False) as z:
                        keys, vecs, check = z["keys"], z["vecs"], str(z["check"])
                    if vecs.ndim != 2 or len(keys) != len(vecs) or _checksum(keys, vecs) != check:
                        raise ValueError("checksum mismatch")
                except Exception as exc:  # any unreadable shard is treated the same way
                    warnings.warn(
                        f"embedding cache file {shard} is corrupt ({type(exc).__name__}: {exc}); "
                        "deleting it, its texts will be re-encoded",
                        stacklevel=3,
                    )
                    shard.unlink(missing_ok=True)
                    continue
                table.update(zip(keys.astype(str).tolist(), vecs, strict=True))
        self._table = table
        return table

    def get(self, keys: list[str]) -> tuple[list[int], torch.Tensor | None]:
        """Look up ``keys``: (positions of the misses, (len(keys), d) float32 tensor or None if
        nothing was found; rows of misses are zero)."""
        table = self._load()
        missing = [i for i, k in enumerate(keys) if k not in table]
        if len(missing) == len(keys):
            return missing, None
        first = next(table[k] for k in keys if k in table)
        out = np.zeros((len(keys), first.shape[0]), dtype=np.float32)
        for i, k in enumerate(keys):
            v = table.get(k)
            if v is not None:
                out[i] = v
        return missing, torch.from_numpy(out)

    def put(self, keys: list[str], vecs: torch.Tensor) -> None:
        """Store ``vecs`` (n, d) for ``keys`` as one new shard, atomically."""
        if not keys:
            return
        k = np.asarray(keys, dtype="S32")
        v = vecs.detach().to("cpu", torch.float32).numpy()
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, keys=k, vecs=v, check=np.asarray(_checksum(k, v)))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache may be shared
            os.replace(tmp, self.dir / f"shard-{_checksum(k, v)[:16]}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self._table is not None:
            self._table.update(zip(k.astype(str).tolist(), v, strict=True))

    def clear(self) -> None:
        """Delete this model's cached vectors."""
        if self.dir.is_dir():
            for f in self.dir.iterdir():
                f.unlink()
        self._table = None
