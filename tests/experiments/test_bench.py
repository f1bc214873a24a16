"""driftrec bench --quick runs and reports every measurement (speed is never asserted here)."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from driftrec.experiments.cli.main import main
from driftrec.experiments.diagnostics.bench import BenchConfig, bare_kernel, random_catalog
from driftrec.simulators.recommender import top_k


def test_a_recogym_python_that_fails_is_a_one_line_error(tmp_path):
    from driftrec.experiments.diagnostics.bench import measure_recogym

    with pytest.raises(ValueError, match="could not be run"):
        measure_recogym(str(tmp_path / "no-such-python"), 0.01)
    if importlib.util.find_spec("recogym") is None:  # this Python has no RecoGym: the script fails
        with pytest.raises(ValueError, match="failed to time RecoGym .*is recogym 0.1.3.0 installed"):
            measure_recogym(sys.executable, 0.01)


def test_the_bare_kernel_ranks_like_the_env():
    cat = random_catalog(3000, 32)
    q = cat.embeddings[:50] + 0.1
    a, b = bare_kernel(q, cat.embeddings, 10, block=64), top_k(cat.embeddings, q, 10)
    assert a.sort(1).values.equal(b.sort(1).values)  # the same items (the env also orders ties)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"users": []}, "users must be a non-empty list"),
        ({"items": [10]}, "items must be at least 20"),
        ({"min_time": 0}, "min_time=0 must be > 0"),
        ({"ppo_steps": -1}, "ppo_steps=-1 must be >= 0"),
    ],
)
def test_bad_bench_configs(kw, message):
    with pytest.raises(ValueError, match=message):
        BenchConfig(**kw)


def test_torch_operations_are_counted_exactly_and_the_same_on_every_run():
    import torch

    from driftrec.experiments.diagnostics.bench import count_torch_ops, measure_single

    x = torch.ones(3)
    assert count_torch_ops(lambda: (x + 1).mul_(2), 5) == 2.0
    a, b = measure_single("abrupt", 0.01), measure_single("abrupt", 0.05)
    assert a["torch_ops_per_step"] == b["torch_ops_per_step"] > 100


def test_bench_quick_runs_writes_its_figures_and_times_a_baseline_right_after_each(tmp_path, capsys):
    """One ``bench --quick`` run (a fresh process per figure): every figure, and with --baseline DIR
    (here this very checkout, imported in a child process through its own path) each figure timed
    again with the driftrec in DIR and reported as a speed-up."""
    from pathlib import Path

    import driftrec

    root = Path(driftrec.__file__).parent
    argv = ["bench", "--quick", "--no-progress", "--baseline", str(root), "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "user-steps/s" in out and "per-user loop" in out and "SyncVectorEnv" in out and "in the env" in out
    assert f"baseline (timed right after each figure): {root.resolve()}" in out and "speed-up" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [(p["users"], p["items"], p["dim"]) for p in summary["points"]] == [(1, 1000, 64), (64, 1000, 64)]
    for p in summary["points"]:
        assert p["user_steps_per_s"] > 0 and p["kernel_ms"] > 0 and p["rss_peak_mib"] >= p["rss_start_mib"] > 0
        assert p["speedup"] > 0 and (p["baseline"]["users"], p["baseline"]["dim"]) == (p["users"], p["dim"])
    ref = summary["reference"]
    assert ref["batched_over_loop"] > 0 and ref["batched_over_sync_vector"] > 0
    single, (ppo,) = summary["single"], summary["ppo"]
    assert 0 < ppo["env_share"] < 1 and ppo["timesteps"] == 4096 and ppo["catalog"] == "synthetic"
    assert 0 < ppo["update_share"] < 1 - ppo["env_share"] and f"{ppo['update_share']:.0%} in SB3's updates" in out
    assert ppo["user_steps_per_s"] > 0 and ppo["over_first"] == 1.0
    assert ppo["speedup"] > 0 and ppo["baseline"]["timesteps"] == 4096 and 0 < ppo["baseline"]["env_share"] < 1
    assert single["steps_per_s"] > 0 and "one user (gymnasium.make" in out
    assert f"{single['torch_ops_per_step']:.0f} torch operations per step" in out
    assert single["speedup"] > 0 and single["baseline"]["torch_ops_per_step"] > 0
    assert (tmp_path / "points.csv").exists()

    # a row timed without the baseline (a skipped catalog, a baseline that failed) still prints
    from driftrec.experiments.diagnostics.bench import BenchResult
    from driftrec.experiments.diagnostics.bench_report import format_bench

    bare = {k: v for k, v in ppo.items() if k not in ("baseline", "speedup")}
    failed = bare | {"baseline_error": "the baseline failed to run bench.measure_ppo: TypeError"}
    keys = ("config", "points", "reference", "ppo", "machine", "single", "wall_s")
    text = format_bench(BenchResult(*(summary[k] if k != "ppo" else [ppo, bare, failed] for k in keys)))
    lines = [line for line in text.splitlines() if line.startswith("PPO")]
    assert len(lines) == 3 and "baseline" in lines[0] and "baseline" not in lines[1]
    assert lines[2].endswith("; baseline not timed (the baseline failed to run bench.measure_ppo: TypeError)")


def test_a_baseline_that_is_no_driftrec_checkout_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="is not a driftrec checkout"):
        BenchConfig(baseline=str(tmp_path))


def test_the_grid_table_gives_each_engine_its_row_its_speed_over_eager_and_its_compile_time():
    from driftrec.experiments.diagnostics.bench import BenchResult
    from driftrec.experiments.diagnostics.bench_report import format_bench

    size = {"users": 64, "items": 1000, "dim": 64, "kernel_ms": 0.1, "rss_peak_mib": 300.0, "gpu_peak_mib": None}
    eager = size | {"engine": "eager", "user_steps_per_s": 40_000.0, "step_ms": 1.6, "step_over_kernel": 16.0}
    compiled = size | {"engine": "compiled", "user_steps_per_s": 80_000.0, "step_ms": 0.8, "step_over_kernel": 8.0}
    compiled |= {"over_eager": 2.0, "compile_s": 14.5}
    ref = {"users": 64, "items": 1000, "dim": 64, "batched_user_steps_per_s": 4e4, "loop_user_steps_per_s": 1e3}
    ref |= {"sync_vector_user_steps_per_s": 1e3, "batched_over_loop": 40.0, "batched_over_sync_vector": 40.0}
    single = {"scenario": "mixed", "steps_per_s": 1000.0, "torch_ops_per_step": 437.0}
    machine = {"cpu": "x", "cores": 2, "torch": "2", "torch_threads": 2}
    config = {"scenario": "mixed", "device": "cpu", "baseline": None}
    text = format_bench(BenchResult(config, [eager, compiled], ref, [], machine, single, 1.0))
    rows = [line.split() for line in text.splitlines() if line.startswith("64 ")]
    assert rows == [
        ["64", "1,000", "64", "eager", "-", "-", "40,000", "1.60", "0.10", "16.00", "300"],
        ["64", "1,000", "64", "compiled", "2.00x", "14.5", "80,000", "0.80", "0.10", "8.00", "300"],
    ]
    text = format_bench(BenchResult(config, [eager], ref, [], machine, single, 1.0))  # one engine: no engine columns
    assert [line.split() for line in text.splitlines() if line.startswith("64 ")] == [
        ["64", "1,000", "64", "40,000", "1.60", "0.10", "16.00", "300"]
    ]


@pytest.mark.slow
def test_the_grid_runs_the_compiled_engine_beside_eager_at_every_point(tmp_path, capsys):
    argv = ["bench", "--quick", "--no-progress", "--users", "1", "--engines", "eager,compiled"]
    assert main([*argv, "--ppo-steps", "0", "--reference", "1,1000,64", "--out", str(tmp_path)]) == 0
    points = json.loads((tmp_path / "summary.json").read_text())["points"]
    assert [(p["users"], p["engine"]) for p in points] == [(1, "eager"), (1, "compiled")]
    eager, compiled = points
    assert compiled["compile_s"] > 0 and compiled["step_ms"] > 0 and "compile_s" not in eager
    assert compiled["over_eager"] == pytest.approx(compiled["user_steps_per_s"] / eager["user_steps_per_s"])
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("1 ")]
    assert [row[3:5] for row in rows] == [["eager", "-"], ["compiled", f"{compiled['over_eager']:.2f}x"]]
