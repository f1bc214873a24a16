"""Another checkout of driftrec, timed beside this one: ``driftrec bench --baseline DIR``.

A before/after of a speed change is only trustworthy from one run: on a shared machine the same
command's figures move by tens of percent between runs. With a baseline, bench takes each of its
measurements twice in a row, once with this driftrec and once with the checkout in DIR (for
example ``git worktree add ../driftrec-main main``). Each runs in a fresh process that imports its
own driftrec and calls its own bench function of the same name, so the baseline is timed by its
own code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_CHILD = """
import json, sys
import driftrec
from driftrec.experiments.diagnostics import bench
result = getattr(bench, sys.argv[1])(*json.loads(sys.argv[2]))
print(json.dumps({"file": driftrec.__file__, "result": result}))
"""


class Baseline:
    """A driftrec source tree (its root holds ``__init__.py`` and ``experiments/``) to time with."""

    def __init__(self, path: str) -> None:
        root = Path(path).expanduser().resolve()
        if not (root / "__init__.py").is_file() or not (root / "experiments" / "diagnostics" / "bench.py").is_file():
            raise ValueError(
                f"baseline {path!r} is not a driftrec checkout (its root has no __init__.py and "
                "experiments/diagnostics/bench.py); give the root of one, e.g. from `git worktree add DIR main`"
            )
        self.root = root

    def describe(self) -> str:
        """The root, and its git commit when it is a git checkout."""
        done = subprocess.run(
            ["git", "-C", str(self.root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        return f"{self.root}" + (f" (commit {done.stdout.strip()})" if done.returncode == 0 else "")

    def run(self, fn: str, *args: Any) -> dict[str, Any]:
        """``bench.<fn>(*args)`` of the baseline, in a new process; its JSON result."""
        with tempfile.TemporaryDirectory(prefix="driftrec-baseline-") as tmp:
            (Path(tmp) / "driftrec").symlink_to(self.root, target_is_directory=True)
            path = os.pathsep.join(p for p in (tmp, os.environ.get("PYTHONPATH", "")) if p)
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, fn, json.dumps(args)],
                env={**os.environ, "PYTHONPATH": path},
                capture_output=True,
                text=True,
                check=False,
            )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ValueError(f"the baseline {self.describe()} failed to run bench.{fn}: {last}")
        out = json.loads(done.stdout.strip().splitlines()[-1])
        if not out["file"].startswith(tmp):
            raise ValueError(f"the baseline run imported driftrec from {out['file']}, not from {self.root}")
        return out["result"]
