"""One run per output folder, and folders that say when they are incomplete.

``hold(out, command)`` takes ``OUT/.driftrec.lock`` (created exclusively, holding the process id,
host and command) and writes ``OUT/INCOMPLETE`` for as long as the run goes on; both are removed
when the command returns, whatever it returned. So:

- a second run on the same ``--out`` while the first is alive stops at once with one line that
  names the first (pid, host, command, start time);
- a folder whose run was killed keeps ``INCOMPLETE`` (its files may mix two runs), and its lock
  names a dead process, which the next run replaces with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from driftrec.experiments.cli.args import UserError
from driftrec.experiments.common import io

LOCK = ".driftrec.lock"
INCOMPLETE = "INCOMPLETE"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _take(lock: Path, record: dict) -> bool:
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh)
    return True


@contextlib.contextmanager
def hold(out: Path, command: str) -> Iterator[None]:
    """Hold ``out`` for this process while the block runs (see the module docstring). If the block
    raises before anything but the lock was written in a folder this run created, the folder is
    removed again (a bad flag leaves no trace)."""
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lock = out / LOCK
    host = socket.gethostname()
    record = {"pid": os.getpid(), "host": host, "command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    while not _take(lock, record):
        try:
            other = json.loads(lock.read_text())
        except (OSError, ValueError):
            other = {}
        if other.get("host") == host and isinstance(other.get("pid"), int) and not _alive(other["pid"]):
            warnings.warn(
                f"{str(out)!r} was held by a run that no longer exists (pid {other['pid']}, {other.get('command')!r}); "
                "taking it over",
                stacklevel=2,
            )
            lock.unlink(missing_ok=True)
            continue
        if not other:  # being written this instant, or damaged: wait a moment once
            time.sleep(0.2)
            if _take(lock, record):
                break
            other = {"pid": "?", "host": "?", "command": "?", "started": "?"}
        raise UserError(
            f"--out {str(out)!r} is in use by another driftrec run (pid {other.get('pid')} on {other.get('host')}, "
            f"{other.get('command')!r}, started {other.get('started')}); wait for it or give another --out "
            f"(if no such run is alive, delete {str(lock)!r})"
        )
    try:
        io.write_text(
            out / INCOMPLETE,
            f"driftrec {command} started writing here at {record['started']} (pid {record['pid']}) and has not "
            "finished: files in this folder may mix runs.\n",
        )
        try:
            yield
        except BaseException:
            if created and {p.name for p in out.iterdir()} <= {LOCK, INCOMPLETE}:
                (out / INCOMPLETE).unlink(missing_ok=True)
                lock.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    out.rmdir()
            raise
        (out / INCOMPLETE).unlink(missing_ok=True)
    finally:
        lock.unlink(missing_ok=True)
