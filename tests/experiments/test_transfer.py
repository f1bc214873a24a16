"""A policy evaluated away from its training scenario or catalog is marked, never silent."""

from __future__ import annotations

import pytest

from driftrec.envs import default_catalog
from driftrec.experiments.runner import SimulateConfig, format_metrics_table, format_table, simulate
from driftrec.experiments.train import TrainConfig, train
from driftrec.experiments.transfer import describe_catalog, transfer, transfer_notes


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
