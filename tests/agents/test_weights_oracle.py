"""WeightsOracle: alert weights from a flagged shift until the next click, calm otherwise."""

from __future__ import annotations

import pytest
import torch

import driftrec
from driftrec.agents import FixedWeights, WeightsOracle
from driftrec.experiments.online.compare import evaluate
from driftrec.simulators.recommender import FEATURE_NAMES

COL = {n: i for i, n in enumerate(FEATURE_NAMES)}
CALM, ALERT = (0.3, 0.7, 0.05), (1.0, 1.0, 1.0)


def _obs(since_click: list[float], progress: list[float]) -> torch.Tensor:
    o = torch.zeros(len(since_click), len(FEATURE_NAMES))
    o[:, COL["since_click"]] = torch.tensor(since_click)
    o[:, COL["progress"]] = torch.tensor(progress)
    return o


def test_alert_from_the_shift_until_a_later_click_or_the_window(small_catalog):
    env = driftrec.make_vec_env("abrupt", 3, catalog=small_catalog, reveal_shifts=True, array="torch")
    agent = WeightsOracle(CALM, ALERT, window=3)
    agent.reset(env, 0)
    calm, alert = torch.tensor(CALM), torch.tensor(ALERT)
    no = torch.zeros(3, dtype=torch.bool)
    # step 1: user 0 shifted (and clicked in that step, under the old interest); user 2 starts anew
    w = agent.act(_obs([0.0, 0.5, 0.5], [0.1, 0.1, 0.0]), {"shift": torch.tensor([True, False, True])})
    assert torch.equal(w, torch.stack([alert, calm, calm]))
    w = agent.act(_obs([0.5, 0.5, 0.5], [0.2, 0.2, 0.1]), {"shift": no})  # no click yet: still alert
    assert torch.equal(w, torch.stack([alert, calm, calm]))
    w = agent.act(_obs([0.0, 0.5, 0.5], [0.3, 0.3, 0.2]), {"shift": no})  # clicked: calm again
    assert torch.equal(w, torch.stack([calm, calm, calm]))
    # without clicks the alert lasts ``window`` steps
    agent.act(_obs([0.5] * 3, [0.4] * 3), {"shift": torch.tensor([False, True, False])})
    steps = [agent.act(_obs([0.5] * 3, [0.5] * 3), {"shift": no})[1] for _ in range(3)]
    assert [torch.equal(s, alert) for s in steps] == [True, True, False]
    assert torch.equal(agent.act(_obs([0.5] * 3, [0.5] * 3), {})[1], calm)  # after a reset: no flags


def test_needs_the_shift_flags_and_valid_weights(small_catalog):
    with pytest.raises(ValueError, match="reveal_shifts=True"):
        WeightsOracle().reset(driftrec.make_vec_env("abrupt", 2, catalog=small_catalog, array="torch"), 0)
    with pytest.raises(ValueError, match="alert explore"):
        WeightsOracle(alert=(1.0, 1.0, 1.5))
    with pytest.raises(ValueError, match="window"):
        WeightsOracle(window=0)


def test_without_shifts_it_is_the_calm_constant_and_with_them_it_beats_it(small_catalog):
    calm = FixedWeights(*CALM)
    for scenario, overrides, better in (("stable", {}, False), ("abrupt", {"shift_hazard": 0.1}, True)):
        base = evaluate(scenario, calm, [5, 6], 32, 60, small_catalog, overrides=overrides)
        ref = evaluate(scenario, WeightsOracle(CALM), [5, 6], 32, 60, small_catalog, overrides=overrides)
        assert (ref.n_shifts > 0) == better
        if better:
            assert sum(ref.per_seed.values()) > sum(base.per_seed.values())
        else:
            assert ref.per_seed == base.per_seed


def test_until_click_false_holds_the_alert_through_clicks(small_catalog):
    env = driftrec.make_vec_env("abrupt", 1, catalog=small_catalog, reveal_shifts=True, array="torch")
    agent = WeightsOracle(CALM, ALERT, window=3, until_click=False)
    agent.reset(env, 0)
    flags = [torch.tensor([True])] + [torch.tensor([False])] * 3
    held = [bool(agent.act(_obs([0.0], [0.5]), {"shift": f})[0, 2] == 1.0) for f in flags]
    assert held == [True, True, True, False]
