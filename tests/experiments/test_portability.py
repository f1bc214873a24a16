"""The portability table: shares of the oracle per catalog and preset, spreads and the verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest

from driftrec.envs import default_catalog
from driftrec.experiments.cli.main import main
from driftrec.experiments.online.compare import TuningConfig
from driftrec.experiments.online.portability import PortabilityConfig, format_portability, portability

GRID = {"alpha": [0.3, 1.0], "mix": [0.8], "explore": [0.0, 0.1]}


def _cfg(**kw):
    base = dict(
        catalogs=["a", "b"],
        scenarios=["stable", "abrupt"],
        seeds=[101, 102, 103],
        users=16,
        steps=15,
        tuning=TuningConfig(users=8, steps=15, grid=GRID),
    )
    return PortabilityConfig(**{**base, **kw})


def test_shares_spreads_and_verdicts_follow_from_the_runs():
    cats = {"a": default_catalog(150, 16, seed=0), "b": default_catalog(300, 24, seed=1)}
    res = portability(_cfg(), progress=False, catalogs=cats)
    rows = res.rows
    assert len(rows) == 4 and set(rows.catalog) == {"a", "b"}
    assert (rows.best_fixed_share > rows.random_share).all()
    assert np.allclose(rows.best_fixed_share, rows.best_fixed / rows.oracle, atol=0.05)  # per-seed means of ratios
    for r in rows.itertuples():
        lo, hi = r.best_fixed_share_ci95
        assert lo <= r.best_fixed_share <= hi
    for c in res.checks.itertuples():
        g = rows[rows.scenario == c.scenario]
        assert c.best_fixed_spread == pytest.approx(g.best_fixed_share.max() - g.best_fixed_share.min())
        assert c.portable == (c.best_fixed_spread <= 0.10 and c.random_spread <= 0.10)
    assert res.passed == (bool(res.checks.portable.all()) and bool(rows.ordered.all()))
    text = format_portability(res)
    assert "best-fixed/oracle" in text and "portable" in text
    # a zero tolerance cannot hold for two different catalogs
    strict = portability(_cfg(tolerance=0.0), progress=False, catalogs=cats)
    assert not strict.passed and not strict.checks.portable.any()


def test_portability_command_writes_its_files_and_exit_status(tmp_path, capsys):
    out = tmp_path / "p"
    args = ["portability", "--catalogs", "synthetic", "--scenario", "stable", "--seeds", "101,102", "--users", "8",
            "--steps", "10", "--tuning-users", "4", "--no-progress", "--out", str(out)]  # fmt: skip
    rc = main(args)
    assert rc in (0, 1)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_version"] == 2 and summary["passed"] == (rc == 0)
    assert (out / "portability.csv").exists() and (out / "portability.png").stat().st_size > 5_000
    assert "best-fixed/oracle" in capsys.readouterr().out


def test_portability_config_errors():
    with pytest.raises(ValueError, match="catalogs must be distinct"):
        _cfg(catalogs=["a", "a"])
    with pytest.raises(ValueError, match="at least 2 evaluation seeds"):
        _cfg(seeds=[101])
