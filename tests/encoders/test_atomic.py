"""The one atomic writer: whole files only, and the mode the umask allows (not mkstemp's 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from driftrec.encoders.atomic import FILE_MODE, atomic_write


def test_written_files_follow_the_umask_and_failures_leave_nothing(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    assert (0o666 & ~umask) == FILE_MODE
    out = atomic_write(tmp_path / "a.json", lambda tmp: Path(tmp).write_text("{}"))
    assert out.read_text() == "{}" and stat.S_IMODE(out.stat().st_mode) == FILE_MODE

    def fails(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "a.json", fails)
    assert out.read_text() == "{}" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
