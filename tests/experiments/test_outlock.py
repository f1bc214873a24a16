"""One run per --out folder; a folder whose run did not finish says so (issue 18, finding 13)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from driftrec.experiments.cli.args import UserError
from driftrec.experiments.cli.main import main
from driftrec.experiments.sweeps.outlock import INCOMPLETE, LOCK, hold

SMALL = ["--items", "100", "--dim", "16", "--users", "4", "--steps", "3", "--seeds", "1", "--no-progress", "--agents",
         "fixed"]  # fmt: skip


def _lock(out, pid):
    out.mkdir(parents=True, exist_ok=True)
    rec = {"pid": pid, "host": socket.gethostname(), "command": "driftrec compare --out x", "started": "earlier"}
    (out / LOCK).write_text(json.dumps(rec))


def test_a_live_run_holds_its_folder_and_a_dead_ones_lock_is_taken_over(tmp_path, capsys):
    out = tmp_path / "out"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lock(out, live.pid)
        assert main(["simulate", *SMALL, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"is in use by another driftrec run (pid {live.pid}" in err[0]
        assert not (out / "summary.json").exists()
    finally:
        live.kill()
        live.wait()
    # the same lock, now naming a dead process: taken over with a warning, and the run completes
    assert main(["simulate", *SMALL, "--out", str(out)]) == 0
    assert "no longer exists" in capsys.readouterr().err
    assert (out / "summary.json").exists() and not (out / LOCK).exists() and not (out / INCOMPLETE).exists()


def test_a_run_that_dies_leaves_its_folder_marked_incomplete(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("{}")  # an earlier run's file
    with pytest.raises(RuntimeError), hold(out, "driftrec compare"):
        (out / "curves.csv").write_text("half")
        raise RuntimeError("killed")
    assert (out / INCOMPLETE).exists() and not (out / LOCK).exists()
    assert "has not finished" in (out / INCOMPLETE).read_text()
    # a bad flag in a new folder leaves nothing behind
    fresh = tmp_path / "fresh"
    with pytest.raises(UserError), hold(fresh, "driftrec simulate"):
        raise UserError("bad flag")
    assert not fresh.exists()
