"""keep_freed_memory: glibc keeps freed memory (same numbers; speed is measured by memory_study)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from driftrec.envs.memory import MMAP_THRESHOLD, TRIM_THRESHOLD

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings are Linux-only")

PROBE = """
import json, os
from driftrec.envs.memory import keep_freed_memory, user_settings, without_kept_settings
first, again = keep_freed_memory(), keep_freed_memory()
env = {k: os.environ.get(k) for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
with without_kept_settings():
    inside = {k: os.environ.get(k) for k in env}
after = {k: os.environ.get(k) for k in env}
print(json.dumps({"first": first, "again": again, "env": env, "inside": inside, "after": after,
                  "user": user_settings()}))
"""


def _probe(extra_env: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | extra_env
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@glibc
def test_it_applies_once_for_this_process_and_those_it_starts_and_can_step_aside_for_a_comparison():
    out = _probe({})
    assert out["first"] is True and out["again"] is True and out["user"] == []
    expected = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}
    assert out["env"] == expected == out["after"]  # processes started later inherit the settings...
    assert out["inside"] == {k: None for k in expected}  # ...but not those started without_kept_settings


@glibc
def test_a_process_started_with_the_settings_applies_them_too():
    out = _probe({"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)})
    assert out["first"] is True and out["user"] == []


@glibc
def test_a_users_own_malloc_setting_is_left_alone():
    out = _probe({"MALLOC_TOP_PAD_": "0"})
    assert out["first"] is False and out["user"] == ["MALLOC_TOP_PAD_"]
    assert out["env"] == {"MALLOC_MMAP_THRESHOLD_": None, "MALLOC_TRIM_THRESHOLD_": None}
    out = _probe({"MALLOC_TRIM_THRESHOLD_": "12345"})  # one of ours, at the user's own value
    assert out["first"] is False and out["user"] == ["MALLOC_TRIM_THRESHOLD_"]


def test_the_memory_study_times_both_sides_in_fresh_processes_and_refuses_a_tuned_environment(monkeypatch, tmp_path):
    from driftrec.experiments.studies import memory_study

    summary = memory_study.study([(64, 100, 8)], min_time=0.02, rounds=1, out=tmp_path, progress=False)
    (row,) = summary["rows"]
    assert row["applied"] is (sys.platform.startswith("linux"))
    assert row["default_step_ms"] > 0 and row["kept_step_ms"] > 0 and row["default_faults_per_step"] >= 0
    assert row["speedup"] == pytest.approx(row["default_step_ms"] / row["kept_step_ms"])
    assert json.loads((tmp_path / "memory.json").read_text())["rows"] == summary["rows"]
    assert "64  100  8" in memory_study.format_study(summary)
    with pytest.raises(ValueError, match="engine 'fast' is unknown"):
        memory_study.study([(4, 100, 8)], engine="fast", progress=False)
    monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
    with pytest.raises(ValueError, match=r"tunes malloc already \(MALLOC_TOP_PAD_\)"):
        memory_study.study([(4, 100, 8)], progress=False)
