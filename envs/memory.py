"""How the process's allocator keeps freed memory: a speed setting for large batches (same numbers).

A step allocates its tensors afresh. At N = 8,192 users and d = 384 that is hundreds of MB a step,
and with glibc's defaults much of it goes back to the operating system when freed (tensors above
malloc's mmap threshold, and the heap's top beyond its trim threshold), so the next step faults
those pages in again: up to 230k page faults a step, up to a fifth of its time (docs/benchmarks.md).
``keep_freed_memory`` tells glibc to serve tensors up to 32 MiB from the heap and to keep up to
1 GiB of freed memory in the process. It changes no number, only where memory comes from, and it
is process-wide, so the library never calls it on its own: the ``driftrec`` command line does, for
itself and the processes it starts, and a program of yours may call it once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

MMAP_THRESHOLD = 32 * 2**20
"""Allocations up to this many bytes come from the heap (glibc's largest allowed mmap threshold on
64-bit systems); larger ones are still mapped and returned when freed."""
TRIM_THRESHOLD = 2**30
"""Freed memory at the heap's top is returned to the system only beyond this many bytes."""

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_ENV = {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD, "MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD}
USER_SETTINGS = (*_ENV, "MALLOC_MMAP_MAX_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")
"""Environment variables through which a user tunes glibc malloc; where any is set, it is left alone."""


def keep_freed_memory() -> bool:
    """Set glibc malloc's mmap threshold to ``MMAP_THRESHOLD`` and its trim threshold to
    ``TRIM_THRESHOLD`` in this process (``mallopt``), and in the processes it starts later (the
    ``MALLOC_*_`` environment variables glibc reads at start-up). Returns True where applied; False,
    changing nothing, off Linux, without glibc (musl, for one, has no such settings), or where the
    environment already tunes malloc (``USER_SETTINGS``: the user's choice stands).

    Both are set together: setting either one alone turns off glibc's own adjustment of the mmap
    threshold, and a step then maps and faults in almost every tensor (2-3x slower at large N)."""
    if _applied:
        return True
    if not sys.platform.startswith("linux") or user_settings():
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if not (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return False
    os.environ.update({key: str(value) for key, value in _ENV.items()})
    _applied.append(True)
    return True


_applied: list[bool] = []  # [True] once keep_freed_memory has applied its settings in this process


def user_settings() -> list[str]:
    """The ``USER_SETTINGS`` variables set in the environment other than to ``keep_freed_memory``'s
    values (which a process inherits from the one that started it)."""
    return [k for k in USER_SETTINGS if k in os.environ and os.environ[k] != str(_ENV.get(k))]


@contextlib.contextmanager
def without_kept_settings() -> Iterator[None]:
    """The environment without ``keep_freed_memory``'s variables (at its values, set here or
    inherited) while inside, so that processes started there begin with malloc's defaults; this
    process's own setting is unchanged."""
    saved = {k: os.environ.pop(k) for k, v in _ENV.items() if os.environ.get(k) == str(v)}
    try:
        yield
    finally:
        os.environ.update(saved)
