"""Atomic file writes: a file is either the old version or the complete new one, never half.

The one writer every layer uses (results, policies, embedding cache shards). Files get the mode a
plain ``open`` would give (0666 less the umask), not ``mkstemp``'s private 0600, so a shared runs
folder or cache stays readable to the people the umask allows.

A temporary file is named ``.<name>.<host>-<pid>.<random>.tmp``. A writer killed before its rename
(SIGKILL, a power cut) leaves one behind; the next write of the same file removes those of
processes on this host that no longer exist, and never one of a live process or another host.
"""

from __future__ import annotations

import glob
import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
"""The mode of written files: what ``open(path, "w")`` would give under the umask at import."""


_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is not ours, or the check is not allowed: assume alive
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left (this host's processes that
    no longer exist); returns them."""
    mine = re.compile(rf"\.{re.escape(path.name)}\.{re.escape(_HOST)}-(\d+)\.[^/]*\.tmp")
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        m = mine.fullmatch(tmp.name)
        if m and not _alive(int(m.group(1))):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def atomic_write(path: str | Path, write: Callable[[str], None], *, prefix: str | None = None) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, fsync it, give it ``FILE_MODE``,
    then rename it over ``path``. The temporary file is removed if anything fails, and those of
    killed earlier writers of ``path`` are removed first (module docstring).
    ``prefix``: the temporary file's name prefix (default ``.<name>.<host>-<pid>.``; a caller that
    gives its own cleans up after itself, as the embedding cache does)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if prefix is None:
        remove_stale_temporaries(path)
    own = f".{path.name}.{_HOST}-{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix or own, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):  # a full disk: name the file meant
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    return path
