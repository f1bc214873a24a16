"""Single model functions against the equations of docs/model.md, on tiny hand-made states (the rest
of the suite tests the model through whole runs)."""

import math

import pytest
import torch

from driftrec.simulators import dynamics, recommender
from driftrec.simulators.params import RecParams, UserParams
from driftrec.simulators.state import RecState, UserState


def unit(v):
    return torch.tensor(v, dtype=torch.float32) / torch.tensor(v, dtype=torch.float32).norm()


def rec_state():
    """Two users in d = 2: both profiles at 0 degrees (user 0) or 90 degrees (user 1)."""
    return RecState(
        short=torch.stack([unit([1.0, 0.0]), unit([0.0, 1.0])]),
        long=torch.stack([unit([1.0, 1.0]), unit([0.0, 1.0])]),
        weights=torch.zeros(2, 3),
        change=torch.tensor([0.25, -0.5]),
        evidence=torch.zeros(2),
        ctr_fast=torch.tensor([0.5, 0.2]),
        ctr_slow=torch.tensor([0.1, 0.3]),
        since_click=torch.tensor([4.0, 7.0]),
        organic=torch.tensor([0.0, 0.5]),
    )


def test_the_recommender_update_is_the_documented_equation():
    p = RecParams(click_weight=1.0, organic_weight=0.5, long_rate=0.05)
    rec = rec_state()
    alpha = 0.3
    weights = torch.tensor([[alpha, 0.6, 0.1], [0.9, 0.2, 0.0]])
    # user 0 clicked two items (vectors summing to (0, 2)); user 1 saw nothing and searched nothing
    clicked_sum = torch.tensor([[0.0, 2.0], [0.0, 0.0]])
    n_clicks = torch.tensor([2, 0])
    organic = torch.tensor([True, False])
    organic_vec = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    out = recommender.update(rec, p, weights, clicked_sum, n_clicks, organic, organic_vec, slate_size=10)

    e = unit([0.5, 2.0])  # normalize(click_weight * sum(clicked) + organic_weight * organic)
    s = (1 - alpha) * rec.short[0] + alpha * e
    l_ = (1 - p.long_rate) * rec.long[0] + p.long_rate * e
    torch.testing.assert_close(out.short[0], s / s.norm())
    torch.testing.assert_close(out.long[0], l_ / l_.norm())
    assert out.change[0].item() == pytest.approx(float(rec.short[0] @ e))  # cos(s_before, e)
    assert out.evidence.tolist() == [1.0, 0.0]
    # no evidence: profiles and change signal stay
    torch.testing.assert_close(out.short[1], rec.short[1])
    torch.testing.assert_close(out.long[1], rec.long[1])
    assert out.change[1].item() == -0.5
    # tracked statistics: clicks per slot at rates 0.3 and 0.03, steps since a click, organic at 0.1
    torch.testing.assert_close(out.ctr_fast, torch.tensor([0.7 * 0.5 + 0.3 * 0.2, 0.7 * 0.2]))
    torch.testing.assert_close(out.ctr_slow, torch.tensor([0.97 * 0.1 + 0.03 * 0.2, 0.97 * 0.3]))
    assert out.since_click.tolist() == [0.0, 8.0]
    torch.testing.assert_close(out.organic, torch.tensor([0.1, 0.9 * 0.5]))
    assert torch.equal(out.weights, weights)


def test_alpha_one_takes_the_evidence_and_alpha_zero_ignores_it():
    p = RecParams()
    rec = rec_state()
    clicked = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    args = (clicked, torch.tensor([1, 1]), torch.zeros(2, dtype=torch.bool), torch.zeros(2, 2))
    one = recommender.update(rec, p, torch.tensor([[1.0, 0.5, 0.0]] * 2), *args, slate_size=10)
    torch.testing.assert_close(one.short, clicked)
    zero = recommender.update(rec, p, torch.tensor([[0.0, 0.5, 0.0]] * 2), *args, slate_size=10)
    torch.testing.assert_close(zero.short, rec.short)


def test_the_query_mixes_short_and_long_profiles():
    rec = rec_state()
    mix = torch.tensor([0.25, 1.0])
    q = recommender.query(rec, mix)
    want0 = 0.25 * rec.short[0] + 0.75 * rec.long[0]
    torch.testing.assert_close(q[0], want0 / want0.norm())
    torch.testing.assert_close(q[1], rec.short[1])
    # opposite profiles at mix 1/2 cancel out: the query falls back to the short profile
    rec.long = -rec.short
    torch.testing.assert_close(recommender.query(rec, torch.tensor([0.5, 0.5])), rec.short)


def test_the_observation_features_follow_the_state():
    rec = rec_state()
    rec.weights = torch.tensor([[0.3, 0.6, 0.1], [0.9, 0.2, 0.0]])
    t = torch.tensor([50, 0])
    f = recommender.features(rec, t, 200, recommender.FEATURE_LOW, recommender.FEATURE_HIGH)
    col = {n: f[:, i] for i, n in enumerate(recommender.FEATURE_NAMES)}
    torch.testing.assert_close(col["ctr_fast"], rec.ctr_fast)
    torch.testing.assert_close(col["since_click"], torch.tensor([1 - math.exp(-0.4), 1 - math.exp(-0.7)]))
    torch.testing.assert_close(col["cos_short_long"], torch.tensor([math.sqrt(0.5), 1.0]))
    torch.testing.assert_close(col["progress"], torch.tensor([0.25, 0.0]))
    torch.testing.assert_close(torch.stack([col["last_alpha"], col["last_mix"], col["last_explore"]], 1), rec.weights)


def test_consuming_moves_fatigue_and_facet_weights_toward_what_was_clicked():
    p = UserParams(num_facets=2, fatigue_rate=0.2, reinforce_rate=0.5)
    facets = torch.stack([unit([1.0, 0.0]), unit([0.0, 1.0])]).unsqueeze(0)  # (1, K=2, d=2)
    user = UserState(facets, torch.tensor([[0.5, 0.5]]), torch.zeros(1, 2), torch.zeros(1, dtype=torch.bool),
                     torch.zeros(1, 2), unit([1.0, 1.0]).unsqueeze(0))  # fmt: skip
    out = dynamics.consume(user, p, clicked_sum=torch.tensor([[0.0, 2.0]]), n_clicks=torch.tensor([2]))
    torch.testing.assert_close(out.fatigue, torch.tensor([[0.0, 0.2 * 1.0]]))  # toward the mean clicked vector
    credit = torch.tensor([1e-6, 1.0 + 1e-6])
    moved = (0.5 * torch.tensor([0.5, 0.5]) + 0.5 * credit / credit.sum()).clamp_min(0.02)
    torch.testing.assert_close(out.facet_weights[0], moved / moved.sum())
    idle = dynamics.consume(out, p, clicked_sum=torch.zeros(1, 2), n_clicks=torch.tensor([0]))
    torch.testing.assert_close(idle.fatigue, 0.8 * out.fatigue)  # decays toward 0 without consumption
    torch.testing.assert_close(idle.facet_weights, out.facet_weights)
