"""Signatures for files driftrec reads back (embedding cache shards, stored sweep units).

A file is trusted only if it carries an HMAC-SHA256 tag under this user's key, a 32-byte secret
kept outside every cache and run folder: ``$DRIFTREC_KEY_FILE``, else
``$XDG_CONFIG_HOME/driftrec/key``, else ``~/.config/driftrec/key``, created (mode 0600) on first
use. So a file that someone else wrote, or that came from a copied or downloaded folder, is never
taken for one this user's driftrec wrote: it is recomputed instead. This does not protect against
someone who can read the key (the same account), and it is not a signature others can check.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

KEY_ENV = "DRIFTREC_KEY_FILE"
"""Environment variable naming the key file."""
KEY_BYTES = 32


def key_path() -> Path:
    """Where this user's key lives (see the module docstring)."""
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base).expanduser() / "driftrec" / "key"


@lru_cache(maxsize=4)
def _key_at(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(KEY_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process made the key first: use theirs
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(
            f"the driftrec key file {str(path)!r} holds {len(key)} bytes, not {KEY_BYTES}; delete it to make a new one "
            "(files signed with the old key will be recomputed)"
        )
    return key


def user_key() -> bytes:
    """This user's key (created on first use)."""
    return _key_at(key_path())


def sign(purpose: str, *parts: bytes) -> str:
    """Hex HMAC-SHA256 tag of ``parts`` for ``purpose`` (e.g. "embedding-cache") under the user's key."""
    mac = hmac.new(user_key(), purpose.encode() + b"\0", hashlib.sha256)
    for part in parts:
        mac.update(len(part).to_bytes(8, "little"))
        mac.update(part)
    return mac.hexdigest()


def verify(tag: str, purpose: str, *parts: bytes) -> bool:
    """Whether ``tag`` is this user's tag of ``parts`` for ``purpose`` (constant-time compare)."""
    return hmac.compare_digest(str(tag), sign(purpose, *parts))
