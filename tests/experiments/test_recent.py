"""Drift-aware estimators (``offline.recent``): known answers, bad input, and the simulator check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftrec.agents import FixedWeights
from driftrec.experiments.cli.main import main
from driftrec.experiments.offline import offpolicy
from driftrec.experiments.offline.feedback import load_obd
from driftrec.experiments.offline.ope import InverseProbabilityWeighting
from driftrec.experiments.offline.recent import RecencyWeighted, make_recent, recency_kernel
from driftrec.experiments.offline.trajectories import LogConfig
from driftrec.experiments.offline.validation import validate

REPO = Path(__file__).resolve().parents[2]
# six rows at times 0, 0, 1, 1, 2, 2: reward r, logging propensity p, target propensity pi (w = pi / p)
TINY = {
    "reward": np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0]),
    "action": np.zeros(6, dtype=np.int64),
    "pscore": np.array([0.5, 0.5, 0.25, 0.5, 0.5, 0.25]),
    "evaluation_policy_pscore": np.array([0.5, 1.0, 0.5, 0.25, 1.0, 0.5]),
    "timestamp": np.array([0.0, 0.0, 1.0, 1.0, 2.0, 2.0]),
}
# w = 1, 2, 2, 0.5, 2, 2; r * w = 1, 0, 2, 0.5, 0, 2


@pytest.mark.parametrize(
    ("name", "window", "half_life", "want"),
    [
        ("sw-ipw", 2, 10, (2 + 0.5 + 0 + 2) / 4),  # the rows at t = 1, 2
        ("sw-snipw", 2, 10, (2 + 0.5 + 0 + 2) / (2 + 0.5 + 2 + 2)),
        ("sw-ipw", 1, 10, (0 + 2) / 2),  # the last step alone
        ("sw-ipw", 100, 10, (1 + 0 + 2 + 0.5 + 0 + 2) / 6),  # the whole log: plain IPS
        ("decay-ipw", 2, 1, (0.25 * 1 + 0.5 * 2.5 + 1 * 2) / (0.25 * 2 + 0.5 * 2 + 1 * 2)),
        ("decay-snipw", 2, 1, (0.25 * 1 + 0.5 * 2.5 + 2) / (0.25 * 3 + 0.5 * 2.5 + 1 * 4)),
    ],
)
def test_recency_weighted_estimators_recover_hand_computed_values(name, window, half_life, want) -> None:
    est = make_recent(name, window, half_life)
    assert est.estimate_policy_value(**TINY) == pytest.approx(want, rel=1e-12)
    ci = est.estimate_interval(n_bootstrap_samples=200, random_state=0, **TINY)
    assert ci["95.0% CI (lower)"] <= ci["95.0% CI (upper)"]


def test_a_long_half_life_is_plain_ips_and_the_kernel_has_its_shape() -> None:
    plain = InverseProbabilityWeighting().estimate_policy_value(**{k: v for k, v in TINY.items() if k != "timestamp"})
    assert make_recent("decay-ipw", 1, 1e12).estimate_policy_value(**TINY) == pytest.approx(plain, rel=1e-9)
    t = np.array([0.0, 5.0, 9.0, 10.0])
    np.testing.assert_allclose(recency_kernel(t, half_life=5), [0.25, 0.5, 2**-0.2, 1.0])
    np.testing.assert_array_equal(recency_kernel(t, window=5), [0, 0, 1, 1])


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: RecencyWeighted(InverseProbabilityWeighting()), "give exactly one of window"),
        (lambda: RecencyWeighted(InverseProbabilityWeighting(), window=2, half_life=2), "give exactly one of window"),
        (lambda: make_recent("sw-ipw", 0, 10), r"window=0 is outside the allowed range \(0.0, inf\]"),
        (lambda: make_recent("decay-ipw", 2, -1.0), r"half_life=-1.0 is outside the allowed range"),
        (lambda: make_recent("sw-dr", 2, 2), "drift-aware estimator 'sw-dr' unknown; allowed: sw-ipw"),
        (lambda: make_recent("sw-ipw", 2, 2).estimate_policy_value(**{**TINY, "timestamp": None}), "needs timestamp"),
        (
            lambda: make_recent("sw-ipw", 2, 2).estimate_policy_value(**{**TINY, "timestamp": [0.0]}),
            "timestamp has 1 rows",
        ),
        (
            lambda: make_recent("sw-ipw", 2, 2).estimate_policy_value(**{**TINY, "timestamp": [0, 1, np.nan, 1, 2, 2]}),
            "timestamp has a NaN or infinite value at row 2",
        ),
    ],
)
def test_bad_recency_input_is_one_clear_error(build, match) -> None:
    with pytest.raises(ValueError, match=match):
        build()


def test_obd_rows_carry_hours_since_the_first_row(tmp_path: Path) -> None:
    head = pd.read_csv(REPO / "tests" / "data" / "obd" / "random" / "all" / "all.csv", index_col=0).head(3)
    head.insert(0, "timestamp", ["2019-11-24 00:00:34+00:00", "2019-11-24 01:30:34+00:00", "2019-11-25 00:00:34+00:00"])
    head.to_csv(tmp_path / "all.csv")
    fb = load_obd(tmp_path / "all.csv", n_actions=80)
    assert fb.time_unit == "hour"
    np.testing.assert_allclose(fb.timestamp, [0.0, 1.5, 24.0])
    head.loc[1, "timestamp"] = "yesterday"
    head.to_csv(tmp_path / "all.csv")
    with pytest.raises(ValueError, match=r"column timestamp is 'yesterday' at row 1, not a time"):
        load_obd(tmp_path / "all.csv", n_actions=80)


def test_drift_aware_estimates_from_a_log_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    log = tmp_path / "log.parquet"
    small = ["--catalog", "synthetic", "--items", "100", "--dim", "16", "--no-progress"]
    assert main(["log", *small, "--users", "16", "--steps", "20", "--out", str(log)]) == 0
    args = ["ope", "--logs", str(log), "--target", "a:alpha=0.6", "--estimators", "ipw,sw-ipw,decay-snipw",
            "--window", "5", "--half-life", "3", "--bootstrap", "50", "--no-progress",
            "--out", str(tmp_path / "ope")]  # fmt: skip
    assert main(args) == 0
    table = pd.read_csv(tmp_path / "ope" / "estimates.csv")
    assert list(table.estimator) == ["ipw", "sw-ipw", "decay-snipw"]
    summary = json.loads((tmp_path / "ope" / "summary.json").read_text())
    assert (summary["window"], summary["half_life"], summary["time_unit"]) == (5.0, 3.0, "step")
    prepared = offpolicy.prepare(log, ["a:alpha=0.6"])
    fb, pi = prepared.feedback, prepared.targets[0].pi
    last = fb.timestamp >= 15  # the window: the last 5 of 20 steps
    want = float((fb.reward[last] * pi[last] / fb.pscore[last]).mean()) * prepared.scale
    assert table.estimate[1] == pytest.approx(want, rel=1e-9)
    assert main([*args[:-2], "--window", "0", "--out", str(tmp_path / "bad")]) == 2
    assert re.search(r"window=0.0 is outside the allowed range", capsys.readouterr().err)


def test_on_drifting_users_the_recent_estimators_track_the_value_now() -> None:
    """abrupt's users drift away from their starting profiles, so a slow target's value falls over
    the log: the plain estimators, which average over it, miss its value at the end."""
    cfg = LogConfig(scenario="abrupt", fixed_weights=(0.3, 0.7, 0.5), users=128, steps=60, items=100, dim=16)
    slow = FixedWeights(0.05, 0.7, 0.1, name="slow")
    v = validate(cfg, [slow], 3, ["ipw", "snipw", "sw-ipw", "sw-snipw", "decay-snipw"], 100, truth="now",
                 window=10, half_life=8)  # fmt: skip
    err = v.summary.set_index("estimator").mean_abs_rel_error
    assert (v.reps.truth < v.reps.truth_logged).all()  # the value fell
    assert max(err["sw-ipw"], err["sw-snipw"], err["decay-snipw"]) < min(err["ipw"], err["snipw"])


def test_the_config_checks_the_truth_and_the_kernel() -> None:
    with pytest.raises(ValueError, match="truth='later' is not allowed; allowed: logged, now"):
        offpolicy.OPEConfig(truth="later")
    with pytest.raises(ValueError, match=r"half_life=0.0 is outside the allowed range \(0.0, inf\]"):
        offpolicy.OPEConfig(half_life=0.0)
