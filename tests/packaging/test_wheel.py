"""`pip install .` builds a wheel without deprecation warnings, with the license, classifiers and
the one version (``driftrec.__version__``)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import driftrec

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_builds_cleanly_with_its_metadata(tmp_path):
    had_build = (ROOT / "build").exists()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-v", "-w", str(tmp_path)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        if not had_build:  # setuptools builds in the source tree; leave it as it was
            shutil.rmtree(ROOT / "build", ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    log = done.stdout + done.stderr
    assert "Deprecat" not in log and "_Warning" not in log, [line for line in log.splitlines() if "arn" in line]
    (wheel,) = tmp_path.glob("driftrec-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(f"driftrec-{driftrec.__version__}.dist-info/METADATA").decode()
    assert f"Version: {driftrec.__version__}\n" in meta and "License-Expression: MIT\n" in meta
    assert "Classifier: Intended Audience :: Science/Research" in meta
    assert f"driftrec-{driftrec.__version__}.dist-info/licenses/LICENSE" in names
    assert "driftrec/experiments/configs/quickstart.yaml" in names
    # every module of the source tree is in the wheel (the package list in pyproject is complete)
    skip = {".venv", ".ci-venv", "tests", "docs", "build", "runs", "driftrec.egg-info"}
    sources = {
        "driftrec/" + p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("*.py")
        if not skip & set(p.relative_to(ROOT).parts)
    }
    assert sources - set(names) == set()
