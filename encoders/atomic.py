"""Atomic file writes: a file is either the old version or the complete new one, never half.

The one writer every layer uses (results, policies, embedding cache shards). Files get the mode a
plain ``open`` would give (0666 less the umask), not ``mkstemp``'s private 0600, so a shared runs
folder or cache stays readable to the people the umask allows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
"""The mode of written files: what ``open(path, "w")`` would give under the umask at import."""


def atomic_write(path: str | Path, write: Callable[[str], None], *, prefix: str | None = None) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, fsync it, give it ``FILE_MODE``,
    then rename it over ``path``. The temporary file is removed if anything fails.
    ``prefix``: the temporary file's name prefix (default ``.<name>.``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
