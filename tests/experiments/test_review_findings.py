"""The trust review's findings (issue 18), one row each in docs/reliability.md, and the rows whose
tests live here: a local Ray on loopback, code edits that recompute units, a full disk and a
read-only --out."""

from __future__ import annotations

import ast
import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from driftrec.experiments.cli.main import main
from driftrec.experiments.sweeps.store import SUBPACKAGES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
ROW = re.compile(r"^\| (\d+) \|(.*)\|$")
NODE = re.compile(r"`(tests/[^`:]+\.py)::(\w+)(?:\[([^\]]+)\])?`")


def _rows() -> dict[int, list[tuple[str, str, str]]]:
    section = DOC.read_text(encoding="utf-8").split("## The trust review's findings", 1)[1].split("\n## ", 1)[0]
    rows: dict[int, list[tuple[str, str, str]]] = {}
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            rows[int(m.group(1))] = NODE.findall(line.rsplit("|", 2)[-2])
    return rows


def test_every_finding_has_a_row_whose_tests_exist():
    rows = _rows()
    assert sorted(rows) == list(range(1, 17)), f"docs/reliability.md lists findings {sorted(rows)}, not 1-16"
    for number, nodes in rows.items():
        assert nodes, f"finding {number} names no test"
        for path, func, param in nodes:
            source = (ROOT / path).read_text(encoding="utf-8")
            names = {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
            assert func in names, f"finding {number}: {path} has no test {func}"
            if param:  # a row of a parametrised table, by its id
                assert f'("{param}"' in source, f"finding {number}: {path} has no row {param!r}"


# ------------------------------------------------------------------------------------ finding 4
def _listening() -> set[tuple[str, int]]:
    """(address, inode) of every listening TCP socket on this machine (from /proc/net)."""
    found = set()
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A":  # LISTEN
                found.add((parts[1].rsplit(":", 1)[0], int(parts[9])))
    return found


# 127.0.0.1, ::1 and ::ffff:127.0.0.1 (IPv4 loopback on a dual-stack socket), as /proc/net spells them
LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from /proc/net (Linux)")
def test_a_local_ray_listens_on_loopback_only():
    pytest.importorskip("ray", reason="the 'ray' extra is not installed (pip install -e '.[test]' installs it)")
    import ray

    from driftrec.experiments.sweeps.backends import RayBackend

    if ray.is_initialized():
        ray.shutdown()
    before = _listening()
    try:
        backend = RayBackend(None, threads=1, num_cpus=1)
        assert list(backend.map(lambda _shared, spec: spec * 2, None, {"a": 1})) == [("a", 2)]
        opened = _listening() - before
    finally:
        ray.shutdown()
    assert opened, "a local Ray opened no listening socket: the check saw nothing"
    exposed = sorted(addr for addr, _ in opened if addr not in LOOPBACK)
    assert not exposed, f"a local Ray listens beyond loopback on {exposed}"


# ------------------------------------------------------------------------------------ finding 5
EDIT_SCRIPT = """
import sys
from driftrec.experiments.online.compare import CompareConfig, TuningConfig, compare
cfg = CompareConfig(["abrupt"], ["fixed"], seeds=[101, 102], users=4, steps=6, items=60, dim=16,
                    tuning=TuningConfig(seeds=[9001], users=4, steps=6,
                                        grid={"alpha": [0.3, 1.0], "mix": [0.8], "explore": [0.0]}))
compare(cfg, sys.argv[1], progress=False, log=print)
"""


def test_editing_the_code_recomputes_every_unit(tmp_path):
    """A copy of driftrec's source runs a tiny compare twice: unchanged, it reuses every unit; after
    a preset default is edited in the code (abrupt's shift hazard), it reuses none."""
    pkg = tmp_path / "src" / "driftrec"
    pkg.mkdir(parents=True)
    shutil.copy(ROOT / "__init__.py", pkg / "__init__.py")
    for sub in SUBPACKAGES:  # what code_digest hashes
        shutil.copytree(ROOT / sub, pkg / sub, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src"), "DRIFTREC_KEY_FILE": str(tmp_path / "key")}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", EDIT_SCRIPT, str(tmp_path / "out")], env=env,
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = [sys.executable, "-c", "import driftrec; print(driftrec.__file__)"]
    assert str(pkg) in subprocess.run(where, env=env, capture_output=True, text=True, cwd=tmp_path).stdout
    first = run()
    assert "reused" not in first, first
    second = run()
    assert "tune+train: reused 1 of 1 finished units" in second and "evaluate: reused 2 of 2 finished units" in second
    scenarios = pkg / "simulators" / "scenarios.py"
    text = scenarios.read_text()
    assert "shift_hazard=0.03)" in text
    scenarios.write_text(text.replace("shift_hazard=0.03)", "shift_hazard=0.2)", 1))
    again = run()
    assert "reused" not in again, again


# ----------------------------------------------------------------------------------- finding 15
SMALL = ["--items", "100", "--dim", "16", "--users", "4", "--steps", "3", "--seeds", "1", "--no-progress",
         "--agents", "fixed"]  # fmt: skip


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and "warning:" not in ln]
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def test_a_full_disk_and_a_read_only_out_are_one_error_line(tmp_path, capsys, monkeypatch):
    # the disk fills while the results are written: the summary's write fails (ENOSPC at fsync)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if "summary.json" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "full"
    assert main(["simulate", *SMALL, "--out", str(out)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("driftrec simulate: error: cannot write") and "summary.json" in line, line
    assert "No space left on device" in line, line
    assert not (out / "summary.json").exists() and not list(out.glob(".*.tmp")), "a half-written file stayed"
    assert (out / "INCOMPLETE").exists(), "a run that failed while writing must leave its folder marked incomplete"
    assert not (out / ".driftrec.lock").exists()
    monkeypatch.setattr(os, "fsync", real_fsync)

    # a read-only place (a read-only mount, or no write permission): refused before any work
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.geteuid() == 0:  # root writes through permission bits: answer as a read-only mount would
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != ro and real_access(p, mode, **kw))
    try:
        assert main(["simulate", *SMALL, "--out", str(ro / "run")]) == 2
        line = _one_error_line(capsys)
        run = str(ro / "run")
        assert line == f"driftrec simulate: error: --out {run!r} cannot be written: {str(ro)!r} is not writable"
        assert not (ro / "run").exists()
    finally:
        ro.chmod(0o700)
