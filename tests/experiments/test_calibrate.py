"""Calibration: drift statistics on known sequences, self-directed timelines, the fit, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from driftrec.experiments.cli.main import main
from driftrec.experiments.online.calibrate import (
    block_centroids,
    drift_stats,
    real_sequences,
    simulated_sequences,
    within_spread,
)
from driftrec.simulators import Simulator, load_population, make_scenario
from driftrec.simulators.click import choose_one
from driftrec.simulators.data import load_movielens


def test_statistics_of_known_sequences():
    E = np.eye(4)
    same = np.zeros(20, dtype=np.int64)  # always item 0: nothing moves
    alternate = np.repeat([0, 1, 0, 1], 5)  # blocks of item 0, item 1, item 0, item 1: jumps every block
    st = drift_stats([same, alternate], E, block=5, max_lag=3, tau=0.5)
    assert np.allclose(st.lag_cos[0], [1, 1, 1]) and st.step_move[0] == 0 and st.jump_rate[0] == 0
    assert np.allclose(st.lag_cos[1], [0, 1, 0]) and st.step_move[1] == 1 and st.jump_rate[1] == 1
    c = block_centroids(np.array([[1.0, 0], [0, 1], [1, 0]]), 2)  # partial last block dropped
    assert c.shape == (1, 2) and np.allclose(c, [[2**-0.5, 2**-0.5]])


def test_choose_one_follows_the_weights():
    w = torch.tensor([[1.0, 0.0, 3.0, 4.0]]).expand(20_000, 4)
    u = (torch.arange(20_000, dtype=torch.float64) + 0.5) / 20_000
    freq = torch.bincount(choose_one(w, u), minlength=4).double() / 20_000
    assert torch.allclose(freq, torch.tensor([0.125, 0.0, 0.375, 0.5], dtype=torch.float64), atol=1e-3)


def test_self_directed_timelines_are_deterministic_and_batch_invariant(small_catalog):
    sc = make_scenario("abrupt", beta=30.0)
    a = simulated_sequences(sc, small_catalog, None, users=6, steps=12, seed=5)
    b = simulated_sequences(sc, small_catalog, None, users=6, steps=12, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)) and a[0].shape == (12,)
    sim = Simulator(sc, small_catalog)
    state = sim.init(torch.arange(3, dtype=torch.int64))
    _, item = sim.self_directed_step(state)
    # sharper choice concentrates on the user's best items
    util = sim.item_utility(state)
    assert float(util.gather(1, item[:, None]).mean()) > float(util.mean())


def test_movielens_scenario_falls_within_the_real_spread(movielens_catalog):
    """The acceptance check of the fitted preset: every simulated statistic of self-directed
    timelines under ``movielens`` lies within the real 10th-90th percentile over users."""
    E = movielens_catalog.embeddings.numpy()
    seqs, _ = real_sequences(load_movielens(), movielens_catalog)
    summary = json.loads((Path(__file__).parents[2] / "docs" / "calibration.json").read_text())
    tau = summary["tau"]
    real = drift_stats(seqs, E, 5, 8, tau)
    pop = load_population("movielens", movielens_catalog)
    sim = drift_stats(
        simulated_sequences(make_scenario("movielens"), movielens_catalog, pop, 128, 100, 1), E, 5, 8, tau
    )
    inside = within_spread(real, sim)
    assert all(inside.values()), inside
    assert np.allclose(real.summary()["lag_cos"]["median"], summary["real"]["lag_cos"]["median"])


def test_calibrate_command_writes_its_outputs(movielens_catalog, tmp_path, capsys):
    args = ["calibrate", "--users", "16", "--steps", "20", "--beta", "10,40", "--drift", "0", "--shift", "0,0.1"]
    assert main([*args, "--out", str(tmp_path), "--no-progress", "--max-lag", "3"]) == 0
    printed = capsys.readouterr().out
    assert "fitted: beta=" in printed and "lag_cos[3] (median)" in printed
    s = json.loads((tmp_path / "summary.json").read_text())
    assert set(s["fitted"]) == {"beta", "drift_scale", "shift_hazard"}
    assert s["scenario"]["name"] == "movielens" and s["scenario"]["click"]["beta"] == s["fitted"]["beta"]
    assert len(s["real"]["lag_cos"]["median"]) == 3 and s["real"]["step_move"]["users"] == 671
    assert set(s["within_spread"]) >= {"step_move", "jump_rate", "lag_cos[1]"}
    assert json.loads((tmp_path / "movielens_scenario.json").read_text()) == s["scenario"]
    assert (tmp_path / "calibration.png").stat().st_size > 20_000
    assert len((tmp_path / "grid.csv").read_text().splitlines()) == 1 + 4


@pytest.mark.parametrize("kw", [{"block": 0}, {"beta": ()}])
def test_calibrate_config_rejects_bad_settings(kw):
    from driftrec.experiments.online.calibrate import CalibrateConfig

    with pytest.raises(ValueError):
        CalibrateConfig(**kw)


def test_preset_holds_the_recorded_fit():
    from driftrec.simulators.scenarios import MOVIELENS_FIT

    recorded = json.loads((Path(__file__).parents[2] / "docs" / "calibration.json").read_text())
    assert recorded["fitted"] == MOVIELENS_FIT
    sc = make_scenario("movielens")
    assert (sc.click.beta, sc.user.drift_scale, sc.user.shift_hazard) == tuple(MOVIELENS_FIT.values())


def test_a_written_scenario_file_runs_like_the_preset(tmp_path, capsys):
    from driftrec.simulators import Scenario

    path = tmp_path / "movielens_scenario.json"
    path.write_text(json.dumps(make_scenario("movielens").to_dict()))
    assert make_scenario(str(path)) == make_scenario("movielens")
    assert Scenario.from_dict({"user": {"drift_scale": 0.1}}).user.drift_scale == 0.1
    argv = ["simulate", "--scenario", str(path), "--users", "4", "--steps", "3", "--seeds", "1", "--agents", "fixed"]
    assert main([*argv, "--catalog", "synthetic", "--no-progress", "--out", str(tmp_path / "o")]) == 0
    assert str(path) in json.loads((tmp_path / "o" / "summary.json").read_text())["results"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not valid JSON"),
        ('{"user": {"drift": 1}}', r"unknown user parameters \['drift'\]"),
        ('{"colour": 1}', r"unknown scenario keys \['colour'\]"),
        ('{"user": {"shift_hazard": 2}}', "shift_hazard=2 is outside the allowed range"),
        ("[1, 2]", "a scenario must be a JSON object"),
    ],
)
def test_bad_scenario_files(tmp_path, content, message):
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises((ValueError, TypeError), match=message):
        make_scenario(str(path))
    with pytest.raises(FileNotFoundError, match="no such scenario file"):
        make_scenario(str(tmp_path / "missing.json"))


def test_calibrate_recovers_the_drift_and_shifts_of_a_generated_log(tmp_path, capsys):
    """A log generated by the simulator with known parameters, written as a user's file with its
    catalog file, is fitted back to those parameters."""
    import json

    import pandas as pd

    from driftrec.envs import default_catalog
    from driftrec.experiments.cli.main import main
    from driftrec.experiments.online.calibrate import simulated_sequences
    from driftrec.simulators.scenarios import make_scenario

    catalog = default_catalog(500, 32)
    items = pd.DataFrame({"id": catalog.ids, "embedding": [json.dumps(v) for v in catalog.embeddings.tolist()]})
    items.to_csv(tmp_path / "items.csv", index=False)
    truth = {"drift_scale": 0.2, "shift_hazard": 0.05}
    scenario = make_scenario("stable").replace(beta=20.0, **truth)
    seqs = simulated_sequences(scenario, catalog, None, users=160, steps=60, seed=77)
    log = [(f"u{u}", catalog.ids[i], 1_600_000_000 + 3600 * t) for u, s in enumerate(seqs) for t, i in enumerate(s)]
    pd.DataFrame(log, columns=["member", "product", "time"]).to_csv(tmp_path / "shop.csv", index=False)
    argv = ["calibrate", "--timelines", str(tmp_path / "shop.csv"), "--catalog", str(tmp_path / "items.csv"),
            "--columns", "user=member,item=product,timestamp=time", "--transform", "none", "--population", "items",
            "--beta", "20", "--drift", "0,0.1,0.2,0.3", "--shift", "0,0.02,0.05,0.1", "--steps", "60",
            "--out", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["fitted"] == {"beta": 20.0, **truth}
    assert json.loads((tmp_path / "out" / "shop_scenario.json").read_text())["name"] == "shop"
    assert "wrote" in capsys.readouterr().out


def test_calibrate_on_a_log_needs_its_catalog(tmp_path, capsys):
    from driftrec.experiments.cli.main import main

    (tmp_path / "log.csv").write_text("user,item,timestamp\n1,a,1\n")
    assert main(["calibrate", "--timelines", str(tmp_path / "log.csv"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--timelines FILE needs --catalog" in err
