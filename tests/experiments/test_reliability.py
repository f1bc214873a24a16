"""Reliability: soak checks, and a PPO training killed mid-run resumes from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from driftrec.envs import DriftVecEnv
from driftrec.experiments.cli.main import main
from driftrec.experiments.diagnostics.soak import SoakConfig, check_state, soak_preset

CLI = "import sys; from driftrec.experiments.cli.main import main; sys.exit(main(sys.argv[1:]))"


def test_soak_runs_every_preset_and_its_checks_catch_damage(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["soak", "--user-steps", "2048", "--users", "64", "--items", "200", "--dim", "16",
                 "--out", str(tmp_path), "--no-progress"]) == 0  # fmt: skip
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] and len(summary["presets"]) == 7
    for row in summary["presets"]:
        assert row["user_steps"] == 2048 and row["nonfinite"] == 0 and row["norm_err"] < 1e-4
        assert row["rss_end_mib"] > 0
    assert "movielens" in capsys.readouterr().out

    env = DriftVecEnv("mixed", 8, catalog=None, array="torch")
    env.reset(seed=0)
    assert check_state(env.state)["nonfinite"] == 0
    with torch.inference_mode():  # the env's state tensors are inference tensors
        env.state.rec.short[3, 0] = float("nan")
        env.state.user.intent[2] *= 1.01
    bad = check_state(env.state)
    assert bad["nonfinite"] == 1 and bad["norm_err"] == pytest.approx(0.01, rel=1e-3)
    with pytest.raises(ValueError, match="user_steps=0 is not allowed; it must be >= 1"):
        SoakConfig(user_steps=0)
    row = soak_preset("abrupt", SoakConfig(user_steps=640, users=64, items=200, dim=16, tolerance=1e-9))
    assert row["steps"] == 10 and not row["ok"], "float32 norms are not within 1e-9: the check must fail"


@pytest.mark.slow
def test_killed_training_resumes_from_its_latest_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "train"
    args = ["train", "--timesteps", "32768", "--users", "64", "--checkpoint-every", "4096", "--items", "200",
            "--dim", "16", "--ppo", "batch_size=512", "--device", "cpu", "--no-tensorboard", "--no-progress",
            "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", CLI, *args], start_new_session=True)
    deadline = time.time() + 240
    while not list((out / "checkpoints").glob("step_*.zip")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    checkpoints = sorted((out / "checkpoints").glob("step_*.zip"))
    assert checkpoints and not (out / "policy.zip").exists(), "killed after a checkpoint, before the end"
    done = subprocess.run([sys.executable, "-c", CLI, *args, "--resume", "latest"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"resuming from {checkpoints[-1]}" in done.stdout
    record = json.loads((out / "train.json").read_text())
    assert record["num_timesteps"] == 32768 and record["resumed_from"] == str(checkpoints[-1])
    fresh = subprocess.run(
        [sys.executable, "-c", CLI, *args[:-1], str(tmp_path / "other"), "--resume", "latest"],
        capture_output=True,
        text=True,
    )
    assert fresh.returncode == 2 and "--resume latest: no checkpoint in" in fresh.stderr
