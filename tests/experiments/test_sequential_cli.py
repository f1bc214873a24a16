"""``driftrec ope --sequential``: on a log file, against the simulator, and its errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from driftrec.experiments.cli.main import main
from driftrec.experiments.cli.sequential import coverage_by_horizon, verdict_text
from driftrec.experiments.online.train import TrainConfig, train

LOG = ["--catalog", "synthetic", "--items", "100", "--dim", "16", "--users", "16", "--steps", "12", "--no-progress",
       "--fixed-weights", "0.3,0.7,0.3"]  # fmt: skip


@pytest.fixture(scope="module")
def noisy_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seq") / "log.parquet"
    assert main(["log", *LOG, "--weight-noise", "0.8", "--out", str(path)]) == 0
    return path


def test_sequential_estimates_from_a_log_file(noisy_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    on_policy = "same:alpha=0.3,mix=0.7,explore=0.3,noise=0.8"
    args = ["ope", "--sequential", "--logs", str(noisy_log), "--target", on_policy, "--target", "alpha=0.35",
            "--horizons", "4,12", "--bootstrap", "50", "--out", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "H = 12: 16 episodes" in out and "clicks over H" in out
    table = pd.read_csv(tmp_path / "sequential.csv")
    assert len(table) == 2 * 2 * 6 and set(table.horizon) == {4, 12}
    frame = pd.read_parquet(noisy_log)
    for h in (4, 12):
        mean_return = frame[frame.step < h].groupby("user").reward.sum().mean()
        same = table[(table.target == "same") & (table.horizon == h) & (table.estimator.isin(["tis", "snpdis"]))]
        assert same.value.to_numpy() == pytest.approx([mean_return] * 2, rel=1e-5)  # on-policy: weights 1
        assert (same.ess == 16).all()
    det = table[table.target == "alpha=0.35,mix=0.7,explore=0.05"]
    assert len(det) == 12 and (det.ess < 16).all()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["sequential"] and summary["horizons"] == [4, 12] and summary["bandwidth"] == 0.3


def test_a_trained_policy_is_a_named_target(noisy_log: Path, tmp_path: Path) -> None:
    train(TrainConfig(scenario="abrupt", users=16, timesteps=16 * 8 * 2, items=100, dim=16,
                      hyper={"n_steps": 8, "batch_size": 64}), tmp_path / "ppo", progress=False)  # fmt: skip
    policy = tmp_path / "ppo" / "policy.zip"
    args = ["ope", "--sequential", "--logs", str(noisy_log), "--target", f"v2:ppo:{policy},noise=0.8",
            "--target", f"ppo:{policy}", "--horizons", "3", "--bootstrap", "20", "--estimators", "snpdis",
            "--out", str(tmp_path / "ope"), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    table = pd.read_csv(tmp_path / "ope" / "sequential.csv")
    assert list(table.target) == ["v2", "ppo"] and table.value.notna().all()
    assert (table.ess > 0).all() and (table.ess <= 16).all()


def test_the_verdict_names_covering_estimators_per_target_and_skips_thin_ones() -> None:
    rows = [(10, "a", "tis", 0.95, 80.0), (10, "a", "snpdis", 0.85, 80.0), (10, "b", "tis", 0.9, 40.0),
            (10, "b", "snpdis", 1.0, 40.0), (50, "a", "tis", 1.0, 31.0), (50, "b", "tis", 1.0, 2.0)]  # fmt: skip
    summary = pd.DataFrame(rows, columns=["horizon", "target", "estimator", "coverage", "mean_ess"])
    verdict = coverage_by_horizon(summary)
    assert verdict == {"10": {"a": ["tis"], "b": ["tis", "snpdis"]}, "50": {"a": ["tis"], "b": None}}
    text = verdict_text(verdict)
    assert "H = 10: a: tis; b: tis, snpdis  -> every target above the floor: tis" in text
    assert "H = 50: a: tis; b: ESS below 30  -> every target above the floor (a): tis" in text


def test_sequential_validation_reports_coverage_against_the_live_runs(tmp_path: Path) -> None:
    args = ["ope", "--sequential", "--validate", *LOG, "--weight-noise", "1", "--reps", "2", "--horizons", "3,12",
            "--bootstrap", "50", "--estimators", "snpdis,dr", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    summary = pd.read_csv(tmp_path / "validation.csv")
    assert set(summary.target) == {"logging", "quicker"} and set(summary.estimator) == {"snpdis", "dr"}
    assert summary.coverage.between(0, 1).all() and (summary.live > 0).all()
    reps = pd.read_csv(tmp_path / "reps.csv")
    assert len(reps) == 2 * 2 * 2 * 2 and set(reps.seed) == {0, 1}
    assert (tmp_path / "validation.png").stat().st_size > 10_000
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert doc["config"]["weight_noise"] == 1.0 and doc["ess_floor"] == 30.0


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--validate", *LOG], "give --weight-noise S, e.g. 1"),
        (["--target", "alpha=0.3", "--horizons", "13"], r"horizon=13 is longer than every episode of the log"),
        (["--target", "alpha=0.3", "--estimators", "ipw"], r"--estimators ipw unknown with --sequential; allowed: tis"),
        (["--target", "alpha=0.3", "--horizons", "0"], r"horizon=0 is not allowed"),
        (["--target", "alpha=0.3,noise=2"], r"target 'alpha=0.3,mix=0.7,explore=0.05' scale=2.0 is outside"),
        (["--target", "a:alpha=0.3", "--target", "a:alpha=0.4"], r"target policies need distinct names"),
        ([], r"give at least one target policy with --target"),
        (["--target", "alpha=0.3", "--bandwidth", "0"], r"bandwidth=0.0 is outside the allowed range \(0.0, 1.0\]"),
    ],
)
def test_sequential_errors_are_one_clear_line(
    extra: list[str], match: str, noisy_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    logs = [] if "--validate" in extra else ["--logs", str(noisy_log)]
    assert main(["ope", "--sequential", *logs, *extra, "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(match, err[0]), err


def test_a_log_without_densities_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "plain.parquet"
    assert main(["log", *LOG, "--out", str(path)]) == 0
    assert main(["ope", "--sequential", "--logs", str(path), "--target", "alpha=0.3", "--out", str(tmp_path)]) == 2
    assert "make it with driftrec log --weight-noise S" in capsys.readouterr().err
