"""Off-policy estimators and the OBD loader: the known OBD figure, known answers, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftrec.experiments.offline.feedback import bts_action_dist, load_obd, read_bts_priors
from driftrec.experiments.offline.ope import (
    DirectMethod,
    DoublyRobust,
    InverseProbabilityWeighting,
    ReplayMethod,
    SelfNormalizedInverseProbabilityWeighting,
)

OBD = Path(__file__).resolve().parents[1] / "data" / "obd"


@pytest.fixture(scope="module")
def obd_random():
    return load_obd(OBD / "random" / "all")


def test_obd_ips_of_bts_reproduces_the_known_figure(obd_random):
    fb = obd_random
    assert (fb.n_rounds, fb.n_actions, fb.len_list) == (10_000, 80, 3)
    assert fb.reward.sum() == 38 and np.allclose(fb.pscore, 1 / 80)
    alpha, beta = read_bts_priors(OBD / "prior_bts_all.yaml")
    dist = bts_action_dist(alpha, beta, fb.len_list, n_sim=100_000, seed=12345)
    assert np.allclose(dist.sum(0), 1.0)
    action_dist = np.broadcast_to(dist, (fb.n_rounds, *dist.shape))
    kw = dict(reward=fb.reward, action=fb.action, position=fb.position, pscore=fb.pscore, action_dist=action_dist)
    ips = InverseProbabilityWeighting().estimate_policy_value(**kw)
    assert ips == pytest.approx(0.00455, abs=1e-4)  # the known figure; Monte Carlo noise is about 2e-5
    ci = InverseProbabilityWeighting().estimate_interval(**kw, n_bootstrap_samples=300, random_state=1)
    assert ci["95.0% CI (lower)"] < ips < ci["95.0% CI (upper)"]
    assert ci == InverseProbabilityWeighting().estimate_interval(**kw, n_bootstrap_samples=300, random_state=1)
    uniform = np.full((fb.n_rounds, fb.n_actions, fb.len_list), 1 / 80)
    on_policy = InverseProbabilityWeighting().estimate_policy_value(**{**kw, "action_dist": uniform})
    assert on_policy == pytest.approx(38 / 10_000)


def _synthetic(n=20_000, n_actions=5, seed=0):
    """Uniform-random logs over 5 actions, one position, Bernoulli rewards with known means."""
    rng = np.random.default_rng(seed)
    means = np.linspace(0.1, 0.5, n_actions)
    action = rng.integers(0, n_actions, n)
    reward = (rng.random(n) < means[action]).astype(float)
    pscore = np.full(n, 1 / n_actions)
    target = np.zeros((n, n_actions, 1))
    target[:, -1, 0] = 1.0  # always the best action: true value 0.5
    q = np.broadcast_to(means[None, :, None], (n, n_actions, 1))
    return dict(reward=reward, action=action, position=np.zeros(n, int), pscore=pscore, action_dist=target), q


def test_estimators_recover_a_known_value():
    kw, q = _synthetic()
    for est in (ReplayMethod(), InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting()):
        assert est.estimate_policy_value(**kw) == pytest.approx(0.5, abs=0.02), est
    assert DirectMethod().estimate_policy_value(**kw, estimated_rewards_by_reg_model=q) == pytest.approx(0.5)
    assert DoublyRobust().estimate_policy_value(**kw, estimated_rewards_by_reg_model=q) == pytest.approx(0.5, abs=0.02)
    # DR with a zero reward model is IPS; replay on uniform logs is SNIPS
    zero = np.zeros_like(q)
    dr0 = DoublyRobust().estimate_policy_value(**kw, estimated_rewards_by_reg_model=zero)
    assert dr0 == pytest.approx(InverseProbabilityWeighting().estimate_policy_value(**kw))
    assert ReplayMethod().estimate_policy_value(**kw) == pytest.approx(
        SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**kw)
    )
    match = kw["action"] == 4
    assert ReplayMethod().estimate_policy_value(**kw) == pytest.approx(kw["reward"][match].mean())


def test_clipping_caps_the_weights():
    kw, _ = _synthetic(n=1000)
    clipped = InverseProbabilityWeighting(lambda_=2.0).estimate_policy_value(**kw)
    w = np.where(kw["action"] == 4, 5.0, 0.0)
    assert clipped == pytest.approx(np.mean(kw["reward"] * np.minimum(w, 2.0)))
    assert clipped < InverseProbabilityWeighting().estimate_policy_value(**kw)


def test_intervals_cover_the_truth_in_most_repetitions():
    covered = 0
    for seed in range(20):
        kw, _ = _synthetic(n=2000, seed=seed)
        ci = InverseProbabilityWeighting().estimate_interval(**kw, n_bootstrap_samples=200, random_state=seed)
        covered += ci["95.0% CI (lower)"] <= 0.5 <= ci["95.0% CI (upper)"]
    assert covered >= 17


def _bad(**change):
    kw, q = _synthetic(n=6)
    kw = {k: np.array(v, copy=True) for k, v in kw.items()}
    kw.update(change)
    return kw


BAD = [
    ("pscore 0", _bad(pscore=np.array([0.2, 0.0, 0.2, 0.2, 0.2, 0.2])), r"pscore=0.0 at row 1 is outside \(0, 1\]"),
    ("pscore > 1", _bad(pscore=np.array([0.2, 0.2, 1.5, 0.2, 0.2, 0.2])), r"pscore=1.5 at row 2"),
    ("NaN reward", _bad(reward=np.array([0, 1, np.nan, 0, 0, 1.0])), "reward has a NaN or infinite value at row 2"),
    ("NaN pscore", _bad(pscore=np.array([0.2, np.nan, 0.2, 0.2, 0.2, 0.2])), "pscore has a NaN .* at row 1"),
    ("action range", _bad(action=np.array([0, 1, 2, 9, 0, 1])), r"action=9 at row 3 is outside \[0, 5\)"),
    ("position range", _bad(position=np.array([0, 0, 0, 0, 0, 1])), r"position=1 at row 5 is outside \[0, 1\)"),
    ("float action", _bad(action=np.array([0, 1.5, 2, 3, 0, 1])), "action must hold integers"),
    ("string reward", _bad(reward=np.array(["a"] * 6)), "reward must be numeric"),
    ("short pscore", _bad(pscore=np.full(4, 0.2)), "pscore has 4 rows but reward has 6"),
    ("dist shape", _bad(action_dist=np.ones((6, 5))), r"action_dist must have 3 dimension\(s\)"),
    ("dist sum", _bad(action_dist=np.full((6, 5, 1), 0.3)), "action_dist does not sum to 1 over actions at row 0"),
    ("empty", _bad(reward=np.zeros(0)), r"the logs are empty \(0 rounds\)"),
]


@pytest.mark.parametrize("kw, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_malformed_logs_give_clear_errors(kw, message):
    for est in (InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting()):
        with pytest.raises(ValueError, match=message):
            est.estimate_policy_value(**kw)


def test_estimator_specific_errors():
    kw, q = _synthetic(n=10)
    with pytest.raises(ValueError, match="a reward model is required: estimated_rewards_by_reg_model"):
        DirectMethod().estimate_policy_value(**kw)
    with pytest.raises(ValueError, match="estimated_rewards_by_reg_model has shape"):
        DoublyRobust().estimate_policy_value(**kw, estimated_rewards_by_reg_model=np.zeros((10, 2, 1)))
    with pytest.raises(ValueError, match="pscore is required"):
        InverseProbabilityWeighting().estimate_policy_value(**{**kw, "pscore": None})
    with pytest.raises(ValueError, match="deterministic target policy; its probabilities are fractional at row 0"):
        ReplayMethod().estimate_policy_value(**{**kw, "action_dist": np.full((10, 5, 1), 0.2)})
    with pytest.raises(ValueError, match="lambda_"):
        InverseProbabilityWeighting(lambda_=0.0)
    with pytest.raises(ValueError, match=r"alpha=1.5 must be in \(0, 1\)"):
        InverseProbabilityWeighting().estimate_interval(**kw, alpha=1.5)
    never = np.zeros((10, 5, 1))
    never[:, 0, 0] = 1.0
    kw2 = {**kw, "action": np.full(10, 3), "action_dist": never}
    with pytest.raises(ValueError, match="no logged row has positive weight"):
        SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**kw2)
    assert math.isclose(InverseProbabilityWeighting().estimate_policy_value(**kw2), 0.0)


@pytest.mark.parametrize(
    "text, message",
    [
        (",item_id,position,click\n0,1,1,0\n", "lacks the OBD column.* propensity_score"),
        (",item_id,position,click,propensity_score\n", "has no rows"),
        (",item_id,position,click,propensity_score\n0,1,1,0,0.1\n1,x,1,0,0.1\n", "column item_id .* at row 1"),
        (",item_id,position,click,propensity_score\n0,1,0,0,0.1\n", "column position is 0 at row 0; allowed: >= 1"),
        (",item_id,position,click,propensity_score\n0,1,1,2,0.1\n", "column click is 2.0 at row 0; allowed: 0 or 1"),
        (",item_id,position,click,propensity_score\n0,1,1,1,0\n", r"propensity_score is 0.0 .*allowed: in \(0, 1\]"),
    ],
)
def test_bad_obd_files(tmp_path, text, message):
    folder = tmp_path / "all"
    folder.mkdir()
    (folder / "all.csv").write_text(text)
    with pytest.raises(ValueError, match=message):
        load_obd(folder)


def test_obd_paths_and_priors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no all.csv in"):
        (tmp_path / "all").mkdir()
        load_obd(tmp_path / "all")
    with pytest.raises(FileNotFoundError, match="no such OBD log"):
        load_obd(tmp_path / "nope.csv")
    (tmp_path / "p.yaml").write_text("other: {alpha: [1], beta: [1]}\n")
    with pytest.raises(ValueError, match="has no 'all: "):
        read_bts_priors(tmp_path / "p.yaml")
    with pytest.raises(ValueError, match="Beta priors must be positive"):
        bts_action_dist([1.0, 0.0], [1.0, 1.0], 1)
    a = bts_action_dist([2.0, 1.0, 1.0], [1.0, 2.0, 2.0], 2, n_sim=5000, seed=3)
    assert np.array_equal(a, bts_action_dist([2.0, 1.0, 1.0], [1.0, 2.0, 2.0], 2, n_sim=5000, seed=3))
    assert a[0, 0] > a[1, 0] and np.allclose(a.sum(0), 1.0)


def test_obd_n_actions_comes_from_the_declared_items(tmp_path):
    full = load_obd(OBD / "random" / "all")
    assert full.n_actions == 80
    # a log whose higher item ids never appear keeps the 80 declared items
    folder = tmp_path / "all"
    folder.mkdir()
    frame = pd.read_csv(OBD / "random" / "all" / "all.csv", index_col=0)
    frame[frame.item_id < 10].to_csv(folder / "all.csv")
    (folder / "item_context.csv").write_text((OBD / "random" / "all" / "item_context.csv").read_text())
    assert load_obd(folder).n_actions == 80
    # without the item list: the largest id + 1, said in a warning
    (folder / "item_context.csv").unlink()
    with pytest.warns(UserWarning, match="n_actions=10 is the largest item id"):
        assert load_obd(folder).n_actions == 10
    assert load_obd(folder, n_actions=80).n_actions == 80
