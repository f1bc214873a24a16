"""The published runs (experiments/configs/published.yaml) and ``driftrec reproduce``."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest

from driftrec.experiments.cli.args import expand_flag_config
from driftrec.experiments.cli.main import build_parser, main
from driftrec.experiments.diagnostics.reproduce import load_manifest, select

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = load_manifest()
EXAMPLE_PAGES = ("commands.md", "errors.md")
RESULT_PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in EXAMPLE_PAGES)]
"""Pages that publish results (commands.md and errors.md show examples of every flag and error)."""


def flat(text: str) -> str:
    """Page text with shell line continuations joined and whitespace runs made one space."""
    return " ".join(text.replace("\\\n", " ").split())


@pytest.mark.parametrize("run", MANIFEST.runs, ids=lambda r: r.name)
def test_every_published_command_parses_and_its_pages_print_it(run):
    words = shlex.split(run.command)
    if words[0] == "driftrec":
        parser = build_parser()
        parser.parse_args(expand_flag_config(parser.commands, words[1:]))  # a stale flag exits 2 here
    else:
        assert importlib.util.find_spec(words[2]) is not None, f"no module {words[2]}"
    for page in run.pages:
        assert run.command in flat((ROOT / page).read_text(encoding="utf-8")), f"{page} does not print {run.command!r}"


@pytest.mark.parametrize("page", RESULT_PAGES, ids=lambda p: p.name)
def test_every_command_with_results_in_a_page_is_in_the_manifest(page):
    known = {r.command for r in MANIFEST.runs} | set(MANIFEST.shown)
    missing = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = " ".join(line.split("  #")[0].split())
            if re.match(r"driftrec [a-z]+ ", command) and "--out runs/" in command and command not in known:
                missing.append(command)
    assert not missing, f"{page.name}: add these to experiments/configs/published.yaml (runs or shown): {missing}"


def test_selection_brings_what_a_run_needs_in_manifest_order():
    names = [r.name for r in select(MANIFEST, ["replay", "ope-sequential-ppo"])]
    assert names == ["ppo-seq", "ope-sequential-ppo", "train-movielens", "replay"]
    assert {r.kind for r in select(MANIFEST, kinds=["data"])} == {"data"}
    assert all("docs/results.md" in r.pages for r in select(MANIFEST, pages=["docs/results.md"]))
    assert len(select(MANIFEST)) == len(MANIFEST.runs)
    with pytest.raises(ValueError, match="no published run named 'nope'"):
        select(MANIFEST, ["nope"])
    with pytest.raises(ValueError, match="kind 'fast' is unknown; allowed: simulated, data, timing"):
        select(MANIFEST, kinds=["fast"])
    with pytest.raises(ValueError, match="no published run writes to page 'docs/x.md'"):
        select(MANIFEST, pages=["docs/x.md"])


RUN = {"name": "a", "command": "driftrec scenarios", "pages": ["README.md"], "minutes": 1, "kind": "simulated"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**RUN, "command": "rm -rf /"}, r"command 'rm -rf /' must start with 'driftrec' or 'python -m driftrec.'"),
        ({**RUN, "command": "python -m os"}, r"must start with 'driftrec' or 'python -m driftrec.'"),
        ({**RUN, "command": "driftrec simulate --out 'runs/x"}, r"cannot be split into words: No closing quotation"),
        ({**RUN, "command": ""}, r"command '' must start with 'driftrec'"),
        ({**RUN, "kind": "fast"}, r"runs\[0\] \(a\): kind 'fast' is unknown; allowed: simulated, data, timing"),
        ({**RUN, "minutes": 0}, r"minutes=0 must be a positive number"),
        ({**RUN, "minutes": True}, r"minutes=True must be a positive number"),
        ({**RUN, "needs": ["b"]}, r"needs \['b'\] must name runs listed before it"),
        ({**RUN, "status": 300}, r"status=300 must be an exit status in \[0, 255\]"),
        ({**RUN, "pages": []}, r"pages must be a non-empty list"),
        ({**RUN, "shell": True}, r"unknown keys \['shell'\]"),
    ],
)
def test_a_bad_manifest_entry_is_a_one_line_error(entry, message, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"runs": [entry]}), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_manifest(path)


def test_reproduce_runs_in_order_and_records_every_outcome(tmp_path, capsys):
    fails = "driftrec simulate --scenario nope"
    runs = [
        {**RUN, "name": "fails", "command": fails},
        {**RUN, "name": "fails-as-published", "command": fails, "status": 2},
        {**RUN, "name": "after-fails", "needs": ["fails"]},
    ]
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"runs": runs}), encoding="utf-8")

    out = tmp_path / "out"
    assert main(["reproduce", "--all", "--keep-going", "--manifest", str(path), "--out", str(out)]) == 1
    rows = json.loads((out / "reproduce.json").read_text())["runs"]
    assert [(r["name"], r["exit_status"], r["outcome"]) for r in rows] == [
        ("fails", 2, "failed: exit status 2, published with 0"),
        ("fails-as-published", 2, "ok"),
        ("after-fails", None, "skipped: fails failed"),
    ]
    assert "1 of 3 runs as published" in capsys.readouterr().out

    assert main(["reproduce", "fails", "after-fails", "--manifest", str(path), "--out", str(out)]) == 1
    rows = json.loads((out / "reproduce.json").read_text())["runs"]
    assert [r["outcome"] for r in rows] == ["failed: exit status 2, published with 0", "skipped: fails failed"]


def test_reproduce_needs_a_selection_and_lists_without_running(capsys):
    assert main(["reproduce"]) == 2
    assert "name the runs to reproduce, or choose them with --kind, --page or --all" in capsys.readouterr().err
    assert main(["reproduce", "--all", "soak"]) == 2
    assert "--all runs everything" in capsys.readouterr().err
    assert main(["reproduce", "--list", "replay"]) == 0
    out = capsys.readouterr().out
    assert "train-movielens" in out and "2 runs, about 4 minutes" in out
