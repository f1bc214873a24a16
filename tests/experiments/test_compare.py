"""compare: batched seeds equal separate runs, paired statistics, shift alignment, configs, CLI."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from driftrec.agents import FixedWeights, PPOWeights
from driftrec.envs import DriftVecEnv
from driftrec.experiments.cli.main import main
from driftrec.experiments.common.stats import mean_ci95
from driftrec.experiments.online.compare import (
    POST,
    PRE,
    CompareConfig,
    Evaluation,
    aligned,
    compare,
    evaluate,
    format_compare_table,
    format_leaders,
    leaders,
    load_config,
    paired_summary,
)
from driftrec.simulators.rng import user_seeds


def test_seeds_side_by_side_equal_separate_runs(small_catalog):
    agent = FixedWeights(0.6, 1.0, 0.1)
    ev = evaluate("abrupt", agent, [4, 9], users=6, steps=12, catalog=small_catalog)
    for seed in (4, 9):
        env = DriftVecEnv("abrupt", 6, catalog=small_catalog, array="torch")
        env.reset(seed=user_seeds(seed, 6))
        total = sum(float(env.step(torch.tensor([0.6, 1.0, 0.1]))[1].sum()) for _ in range(12))
        assert ev.per_seed[seed] == pytest.approx(total / (6 * 12), abs=1e-6)
    assert ev.curves.shape == (2, 12) and ev.weights.shape == (12, 3)
    assert torch.allclose(ev.weights, torch.tensor([0.6, 1.0, 0.1]).expand(12, 3))


def test_shift_flags_follow_the_scenario(small_catalog):
    for scenario, overrides, expected in (("stable", {}, 0.0), ("abrupt", {"shift_hazard": 1.0}, 0.9)):
        env = DriftVecEnv(scenario, 64, catalog=small_catalog, reveal_shifts=True, **overrides, array="torch")
        env.reset(seed=0)
        rate = sum(float(env.step(torch.tensor([0.3, 0.7, 0.0]))[4]["shift"].float().mean()) for _ in range(5)) / 5
        assert rate >= expected if expected else rate == 0.0
    env = DriftVecEnv("abrupt", 4, catalog=small_catalog, array="torch")
    env.reset(seed=0)
    assert "shift" not in env.step(torch.tensor([0.3, 0.7, 0.0]))[4]  # hidden unless asked for


def test_aligned_averages_windows_around_shifts():
    T, N = PRE + POST + 20, 3
    values = torch.arange(T, dtype=torch.float32).unsqueeze(1).expand(T, N).clone()
    shifts = torch.zeros(T, N, dtype=torch.bool)
    shifts[PRE + 2, 0] = True  # full window
    shifts[PRE + 6, 1] = True  # full window
    shifts[3, 2] = True  # too early: no full window
    shifts[T - 5, 2] = True  # too late
    curve, n = aligned(values, shifts)
    assert n == 2 and curve.shape == (PRE + POST + 1,)
    assert curve[PRE] == pytest.approx(PRE + 4)  # mean of steps PRE+2 and PRE+6
    assert curve[0] == pytest.approx(4.0)
    none, zero = aligned(values, torch.zeros_like(shifts))
    assert zero == 0 and bool(torch.isnan(none).all())


def _ev(agent, per_seed):
    return Evaluation("s", agent, per_seed, torch.zeros(len(per_seed), 1), None, torch.zeros(1), None, 0, 10, 0.0)


def test_paired_statistics_against_best_fixed():
    base = {1: 1.0, 2: 1.2, 3: 0.8}
    ppo = {1: 1.3, 2: 1.5, 3: 1.0}
    oracle = {1: 2.0, 2: 2.2, 3: 1.8}
    res = paired_summary([_ev("best-fixed", base), _ev("ppo", ppo), _ev("oracle", oracle)])["s"]
    diffs = [ppo[s] - base[s] for s in base]
    m, lo, hi = mean_ci95(diffs)
    d = res["ppo"]["diff_vs_best_fixed"]
    assert d["abs_mean"] == pytest.approx(m) and d["abs_ci95"] == pytest.approx([lo, hi])
    assert d["mean"] == pytest.approx(m / 1.0) and d["ci95"] == pytest.approx([lo / 1.0, hi / 1.0])
    assert res["ppo"]["oracle_gap_closed"] == pytest.approx((res["ppo"]["mean"] - 1.0) / (2.0 - 1.0))
    assert res["best-fixed"]["diff_vs_best_fixed"]["mean"] == 0.0
    assert res["oracle"]["oracle_gap_closed"] == pytest.approx(1.0)
    # paired: a constant per-seed difference has a zero-width interval, however the seeds vary
    assert d["ci95"][1] - d["ci95"][0] < res["ppo"]["ci95"][1] - res["ppo"]["ci95"][0]
    table = format_compare_table({"s": res})
    assert "+26.7%" in table and "gap closed" in table
    lead = leaders({"s": res})["s"]
    assert lead["agent"] == "ppo" and lead["runner_up"] == "best-fixed"
    assert lead["diff"]["abs_mean"] == pytest.approx(m) and lead["diff"]["mean"] == pytest.approx(m / 1.0)
    assert "s: ppo leads best-fixed by +26.7%" in format_leaders({"s": lead})
    no_oracle = paired_summary([_ev("best-fixed", base), _ev("ppo", ppo)])["s"]
    assert no_oracle["ppo"]["oracle_gap_closed"] is None
    assert no_oracle["ppo"]["weights_oracle_gain_captured"] is None and "w-oracle" not in format_compare_table(
        {"s": no_oracle}
    )
    # the share of the weights-oracle's gain over best-fixed each agent captures
    w_oracle = {1: 1.5, 2: 1.7, 3: 1.3}
    res = paired_summary([_ev("best-fixed", base), _ev("ppo", ppo), _ev("weights-oracle", w_oracle)])["s"]
    assert res["ppo"]["weights_oracle_gain_captured"] == pytest.approx((res["ppo"]["mean"] - 1.0) / 0.5)
    assert res["weights-oracle"]["weights_oracle_gain_captured"] == pytest.approx(1.0)
    line = next(r for r in format_compare_table({"s": res}).splitlines() if " ppo " in r)
    assert "w-oracle gain" in format_compare_table({"s": res}) and line.split()[-2] == "53%"
    worse = paired_summary([_ev("best-fixed", base), _ev("ppo", ppo), _ev("weights-oracle", base)])["s"]
    assert worse["ppo"]["weights_oracle_gain_captured"] is None  # no gain to share


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"scenarios": ["abrupt"], "agents": ["fixed"], "seeds": [5]}, "at least 2 evaluation seeds"),
        ({"scenarios": ["abrupt"], "agents": ["fixed"], "seeds": [9001, 3]}, r"evaluation seeds \[9001\] are also"),
        ({"scenarios": ["abrupt"], "agents": ["ppo"], "seeds": [0, 1]}, "is the PPO training seed"),
        ({"scenarios": ["abrupt"], "agents": ["fixd"]}, "unknown agent 'fixd'; known agents: best-fixed"),
        ({"scenarios": ["abrupt"], "agent": ["fixed"]}, "unknown key.* agent in the compare config; allowed"),
        ({"scenarios": ["abrupt"], "tuning": {"seed": [1]}}, "unknown key.* seed in tuning"),
        ({"scenarios": ["abrupt"], "ppo": {"policy": "a.zip", "policies": {"x": "b"}}}, "not both"),
        ({"scenarios": ["abrupt"], "ppo": {"policies": {"abrupt": "gone.zip"}}}, "no such policy file: 'gone.zip'"),
        ({"scenarios": ["nope"]}, "unknown scenario"),
        ({"agents": ["fixed"]}, "needs 'scenarios'"),
        ({"scenarios": ["abrupt"], "users": 0}, "users=0 is not allowed; it must be >= 1"),
        ({"scenarios": ["abrupt"], "ppo": {"timesteps": -5}}, "ppo.timesteps=-5 is not allowed; it must be >= 1"),
        # issue 18, finding 8: wrong types in a config are one-line errors, never coerced
        ({"scenarios": ["abrupt"], "tuning": {"seeds": "9001"}}, "tuning.seeds must be a list of integer seeds"),
        ({"scenarios": ["abrupt"], "agents": "fixed"}, "agents must be a list of names, got str: 'fixed'"),
        ({"scenarios": [["abrupt"]]}, r"scenarios must be a list of names, got an entry \['abrupt'\]"),
        ({"scenarios": ["abrupt"], "agents": [["fixed"]]}, "agents must be a list of names, got an entry"),
        ({"scenarios": ["abrupt"], "overrides": ["a"]}, "overrides must be a mapping, got list"),
        ({"scenarios": ["abrupt"], "tuning": {"grid": [0.3]}}, "tuning.grid must be a mapping of alpha, mix, explore"),
        (
            {"scenarios": ["abrupt"], "tuning": {"grid": {"alpha": 0.3, "mix": [1], "explore": [0]}}},
            "tuning.grid alpha must be a non-empty list of numbers in \\[0, 1\\], got 0.3",
        ),
        (
            {"scenarios": ["abrupt"], "tuning": {"grid": {"alpha": [[0.3]], "mix": [1], "explore": [0]}}},
            "grid value alpha must be a number, got list",
        ),
        ({"scenarios": ["abrupt"], "tuning": {"grid": {"beta": [0.3]}}}, "tuning.grid has unknown key.* beta"),
        ({"scenarios": ["abrupt"], "tuning": {"grid": {"alpha": [0.3]}}}, "tuning.grid needs values for mix, explore"),
        ({"scenarios": ["abrupt"], "fixed_weights": 0.3}, "fixed_weights must be a list of 3 numbers"),
        ({"scenarios": ["abrupt"], "fixed_weights": [0.3, 2, 0]}, "fixed_weights mix=2 is outside"),
        ({"scenarios": ["abrupt"], "ppo": {"hyper": [1]}}, "ppo.hyper must be a mapping, got list"),
        ({"scenarios": ["abrupt"], "ppo": {"hyper": {"gamma": 2}}}, "PPO setting gamma=2 is outside the allowed range"),
        ({"scenarios": ["abrupt"], "ppo": {"policies": ["x"]}}, "ppo.policies must be a mapping, got list"),
        ({"scenarios": ["abrupt"], "ppo": {"seed": "0"}}, r"ppo.seed must be an integer in \[0, 2\*\*63 - 1\]"),
        ({"scenarios": ["abrupt"], "catalog": 3}, "catalog must be a string, got int: 3"),
        ({"scenarios": ["abrupt"], "transform": ["pca:64"]}, "transform must be a string, got list"),
    ],
)
def test_bad_compare_configs(raw, message):
    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=message):
        CompareConfig.from_dict(raw)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("c.yaml", "scenarios: [abrupt\n", "not valid YAML"),
        ("c.json", "{", "not valid JSON"),
        ("c.toml", "a = 1", "must be a .yaml, .yml or .json file"),
        ("c.yaml", "", "is empty"),
        ("c.yaml", "- abrupt\n", "must hold a mapping"),
    ],
)
def test_bad_config_files(tmp_path, name, text, message):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_config(p)


def test_shipped_configs_are_valid():
    from driftrec.experiments.cli.online import QUICKSTART_CONFIG

    folder = QUICKSTART_CONFIG.parent
    for path in (QUICKSTART_CONFIG, folder / "headline.yaml", folder / "headline_movielens.yaml"):
        cfg = CompareConfig.from_dict(load_config(path))
        assert "ppo" in cfg.agents and "oracle" in cfg.agents and len(cfg.seeds) >= 3
    for name, catalog in (("headline.yaml", "synthetic"), ("headline_movielens.yaml", "movielens")):
        headline = CompareConfig.from_dict(load_config(folder / name))
        assert len(headline.seeds) >= 10 and len(headline.scenarios) == 7 and headline.catalog == catalog
    assert "weights-oracle" in headline.agents


TINY = """
scenarios: [abrupt, stable]
agents: [fixed, change-ctr, d-linucb, ppo, oracle, weights-oracle, random]
seeds: [101, 102, 103]
users: 8
steps: 60
items: 200
dim: 16
tuning: {users: 8, steps: 20, grid: {alpha: [0.3, 1.0], mix: [1.0], explore: [0.0, 0.1]}}
ppo: {timesteps: 1536, users: 16, hyper: {n_steps: 8, batch_size: 64}}
"""


def _compare(tmp_path, out, *extra):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    argv = ["compare", "--config", str(cfg), "--out", str(out), "--device", "cpu", "--no-progress", *extra]
    assert main(argv) == 0
    return json.loads((out / "summary.json").read_text())


def test_compare_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "a"
    summary = _compare(tmp_path, out)
    printed = capsys.readouterr().out
    assert "vs best-fixed" in printed and "gap closed" in printed and "PPO policy trained" in printed
    assert "abrupt: " in printed and "(paired)" in printed
    assert set(summary["leaders"]) == {"abrupt", "stable"}
    for scenario in ("abrupt", "stable"):
        res = summary["results"][scenario]
        agents = {"best-fixed", "fixed", "change-ctr", "d-linucb", "ppo", "oracle", "weights-oracle", "random"}
        assert set(res) == agents
        for e in res.values():
            assert {"mean", "ci95", "n_seeds", "per_seed", "diff_vs_best_fixed", "oracle_gap_closed"} <= set(e)
            assert set(e["diff_vs_best_fixed"]) >= {"mean", "ci95"} and e["n_seeds"] == 3
        best = summary["best_fixed"][scenario]
        assert best["alpha"] in (0.3, 1.0) and best["explore"] in (0.0, 0.1)
        assert math.isclose(res["oracle"]["oracle_gap_closed"], 1.0)
    for name in ("runs", "curves", "aligned", "weights", "tuning"):
        assert not pd.read_csv(out / f"{name}.csv").empty
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 * 8 * 3
    # the weights-oracle starts from best-fixed's tuned weights: without shifts it is best-fixed
    stable = summary["results"]["stable"]
    assert stable["weights-oracle"]["per_seed"] == stable["best-fixed"]["per_seed"]
    al = pd.read_csv(out / "aligned.csv")
    assert (al[al.scenario == "abrupt"].n_shifts > 0).all() and (al[al.scenario == "stable"].n_shifts == 0).all()
    for png in ("clicks_over_time.png", "shift_aligned.png", "weights_over_time.png"):
        assert (out / png).stat().st_size > 10_000
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["ppo"]["timesteps"] == 1536 and config["config"]["seeds"] == [101, 102, 103]
    assert not list(out.rglob(".*.tmp"))

    # a re-run reuses the trained policies and reproduces every number
    again = _compare(tmp_path, tmp_path / "a")
    assert "PPO policy reused" in capsys.readouterr().out
    assert again["results"] == summary["results"]

    # the saved policy, loaded from its file, evaluates exactly like the one trained in memory
    # (ppo and best-fixed only, in this process: what these checks need, without a worker's start-up)
    saved, only_ppo = out / "policies" / "abrupt" / "policy.zip", ("--agents", "ppo", "--workers", "0")
    from_file = _compare(tmp_path, tmp_path / "b", "--scenario", "abrupt", "--policy", str(saved), *only_ppo)
    assert from_file["results"]["abrupt"]["ppo"]["per_seed"] == summary["results"]["abrupt"]["ppo"]["per_seed"]
    assert from_file["policies"]["abrupt"]["source"] == "file"
    assert from_file["results"]["abrupt"]["ppo"]["transfer"] is None  # trained on this scenario and catalog
    elsewhere = _compare(tmp_path, tmp_path / "c", "--scenario", "stable", "--policy", str(saved), *only_ppo)
    assert elsewhere["results"]["stable"]["ppo"]["transfer"]["differs"] == ["scenario"]
    assert elsewhere["policies"]["stable"]["transfer"]["trained_on"].startswith("abrupt on synthetic")
    assert "ppo (transfer)" in capsys.readouterr().out


def test_evaluation_of_a_loaded_policy_equals_in_memory(tmp_path, small_catalog):
    from driftrec.experiments.online.train import TrainConfig, train

    agent = train(
        TrainConfig(
            scenario="abrupt", users=16, timesteps=256, items=200, dim=32, hyper={"n_steps": 8, "batch_size": 64}
        ),
        tmp_path,
        progress=False,
        tensorboard=False,
    )
    loaded = PPOWeights.load(tmp_path / "policy.zip")
    a = evaluate("abrupt", agent, [5, 6], 8, 20, small_catalog)
    b = evaluate("abrupt", loaded, [5, 6], 8, 20, small_catalog)
    assert a.per_seed == b.per_seed and torch.equal(a.weights, b.weights)


def test_same_stem_scenario_files_stay_apart_and_edits_recompute_only_their_units(tmp_path, small_catalog):
    from driftrec.experiments.online.compare import CompareConfig, TuningConfig, compare, scenario_labels
    from driftrec.simulators.scenarios import make_scenario

    for folder, hazard in (("sa", 0.0), ("sb", 0.2)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.json").write_text(json.dumps(make_scenario("abrupt", shift_hazard=hazard).to_dict()))
    sa, sb = str(tmp_path / "sa" / "x.json"), str(tmp_path / "sb" / "x.json")
    labels = scenario_labels([sa, sb, "abrupt"])
    assert len(set(labels.values())) == 3 and labels["abrupt"] == "abrupt"
    grid = {"alpha": [0.3, 1.0], "mix": [0.8], "explore": [0.0]}
    cfg = CompareConfig([sa, sb], ["fixed"], seeds=[101, 102], users=8, steps=12,
                        tuning=TuningConfig(seeds=[9001], users=8, steps=12, grid=grid))  # fmt: skip
    said: list[str] = []
    first = compare(cfg, tmp_path / "out", progress=False, catalog=small_catalog, log=said.append)
    assert set(first.results) == {sa, sb}
    assert first.results[sa]["fixed"]["mean"] != first.results[sb]["fixed"]["mean"]
    assert first.tuned[sa]["tuning_clicks_per_step"] != first.tuned[sb]["tuning_clicks_per_step"]
    # editing one file recomputes its units (1 tuning, 2 evaluations) and reuses the other's
    (tmp_path / "sb" / "x.json").write_text(json.dumps(make_scenario("abrupt", shift_hazard=0.1).to_dict()))
    said.clear()
    second = compare(cfg, tmp_path / "out", progress=False, catalog=small_catalog, log=said.append)
    assert "tune+train: reused 1 of 2 finished units" in " ".join(said)
    assert "evaluate: reused 2 of 4 finished units" in " ".join(said)
    assert second.results[sa] == first.results[sa] and second.results[sb] != first.results[sb]


def test_ppo_trains_on_a_mixture_that_includes_the_evaluation_catalog(tmp_path, minilm):
    """ppo.catalog: one policy per scenario trained on several catalogs; evaluated on one of them,
    it is home ground (no transfer mark); the policy file records both components."""
    cfg = CompareConfig.from_dict(
        {
            "scenarios": ["abrupt"], "agents": ["ppo"], "seeds": [101, 102], "users": 4, "steps": 10,
            "items": 200, "dim": 16, "transform": "pca:16",
            "tuning": {"users": 4, "steps": 5, "grid": {"alpha": [0.3], "mix": [1.0], "explore": [0.0]}},
            "ppo": {"timesteps": 256, "users": 8, "catalog": "synthetic,movielens",
                    "hyper": {"n_steps": 8, "batch_size": 32}},
        }
    )  # fmt: skip
    res = compare(cfg, tmp_path, progress=False)
    assert res.results["abrupt"]["ppo"]["transfer"] is None
    config = PPOWeights.from_bytes((tmp_path / "policies" / "abrupt" / "policy.zip").read_bytes()).config
    assert [c["catalog"] for c in config["components"]] == ["synthetic", "movielens"]
    assert {c["catalog_meta"]["transform"] for c in config["components"]} == {"pca:16"}


def test_typed_units_are_stored_under_the_specs_of_before():
    """A store written when units were dicts dispatched on "kind" is still reused."""
    from driftrec.experiments.online.compare import EvalUnit, TrainUnit, TuneUnit
    from driftrec.experiments.sweeps.store import digest

    ctx, res = {"code": "x"}, {"name": "abrupt"}
    tune = TuneUnit("abrupt", 9001, ((0.1, 0.7, 0.05), (0.3, 0.7, 0.05)), 8, 5, "cpu", {}, ctx, res)
    old_tune = {
        "kind": "tune", "scenario": "abrupt", "seed": 9001, "points": [(0.1, 0.7, 0.05), (0.3, 0.7, 0.05)],
        "users": 8, "steps": 5, "device": "cpu", "overrides": {}, "context": ctx, "resolved": res,
    }  # fmt: skip
    assert digest(tune) == digest(old_tune)
    train = TrainUnit({"scenario": "abrupt"}, 2, ctx, res)
    assert digest(train) == digest({"kind": "train", "config": {"scenario": "abrupt"}, "threads": 2, "context": ctx,
                                    "resolved": res})  # fmt: skip
    own = TrainUnit({"scenario": "abrupt"}, 2, ctx, res, own_catalog=True)
    assert digest(own) == digest({**train.to_spec(), "own_catalog": True}) != digest(train)
    ev = EvalUnit("abrupt", "fixed", [101, 102], 4, 5, "cpu", {}, ctx, [0.3, 0.7, 0.05], res)
    old_ev = {
        "kind": "eval", "scenario": "abrupt", "agent": "fixed", "seeds": [101, 102], "users": 4, "steps": 5,
        "device": "cpu", "overrides": {}, "context": ctx, "weights": [0.3, 0.7, 0.05], "resolved": res,
    }  # fmt: skip
    assert digest(ev) == digest(old_ev)
    ppo = EvalUnit("abrupt", "ppo", [101, 102], 4, 5, "cpu", {}, ctx, [0.3, 0.7, 0.05], res, policy=b"zip")
    assert digest(ppo) == digest({**old_ev, "agent": "ppo", "policy": b"zip"})
    with pytest.raises(ValueError, match="agent 'ppo' needs the policy's bytes"):
        EvalUnit("abrupt", "ppo", [1], 1, 1, "cpu", {}, ctx, [0.3, 0.7, 0.05], res).build_agent()
    assert EvalUnit("abrupt", "best-fixed", [1], 1, 1, "cpu", {}, ctx, [0.2, 0.7, 0.1], res).build_agent().alpha == 0.2


def test_a_paired_difference_is_over_the_bases_seeds_and_relative_to_its_mean():
    from driftrec.experiments.common.stats import mean_ci95, paired_difference

    d = paired_difference({"1": 1.5, "2": 1.0, "3": 9.0}, {"1": 1.0, "2": 0.5})  # seed 3 has no base
    m, lo, hi = mean_ci95([0.5, 0.5])
    assert d == {"mean": m / 0.75, "ci95": [lo / 0.75, hi / 0.75], "abs_mean": m, "abs_ci95": [lo, hi]}
    assert d["mean"] == pytest.approx(2 / 3)
