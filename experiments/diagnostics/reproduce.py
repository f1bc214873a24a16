"""The published runs: every command whose output README.md and docs/ publish, and a runner for them.

``experiments/configs/published.yaml`` lists each command exactly as the pages print it, the pages
that publish its output, about how long it takes, what kind of number it gives (``simulated``:
moves with the model version and PPO's settings; ``data``: no simulation; ``timing``) and the runs
whose outputs it reads. ``driftrec reproduce`` runs a selection of them in order, each in its own
process in the current folder (so their ``--out`` folders are where the pages say), and records
every exit status and wall time in ``reproduce.json``. It is what a model-version change runs
before its numbers are published again.

Only driftrec itself is ever run: a command is ``driftrec ...`` (run as ``python -m
driftrec.experiments.cli ...``) or ``python -m driftrec.<module> ...``, split like a shell would
but never given to one.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from driftrec.experiments.common import io

MANIFEST = Path(__file__).resolve().parents[1] / "configs" / "published.yaml"
KINDS = ("simulated", "data", "timing")
_RUN_KEYS = {"name", "command", "pages", "minutes", "kind", "needs", "status"}


@dataclass(frozen=True)
class PublishedRun:
    """One published command. ``status``: the exit status it is published with (``portability``
    exits 1 when a share check fails, and one published run shows that)."""

    name: str
    command: str
    pages: tuple[str, ...]
    minutes: float
    kind: str
    needs: tuple[str, ...] = ()
    status: int = 0

    def argv(self) -> list[str]:
        """The process to start: this Python running driftrec's command line or a driftrec module."""
        words = shlex.split(self.command)
        if words[0] == "driftrec":
            return [sys.executable, "-m", "driftrec.experiments.cli", *words[1:]]
        return [sys.executable, *words[1:]]


@dataclass(frozen=True)
class Manifest:
    """The published runs (in an order where every run comes after what it needs) and the
    commands the pages show without publishing a number (``shown``: command -> why)."""

    runs: tuple[PublishedRun, ...]
    shown: dict[str, str]

    def by_name(self) -> dict[str, PublishedRun]:
        return {r.name: r for r in self.runs}


def load_manifest(path: str | Path = MANIFEST) -> Manifest:
    """Read and check a manifest; a one-line ValueError naming the entry and the value otherwise."""
    data = io.read_mapping(path)
    where = str(path)
    unknown = set(data) - {"runs", "shown"}
    if unknown or not isinstance(data.get("runs"), list):
        raise ValueError(f"{where}: a manifest is a mapping with a list 'runs' (and 'shown'), got keys {sorted(data)}")
    runs: list[PublishedRun] = []
    for i, entry in enumerate(data["runs"]):
        runs.append(_check_run(f"{where}: runs[{i}]", entry, {r.name for r in runs}))
    shown: dict[str, str] = {}
    for i, entry in enumerate(data.get("shown") or []):
        if not isinstance(entry, dict) or set(entry) != {"command", "why"}:
            raise ValueError(f"{where}: shown[{i}] must have exactly the keys command and why, got {entry!r}")
        shown[" ".join(str(entry["command"]).split())] = str(entry["why"])
    return Manifest(tuple(runs), shown)


def _check_run(where: str, entry: Any, earlier: set[str]) -> PublishedRun:
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be a mapping, got {type(entry).__name__}: {entry!r}")
    extra, missing = set(entry) - _RUN_KEYS, {"name", "command", "pages", "minutes", "kind"} - set(entry)
    if extra or missing:
        raise ValueError(
            f"{where}: unknown keys {sorted(extra)} or missing keys {sorted(missing)}; allowed: {sorted(_RUN_KEYS)}"
        )
    name = entry["name"]
    where = f"{where} ({name})"
    if not isinstance(name, str) or not name or name in earlier:
        raise ValueError(f"{where}: a name must be a non-empty string used once")
    command = " ".join(str(entry["command"]).split())
    try:
        words = shlex.split(command) or [""]
    except ValueError as exc:  # an unclosed quote
        raise ValueError(f"{where}: command {command!r} cannot be split into words: {exc}") from None
    if not (words[0] == "driftrec" or words[:2] == ["python", "-m"] and words[2].startswith("driftrec.")):
        raise ValueError(f"{where}: command {command!r} must start with 'driftrec' or 'python -m driftrec.'")
    pages = entry["pages"]
    if not isinstance(pages, list) or not pages or not all(isinstance(p, str) for p in pages):
        raise ValueError(f"{where}: pages must be a non-empty list of page paths, got {pages!r}")
    minutes = entry["minutes"]
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0:
        raise ValueError(f"{where}: minutes={minutes!r} must be a positive number")
    if entry["kind"] not in KINDS:
        raise ValueError(f"{where}: kind {entry['kind']!r} is unknown; allowed: {', '.join(KINDS)}")
    needs = entry.get("needs", [])
    if not isinstance(needs, list) or any(n not in earlier for n in needs):
        raise ValueError(f"{where}: needs {needs!r} must name runs listed before it")
    status = entry.get("status", 0)
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 255:
        raise ValueError(f"{where}: status={status!r} must be an exit status in [0, 255]")
    return PublishedRun(name, command, tuple(pages), float(minutes), entry["kind"], tuple(needs), status)


