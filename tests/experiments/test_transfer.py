"""A policy evaluated away from its training scenario or catalog is marked, never silent."""

from __future__ import annotations

import pytest

from driftrec.envs import default_catalog
from driftrec.experiments.online.runner import SimulateConfig, format_metrics_table, format_table, simulate
from driftrec.experiments.online.train import TrainConfig, train
from driftrec.experiments.online.transfer import describe_catalog, transfer, transfer_notes


@pytest.fixture(scope="module")
def policy(tmp_path_factory, small_catalog):
    out = tmp_path_factory.mktemp("policy")
    cfg = TrainConfig(
        scenario="abrupt", users=8, timesteps=128, items=200, dim=32, hyper={"n_steps": 8, "batch_size": 32}
    )
    agent = train(cfg, out, progress=False, tensorboard=False, catalog=small_catalog)
    return out / "policy.zip", agent.config


def test_the_training_record_names_scenario_and_catalog(policy, small_catalog):
    _, config = policy
    assert config["scenario_params"]["user"]["shift_hazard"] > 0
    assert config["catalog_meta"]["digest"] == describe_catalog(small_catalog)["digest"]
    assert transfer(config, "abrupt", small_catalog) is None
    moved = transfer(config, "abrupt", small_catalog, {"shift_hazard": 0.2})
    assert moved["differs"] == ["scenario"]  # the same name with other parameters is another scenario
    other = default_catalog(300, 32)
    moved = transfer(config, "stable", other)
    assert moved["differs"] == ["scenario", "catalog"]
    assert moved["trained_on"].startswith("abrupt on synthetic (200 items, 32 dims")
    assert moved["evaluated_on"].startswith("stable on synthetic (300 items, 32 dims")
    assert "ppo (transfer) on stable: trained on abrupt" in transfer_notes({"stable": {"ppo": moved}})
    assert transfer({}, "abrupt", small_catalog)["differs"] == ["unknown"]


def test_simulate_marks_a_transferred_policy_in_its_tables(policy, small_catalog):
    path, _ = policy
    cfg = SimulateConfig(["abrupt", "stable"], ["fixed", "ppo"], users=4, steps=5, seeds=[1, 2], policy=str(path))
    res = simulate(cfg, progress=False, catalog=small_catalog)
    assert res.results["abrupt"]["ppo"]["transfer"] is None
    assert res.results["stable"]["ppo"]["transfer"]["differs"] == ["scenario"]
    for table in (format_table(res.results), format_metrics_table(res.results)):
        assert "stable    ppo (transfer)" in table and "abrupt    ppo (transfer)" not in table


def test_a_stacked_vecenv_steps_each_env_as_alone(small_catalog):
    import numpy as np

    from driftrec.envs import DriftVecEnv
    from driftrec.envs.sb3 import SB3VecEnv

    def make():
        return [
            DriftVecEnv("abrupt", 3, catalog=small_catalog, array="torch"),
            DriftVecEnv("stable", 2, catalog=small_catalog, array="torch"),
        ]

    both, alone = SB3VecEnv(make()), [SB3VecEnv([e]) for e in make()]
    both.seed(5)
    alone[0].seed(5)
    alone[1].seed(8)  # SB3 seeds env i with seed + i: the second block starts at 5 + 3
    obs = both.reset()
    assert np.array_equal(obs, np.concatenate([a.reset() for a in alone]))
    rng = np.random.default_rng(0)
    for _ in range(4):
        act = rng.uniform(-1, 1, (5, 3)).astype(np.float32)
        o, r, d, _ = both.step(act)
        parts = [alone[0].step(act[:3]), alone[1].step(act[3:])]
        assert np.array_equal(o, np.concatenate([p[0] for p in parts]))
        assert np.array_equal(r, np.concatenate([p[1] for p in parts]))


def test_one_policy_trains_on_a_mixture_and_is_at_home_on_each_part(tmp_path, small_catalog):
    cfg = TrainConfig(scenario="abrupt,stable", users=9, timesteps=144, hyper={"n_steps": 8, "batch_size": 36})
    assert [(s, c, n) for s, c, n in cfg.components] == [("abrupt", "synthetic", 5), ("stable", "synthetic", 4)]
    agent = train(cfg, None, progress=False, tensorboard=False, catalog=small_catalog)
    parts = agent.config["components"]
    assert [p["scenario"] for p in parts] == ["abrupt", "stable"] and [p["users"] for p in parts] == [5, 4]
    assert transfer(agent.config, "abrupt", small_catalog) is None
    assert transfer(agent.config, "stable", small_catalog) is None
    moved = transfer(agent.config, "missions", small_catalog)
    assert moved["differs"] == ["scenario"] and moved["trained_on"].startswith("a mixture of 2: abrupt on")
    with pytest.raises(ValueError, match="must be one name or distinct comma-separated names"):
        TrainConfig(scenario="abrupt,abrupt")
    with pytest.raises(ValueError, match="needs at least that many users"):
        TrainConfig(scenario="abrupt,stable,missions", users=2)


def test_the_transfer_study_reuses_a_policy_only_when_the_same_settings_made_it(tmp_path, monkeypatch):
    from driftrec.experiments.studies import transfer_study

    trained = []

    def fake_train(cfg, out, progress=False, tensorboard=False):
        trained.append(cfg.catalog)
        out.mkdir(parents=True, exist_ok=True)
        (out / "policy.zip").write_bytes(b"policy")

    class Result:
        results = {"abrupt": {"ppo": {"mean": 0.2, "diff_vs_best_fixed": {"mean": 0.1, "ci95": [0.0, 0.2]}},
                              "best-fixed": {"mean": 0.18}}}  # fmt: skip

    monkeypatch.setattr(transfer_study, "train", fake_train)
    monkeypatch.setattr(transfer_study, "compare", lambda cfg, out, progress=False: Result())
    transfer_study.study(tmp_path, timesteps=2048, progress=False)
    assert trained == ["synthetic", "movielens", "synthetic,movielens"]
    transfer_study.study(tmp_path, timesteps=2048, progress=False)
    assert len(trained) == 3  # same settings, same source: reused
    transfer_study.study(tmp_path, timesteps=4096, progress=False)
    assert len(trained) == 6  # other settings: retrained, not the stale policies
    (tmp_path / "train_movielens" / "made_by.json").write_text("{not json")
    transfer_study.study(tmp_path, timesteps=4096, progress=False)
    assert trained[6:] == ["movielens"]
