"""The fused-step study: three engines at one size, timed against the bare kernel."""

from __future__ import annotations

import json

import pytest

from driftrec.experiments.studies import fused_step_study as fs


@pytest.mark.parametrize(
    ("text", "message"),
    [("64x10000", "is not NxMxd"), ("0x10x4", "is not NxMxd"), ("1x1e3x4", "is not NxMxd"), (",", "is not NxMxd")],
)
def test_bad_sizes_are_one_line_errors(text, message):
    with pytest.raises(ValueError, match=message):
        fs.parse_sizes(text)


def test_sizes_parse_and_bad_settings_are_refused_before_any_compile():
    assert fs.parse_sizes("1x1000x64, 8192x1000x384") == [(1, 1000, 64), (8192, 1000, 384)]
    with pytest.raises(ValueError, match="weights 'adam' is unknown"):
        fs.study([(1, 50, 8)], weights="adam")
    with pytest.raises(ValueError, match="min_time=0"):
        fs.study([(1, 50, 8)], min_time=0)
    with pytest.raises(ValueError, match="unknown"):
        fs.study([(1, 50, 8)], scenario="nope")


@pytest.mark.slow
def test_the_study_times_three_engines_and_the_compiled_one_keeps_the_numbers(tmp_path, capsys):
    """Compiles two graphs (exact and fused) of a tiny env; the compiled engine must give the eager
    numbers, and every time is positive and divided by the same kernel."""
    assert fs.main(["--sizes", "2x60x8", "--min-time", "0.05", "--rounds", "1", "--weights", "random",
                    "--out", str(tmp_path), "--no-progress"]) == 0  # fmt: skip
    rep = json.loads((tmp_path / "fused_step.json").read_text())
    (row,) = rep["rows"]
    assert (row["users"], row["items"], row["dim"]) == (2, 60, 8) and rep["weights"] == "random"
    assert row["compiled_same_numbers"] is True and isinstance(row["fused_same_numbers"], bool)
    for e in fs.ENGINES:
        assert row[f"{e}_ms"] > 0 and row[f"{e}_over_kernel"] == pytest.approx(row[f"{e}_ms"] / row["kernel_ms"])
    assert row["fused_speedup"] == pytest.approx(row["compiled_ms"] / row["fused_ms"])
    out = capsys.readouterr().out
    assert "fused/compiled" in out and "wrote" in out
