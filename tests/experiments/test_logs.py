"""Trajectory logs, their propensities, loaders with schema checks, and off-policy evaluation of them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from driftrec.experiments.cli.main import main
from driftrec.experiments.offline.feedback import bts_action_dist, load_obd, read_bts_priors
from driftrec.experiments.offline.offpolicy import estimate, prepare
from driftrec.experiments.offline.ope import InverseProbabilityWeighting, SlateIndependentIPS
from driftrec.experiments.offline.trajectories import (
    LOG_COLUMNS,
    LogConfig,
    check_log,
    load_log,
    parse_target,
    simulate_log,
    write_log,
)
from driftrec.experiments.offline.validation import validate
from driftrec.simulators import recommender
from driftrec.simulators.rng import CounterRNG

OBD = Path(__file__).resolve().parents[1] / "data" / "obd"
SMALL = dict(users=32, steps=12, items=60, dim=16)


def _draws(n: int, t: int = 0):
    return CounterRNG.from_seeds(list(range(n))).at(torch.full((n,), t))


@pytest.mark.parametrize("mode", ["slate", "slot"])
def test_propensities_are_the_empirical_position_frequencies(mode):
    n, m, k = 40_000, 12, 3
    greedy = torch.tensor([[4, 7, 1]]).expand(n, k)
    eps = torch.full((n,), 0.4)
    if mode == "slate":
        items, _, pscore = recommender.explore_slates(greedy, eps, m, _draws(n))
    else:
        items, _, pscore = recommender.explore(greedy, eps, m, _draws(n))
    srt = items.sort(1).values
    assert not bool((srt[:, 1:] == srt[:, :-1]).any()), "a slate repeated an item"
    # the pscore the policy reports equals the marginal probability computed for any item
    assert torch.allclose(pscore, recommender.slate_propensity(greedy, eps, items, m, mode))
    every = torch.arange(m).view(1, m, 1).expand(1, m, k)
    for j in range(k):
        freq = torch.bincount(items[:, j], minlength=m).double() / n
        want = recommender.slate_propensity(
            greedy[:1].expand(m, k), eps[:m], every[0, :, j : j + 1].expand(m, k), m, mode
        )
        assert torch.allclose(freq, want[:, j].double(), atol=0.01), (j, freq, want[:, j])
    if mode == "slate":  # full support: every item at every position
        assert bool((recommender.slate_propensity(greedy[:1].expand(m, k), eps[:m], every[0], m, mode) > 0).all())


def test_a_log_round_trips_through_parquet(tmp_path):
    cfg = LogConfig(**SMALL, seed=3)
    run = simulate_log(cfg)
    f = run.frame
    assert list(f.columns) == list(LOG_COLUMNS)
    assert len(f) == 32 * 12 * 10 and f.slate_id.nunique() == 32 * 12
    assert set(f.position.unique()) == set(range(10)) and f.pscore.between(0, 1, inclusive="right").all()
    assert (np.isclose(f.pscore, 0.7 + 0.3 / 60) | np.isclose(f.pscore, 0.3 / 60)).all()
    path = write_log(tmp_path / "log.parquet", run)
    assert [p.name for p in tmp_path.iterdir()] == ["log.parquet"]  # no temporary file left behind
    fb, meta = load_log(path)
    assert meta["config"] == cfg.to_dict() | {"fixed_weights": list(cfg.fixed_weights)}
    assert (fb.n_actions, fb.len_list) == (60, 10)
    np.testing.assert_array_equal(fb.action, f.action.to_numpy())
    np.testing.assert_array_equal(fb.reward, f.reward.to_numpy())
    assert fb.context.shape == (len(f), 11)
    assert simulate_log(cfg).frame.equals(f)  # same seed, same log


@pytest.mark.parametrize("mode", ["slate", "softmax"])
def test_a_target_equal_to_the_logging_policy_gets_its_propensities_and_value(mode):
    cfg = LogConfig(**SMALL, seed=4, explore_mode=mode)
    same = parse_target("same:alpha=0.3,mix=0.7,explore=0.3")
    run = simulate_log(cfg, [same, parse_target("other:alpha=0.9,mix=0.2,explore=0.1")], truth=True)
    np.testing.assert_allclose(run.target_pscore["same"], run.frame.pscore.to_numpy(), rtol=1e-6)
    assert run.target_truth["same"] == pytest.approx(run.logged_truth, rel=1e-6)
    assert not np.allclose(run.target_pscore["other"], run.frame.pscore.to_numpy())
    # the logging policy's true value is what its clicks average to, within noise
    assert run.frame.reward.sum() / (32 * 12) == pytest.approx(run.logged_truth, rel=0.15)


def test_offpolicy_estimates_track_the_simulators_truth():
    cfg = LogConfig(users=128, steps=40, items=100, seed=50)
    targets = [parse_target("fast:alpha=0.7,mix=0.7,explore=0.1"), parse_target("slow:alpha=0.05,explore=0.1")]
    v = validate(cfg, targets, reps=3, n_bootstrap_samples=200)
    s = v.summary
    assert set(s.estimator) == {"ipw", "snipw", "dr"} and len(v.reps) == 3 * 2 * 3
    assert (s.mean_abs_rel_error < 0.15).all(), s
    assert (s.coverage >= 2 / 3).all(), s
    assert np.isfinite(v.live.live).all() and (v.live.live > 0).all()


def test_slate_ips_is_k_times_row_ips_with_slate_bootstrap():
    run = simulate_log(LogConfig(**SMALL, seed=5), [parse_target("t:alpha=0.6")])
    fb = run.feedback()
    pi = run.target_pscore["t"]
    row = InverseProbabilityWeighting().estimate_policy_value(
        reward=fb.reward, action=fb.action, position=fb.position, pscore=fb.pscore, evaluation_policy_pscore=pi
    )
    kw = dict(
        slate_id=fb.slate_id,
        reward=fb.reward,
        position=fb.position,
        pscore_item_position=fb.pscore,
        evaluation_policy_pscore_item_position=pi,
    )
    assert SlateIndependentIPS().estimate_policy_value(**kw) == pytest.approx(10 * row)
    ci = SlateIndependentIPS().estimate_interval(**kw, n_bootstrap_samples=200, random_state=0)
    assert ci["95.0% CI (lower)"] < 10 * row < ci["95.0% CI (upper)"]
    with pytest.raises(ValueError, match="slate_id is required"):
        SlateIndependentIPS().estimate_policy_value(**{**kw, "slate_id": None})


@pytest.mark.parametrize("mode", ["slate", "softmax"])
def test_ope_on_a_driftrec_log_recreates_the_run_and_rejects_edited_logs(tmp_path, mode):
    cfg = LogConfig(**SMALL, seed=6, explore_mode=mode)
    path = write_log(tmp_path / "log.parquet", simulate_log(cfg))
    log = prepare(path, ["t:alpha=0.6,mix=0.5,explore=0.2", "logged"])
    direct = simulate_log(cfg, [parse_target("t:alpha=0.6,mix=0.5,explore=0.2")])
    np.testing.assert_array_equal(log.targets[0].pi, direct.target_pscore["t"])
    table = estimate(log, ["ipw", "dm"], n_bootstrap_samples=100)
    logged = table[(table.policy == "logged") & (table.estimator == "ipw")].estimate.item()
    assert logged == pytest.approx(direct.frame.reward.sum() / (32 * 12))
    edited = direct.frame.copy()
    edited.loc[7, "reward"] = 1.0 - edited.loc[7, "reward"]
    direct.frame = edited
    write_log(tmp_path / "edited.parquet", direct)
    with pytest.raises(ValueError, match="column reward at row 7"):
        prepare(tmp_path / "edited.parquet", ["t:alpha=0.6"])


def _valid_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "slate_id": [0, 0, 1, 1],
            "position": [0, 1, 0, 1],
            "action": [3, 5, 2, 3],
            "reward": [0.0, 1.0, 0.0, 0.0],
            "pscore": [0.5, 0.25, 0.5, 0.25],
        }
    )


def _mutate(**cols):
    f = _valid_frame()
    for k, v in cols.items():
        if v is None:
            f = f.drop(columns=k)
        else:
            f[k] = pd.Series(v, dtype=object) if any(isinstance(x, str) for x in v) else v
    return f


MALFORMED = [
    ("missing pscore", _mutate(pscore=None), r"lacks the column\(s\) pscore"),
    (
        "pscore 0",
        _mutate(pscore=[0.5, 0.0, 0.5, 0.5]),
        r"column pscore is 0.0 at row 1; a propensity must be in \(0, 1\]",
    ),
    ("pscore above 1", _mutate(pscore=[0.5, 0.5, 1.2, 0.5]), r"column pscore is 1.2 at row 2"),
    ("NaN pscore", _mutate(pscore=[0.5, 0.5, 0.5, np.nan]), "column pscore is missing, NaN or infinite at row 3"),
    ("NaN reward", _mutate(reward=[0.0, np.nan, 0.0, 0.0]), "column reward is missing, NaN or infinite at row 1"),
    ("text action", _mutate(action=[3, "x", 2, 3]), "column action holds 'x' at row 1; it must be numeric"),
    ("fractional position", _mutate(position=[0, 1.5, 0, 1]), "column position is 1.5 at row 1; it must be an integer"),
    ("negative action", _mutate(action=[3, 5, -1, 3]), "column action is -1.0 at row 2; it must be an integer >= 0"),
    ("empty", _valid_frame().iloc[:0], "has no rows"),
]


@pytest.mark.parametrize("frame, message", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_logs_give_clear_errors(tmp_path, frame, message):
    with pytest.raises(ValueError, match=message):
        check_log(frame, "log.csv")
    frame.to_csv(tmp_path / "log.csv", index=False)  # and through the file loader and the CLI
    with pytest.raises(ValueError, match=message):
        load_log(tmp_path / "log.csv")
    err = tmp_path / "err"
    assert main(["ope", "--logs", str(tmp_path / "log.csv"), "--target", "uniform", "--out", str(err)]) == 2
    assert not err.exists()


def test_log_file_errors(tmp_path):
    (tmp_path / "log.txt").write_text("x")
    with pytest.raises(ValueError, match="unknown file type '.txt'"):
        load_log(tmp_path / "log.txt")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="is not a readable parquet file"):
        load_log(tmp_path / "bad.parquet")
    with pytest.raises(FileNotFoundError, match="no such log file"):
        load_log(tmp_path / "none.parquet")
    _valid_frame().to_csv(tmp_path / "log.csv", index=False)
    with pytest.raises(ValueError, match="column mapping action=item_id: the file has no column 'item_id'"):
        load_log(tmp_path / "log.csv", columns={"action": "item_id"})
    with pytest.raises(ValueError, match="column mapping names 'clicks', which is not a log column"):
        load_log(tmp_path / "log.csv", columns={"clicks": "reward"})
    with pytest.raises(ValueError, match="explore nothing"):
        LogConfig(fixed_weights=(0.3, 0.7, 0.0))
    with pytest.raises(ValueError, match="cannot log"):
        LogConfig(agent="linucb")
    with pytest.raises(ValueError, match="not alpha=, mix= or explore="):
        parse_target("x:speed=3")


def test_a_foreign_table_with_a_column_mapping_gives_the_obd_figure(tmp_path, capsys):
    fb = load_obd(OBD / "random" / "all")
    alpha, beta = read_bts_priors(OBD / "prior_bts_all.yaml")
    dist = bts_action_dist(alpha, beta, fb.len_list)
    table = pd.DataFrame(
        {
            "item": fb.action,
            "slot": fb.position + 1,
            "click": fb.reward.astype(int),
            "prop": fb.pscore,
            "bts_prob": dist[fb.action, fb.position],
        }
    )
    table.to_parquet(tmp_path / "mine.parquet")
    args = ["ope", "--logs", str(tmp_path / "mine.parquet"), "--out", str(tmp_path / "out"), "--no-progress"]
    args += ["--columns", "action=item,position=slot,reward=click,pscore=prop", "--first-position", "1"]
    assert main([*args, "--policy", "column:bts_prob", "--policy", "logged", "--estimators", "ipw"]) == 0
    out = capsys.readouterr().out
    assert "table log" in out and "bts_prob  ipw         0.00455" in out
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"summary.json", "estimates.csv", "estimates.png"}


def test_log_and_ope_commands(tmp_path, capsys):
    log = tmp_path / "log.parquet"
    args = ["--users", "16", "--steps", "8", "--items", "50", "--dim", "16", "--no-progress"]
    assert main(["log", "--out", str(log), *args]) == 0
    assert "1,280 rows (128 slates of 10)" in capsys.readouterr().out
    out = tmp_path / "ope"
    assert main(["ope", "--logs", str(log), "--target", "a:alpha=0.6", "--out", str(out), "--bootstrap", "50"]) == 0
    text = capsys.readouterr().out
    assert "estimates (clicks per slate)" in text and "a       dr" in text
    one = ["ope", "--logs", str(log), "--target", "logged", "--estimators", "ipw", "--out", str(tmp_path / "one")]
    assert main(one) == 0 and (tmp_path / "one" / "estimates.png").exists()  # a one-row plot
    # OBD: the priors beside the log are found; a lone copy of the log needs --priors
    assert main(["ope", "--logs", str(OBD / "random" / "all"), "--out", str(out), "--bootstrap", "50"]) == 0
    assert "bts     ipw         0.00455" in capsys.readouterr().out
    lone = tmp_path / "random" / "all"
    lone.mkdir(parents=True)
    (lone / "all.csv").write_bytes((OBD / "random" / "all" / "all.csv").read_bytes())
    assert main(["ope", "--logs", str(lone), "--out", str(out), "--bootstrap", "50"]) == 2
    assert "needs the BTS priors: pass --priors FILE" in capsys.readouterr().err
    assert main(["log", "--out", str(tmp_path / "log.csv"), *args]) == 2
    assert "must be a .parquet file" in capsys.readouterr().err
    assert main(["ope", "--out", str(out)]) == 2
    assert "give --logs FILE" in capsys.readouterr().err
    assert main(["ope", "--logs", str(log), "--out", str(out)]) == 2
    assert "give at least one target policy" in capsys.readouterr().err
    obd = str(OBD / "random" / "all")
    for logs, policy, message in [
        (obd, "column:p", "column targets are for tables; obd logs take other targets"),
        (str(log), "column:p", "column targets are for tables; driftrec logs"),
        (obd, "alpha=0.3", "target policy 'alpha=0.3' is unknown for obd logs; allowed: bts, uniform, logged"),
        (str(log), "bts", "target 'bts' is OBD's Thompson Sampling policy"),
    ]:
        assert main(["ope", "--logs", logs, "--target", policy, "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert os.path.exists(out / "estimates.png")


def test_ope_warns_about_a_slot_mode_log(tmp_path, capsys):
    from driftrec.experiments.cli.main import main

    small = ["--users", "8", "--steps", "5", "--items", "100", "--dim", "16", "--no-progress"]
    for mode in ("slot", "slate"):
        log = tmp_path / f"{mode}.parquet"
        assert main(["log", "--explore-mode", mode, *small, "--out", str(log)]) == 0
        capsys.readouterr()
        ope = ["ope", "--logs", str(log), "--target", "logged", "--out", str(tmp_path / mode), "--no-progress"]
        assert main(ope) == 0
        warned = "was logged with explore_mode=slot" in capsys.readouterr().err
        assert warned == (mode == "slot")


def test_a_killed_writers_temporary_file_is_cleaned_by_the_next_write(tmp_path):
    """issue 18, finding 15: a `driftrec log` killed before its rename left `.log.parquet.*.tmp`
    behind for good. The next write of the same file removes it; a live writer's is kept."""
    import subprocess
    import sys

    from driftrec.encoders.atomic import _HOST
    from driftrec.experiments.cli.main import main

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process id that no longer exists, as a killed writer's
    log = tmp_path / "log.parquet"
    stray = tmp_path / f".log.parquet.{_HOST}-{gone.pid}.k1ll3d.tmp"
    live = tmp_path / f".log.parquet.{_HOST}-{os.getpid()}.writing.tmp"
    other_host = tmp_path / f".log.parquet.elsewhere-{gone.pid}.theirs.tmp"
    for f in (stray, live, other_host):
        f.write_bytes(b"half a parquet file")
    args = ["--users", "4", "--steps", "3", "--items", "50", "--dim", "16", "--no-progress"]
    assert main(["log", "--out", str(log), *args]) == 0
    assert log.is_file() and not stray.exists() and live.exists() and other_host.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p not in (live, other_host)]