def select(
    manifest: Manifest, names: Sequence[str] = (), kinds: Sequence[str] = (), pages: Sequence[str] = ()
) -> list[PublishedRun]:
    """The runs named, of the kinds given and publishing on the pages given (every run when all
    three are empty), with every run they need, in manifest order."""
    known = manifest.by_name()
    for n in names:
        if n not in known:
            raise ValueError(f"no published run named {n!r}; see driftrec reproduce --list")
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"kind {k!r} is unknown; allowed: {', '.join(KINDS)}")
    all_pages = {p for r in manifest.runs for p in r.pages}
    for p in pages:
        if p not in all_pages:
            raise ValueError(f"no published run writes to page {p!r}; pages: {', '.join(sorted(all_pages))}")
    chosen = {
        r.name
        for r in manifest.runs
        if (not names or r.name in names)
        and (not kinds or r.kind in kinds)
        and (not pages or set(pages) & set(r.pages))
    }
    for r in reversed(manifest.runs):  # needs come earlier, so one backward pass closes the set
        if r.name in chosen:
            chosen.update(r.needs)
    return [r for r in manifest.runs if r.name in chosen]


def format_list(runs: Sequence[PublishedRun]) -> str:
    """A table of ``runs``: name, kind, minutes, pages, then each command."""
    head = f"{'name':<30} {'kind':<9} {'min':>5}  pages"
    lines = [head, "-" * len(head)]
    for r in runs:
        needs = f"  (after {', '.join(r.needs)})" if r.needs else ""
        lines.append(f"{r.name:<30} {r.kind:<9} {r.minutes:>5g}  {', '.join(r.pages)}{needs}")
    lines.append(f"\n{len(runs)} runs, about {sum(r.minutes for r in runs):g} minutes on 2 CPU cores\n")
    lines += [f"{r.name}: {r.command}" for r in runs]
    return "\n".join(lines)


def reproduce(
    runs: Sequence[PublishedRun],
    out: Path,
    keep_going: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run ``runs`` in order, each as its own process in the current folder, its output
    going to this terminal. A run whose exit status is not its published ``status`` fails: the
    rest are not run unless ``keep_going``, and a run that needs a failed one is skipped.
    ``out``/reproduce.json is rewritten (atomically) after every run, so an interrupted
    reproduction keeps what it did. Returns that record."""
    record: dict[str, Any] = {"runs": [], "cwd": str(Path.cwd())}
    failed: set[str] = set()
    start = time.perf_counter()
    for i, r in enumerate(runs, 1):
        row: dict[str, Any] = {**asdict(r), "exit_status": None, "wall_s": None}
        blocked = [n for n in r.needs if n in failed]
        if blocked or (failed and not keep_going):
            row["outcome"] = f"skipped: {', '.join(blocked)} failed" if blocked else "not run: an earlier run failed"
            failed.add(r.name)
        else:
            log(f"[{i}/{len(runs)}] {r.name} (about {r.minutes:g} min): {r.command}")
            t0 = time.perf_counter()
            status = subprocess.run(r.argv(), env={**os.environ, "PYTHONUNBUFFERED": "1"}).returncode
            row["exit_status"], row["wall_s"] = status, round(time.perf_counter() - t0, 1)
            ok = status == r.status
            row["outcome"] = "ok" if ok else f"failed: exit status {status}, published with {r.status}"
            if not ok:
                failed.add(r.name)
            log(f"[{i}/{len(runs)}] {r.name}: {row['outcome']} ({row['wall_s']:.0f}s)")
        record["runs"].append(row)
        record["wall_s"] = round(time.perf_counter() - start, 1)
        record["failed"] = sorted(failed)
        io.write_summary(out / "reproduce.json", record)
    return record
