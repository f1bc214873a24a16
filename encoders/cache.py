"""A disk cache of text embeddings keyed by (model id, text hash).

Layout: ``<root>/<model slug>/shard-<id>.npz``. Each shard holds the hex SHA-256 prefixes of its
texts, their vectors and an HMAC tag over the model id and both under this user's key
(``encoders.signing``), and is written atomically (temporary file, then ``os.replace``), so a killed
run leaves only complete shards (plus a stray temporary file, removed once it is an hour old). A
shard that cannot be read or whose tag does not match (damaged, written by an older driftrec or
planted) is reported and its texts re-encoded: a corrupt or foreign cache costs time, never a wrong
vector or a crash. Such a shard is deleted when it belongs to this user and left alone otherwise
(another user's cache files are not ours to delete).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from driftrec.encoders.atomic import atomic_write
from driftrec.encoders.signing import sign, verify

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


PURPOSE = "embedding-cache"
STALE_TMP_S = 3600.0
"""A temporary file older than this (seconds) was left by a killed writer and is removed."""


def _parts(model_id: str, keys: np.ndarray, vecs: np.ndarray) -> tuple[bytes, bytes, bytes]:
    return model_id.encode(), keys.tobytes(), np.ascontiguousarray(vecs, dtype=np.float32).tobytes()


def _owned_by_me(path: Path) -> bool:
    try:
        return not hasattr(os, "getuid") or path.stat().st_uid == os.getuid()
    except FileNotFoundError:
        return False


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
            now = time.time()
            for tmp in self.dir.glob(".tmp-*"):
                with contextlib.suppress(FileNotFoundError):  # a writer may still be filling a recent one
                    if now - tmp.stat().st_mtime > STALE_TMP_S:
                        tmp.unlink(missing_ok=True)
            for shard in sorted(self.dir.glob("shard-*.npz")):
                try:
                    with np.load(shard, allow_pickle=False) as z:
                        keys, vecs = z["keys"], z["vecs"]
                        tag = str(z["sig"]) if "sig" in z.files else ""
                    if vecs.ndim != 2 or len(keys) != len(vecs) or vecs.dtype != np.float32:
                        raise ValueError("malformed arrays")
                    if not verify(tag, PURPOSE, *_parts(self.model_id, keys, vecs)):
                        raise ValueError("not signed with this user's driftrec key")
                except Exception as exc:  # any unreadable or untrusted shard is treated the same way
                    mine = _owned_by_me(shard)
                    warnings.warn(
                        f"embedding cache file {shard} is not usable ({type(exc).__name__}: {exc}); "
                        f"{'deleting it' if mine else 'ignoring it (it belongs to another user)'}, "
                        "its texts will be re-encoded",
                        stacklevel=3,
                    )
                    if mine:
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
        tag = sign(PURPOSE, *_parts(self.model_id, k, v))

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, keys=k, vecs=v, sig=np.asarray(tag))

        atomic_write(self.dir / f"shard-{tag[:16]}.npz", write, prefix=".tmp-")
        if self._table is not None:
            self._table.update(zip(k.astype(str).tolist(), v, strict=True))

    def clear(self) -> None:
        """Delete this model's cached vectors."""
        if self.dir.is_dir():
            for f in self.dir.iterdir():
                f.unlink()
        self._table = None
