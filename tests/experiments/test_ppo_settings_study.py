"""The PPO-settings study: real (tiny) trainings and evaluations, paired on the same users."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftrec.experiments.common.stats import mean_ci95
from driftrec.experiments.studies import ppo_settings_study as study_mod


def tiny_base() -> dict[str, Any]:
    """The headline config at a size that trains and evaluates in a second or two."""
    return {
        **study_mod.headline_base(),
        "seeds": [101, 102, 103],
        "users": 16,
        "steps": 20,
        "items": 200,
        "dim": 16,
        "tuning": {
            "seeds": [9001],
            "users": 8,
            "steps": 10,
            "grid": {"alpha": [0.3, 0.9], "mix": [0.7], "explore": [0.05]},
        },
        "ppo": {"timesteps": 1024, "users": 16, "seed": 0, "hyper": {"batch_size": 256}},
    }


def test_the_headline_base_is_the_headlines_abrupt_with_ppo_only() -> None:
    base = study_mod.headline_base()
    assert base["scenarios"] == ["abrupt"] and base["agents"] == ["ppo"]
    assert base["ppo"]["users"] == 256 and base["ppo"]["timesteps"] == 2_000_000
    assert len(base["seeds"]) == 10


def test_the_headlines_own_settings_as_the_candidate_give_the_same_policy_and_a_zero_difference(tmp_path: Path) -> None:
    summary = study_mod.study(tmp_path, 16, {}, base=tiny_base(), progress=False)
    (run,) = summary["runs"]
    assert run["seed"] == 0 and summary["timesteps"] == 1024
    assert run["headline"]["per_seed"] == run["candidate"]["per_seed"]  # deterministic training
    assert run["diff"]["abs_ci95"] == [0.0, 0.0] and run["diff"]["worse"] is False
    assert "overall" not in summary  # one training seed
    assert json.loads((tmp_path / "ppo_settings.json").read_text()) == json.loads(json.dumps(summary))


def test_other_settings_are_compared_paired_on_the_same_held_out_seeds(tmp_path: Path) -> None:
    summary = study_mod.study(tmp_path, 32, {"n_steps": 8}, train_seeds=[3, 4], base=tiny_base(), progress=False)
    assert summary["candidate"] == {"users": 32, "hyper": {"batch_size": 256, "n_steps": 8}}
    assert summary["headline"] == {"users": 16, "hyper": {"batch_size": 256}}
    assert [r["seed"] for r in summary["runs"]] == [3, 4]
    for run in summary["runs"]:
        old, new = run["headline"], run["candidate"]
        assert set(old["per_seed"]) == set(new["per_seed"]) == {"101", "102", "103"}
        m, lo, hi = mean_ci95([new["per_seed"][s] - old["per_seed"][s] for s in old["per_seed"]])
        assert run["diff"]["abs_mean"] == pytest.approx(m) and run["diff"]["abs_ci95"] == pytest.approx([lo, hi])
        assert run["diff"]["mean"] == pytest.approx(m / old["mean"])
        assert run["diff"]["worse"] == (hi < 0)
        assert run["speedup"] == pytest.approx(new["user_steps_per_s"] / old["user_steps_per_s"])
        for side in (old, new):
            assert side["user_steps_per_s"] == pytest.approx(1024 / side["timing"]["learn_wall_s"])
            assert 0 < side["timing"]["env_share"] < 1
    speedups, diffs = [r["speedup"] for r in summary["runs"]], [r["diff"]["mean"] for r in summary["runs"]]
    m, lo, hi = mean_ci95(diffs)  # over training seeds, the independent units
    overall = summary["overall"]
    assert overall["speedup"] == pytest.approx(sum(speedups) / 2)
    assert overall["diff"]["mean"] == pytest.approx(m) and overall["diff"]["ci95"] == pytest.approx([lo, hi])
    assert overall["diff"]["worse"] == (hi < 0)
    table = study_mod.format_study(summary)
    assert table.count("\n") == 4 and table.splitlines()[-1].startswith("all")
    # two training seeds, two settings: four policies
    assert len(list(tmp_path.glob("seed_*/*/policy.zip"))) == 4


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--users", "0"], "users=0"),
        (["--ppo", "n_steps=0"], "n_steps"),
        (["--ppo", "bogus=1"], "bogus"),
        (["--train-seeds", "1,x"], "--train-seeds"),
        (["--train-seeds", "1,1"], "distinct"),
        (["--train-seeds", ""], "at least one"),
    ],
)
def test_bad_flags_are_one_clear_error_before_any_training(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        study_mod.main([*argv, "--out", str(tmp_path / "out"), "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_ppo_catalog_in_the_config_is_what_both_policies_train_on(tmp_path: Path, monkeypatch) -> None:
    seen = []

    class Stop(Exception):
        pass

    def record(cfg, *args, **kwargs):
        seen.append(cfg)
        raise Stop

    monkeypatch.setattr(study_mod, "train", record)
    base = tiny_base()
    base["ppo"] = {**base["ppo"], "catalog": "synthetic,movielens"}
    with pytest.raises(Stop):
        study_mod.study(tmp_path, 32, {}, base=base, progress=False)
    assert seen[0].catalog == "synthetic,movielens" and seen[0].items == 200 and seen[0].users == 16
