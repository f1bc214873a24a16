"""Single model functions against the equations of docs/model.md, on tiny hand-made states (the rest
of the suite tests the model through whole runs)."""

import math

import pytest
import torch

from driftrec.simulators import dynamics, recommender
from driftrec.simulators.dynamics import Stream
from driftrec.simulators.params import RecParams, UserParams
from driftrec.simulators.rng import CounterRNG
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


def draws_at(n, t=3):
    return CounterRNG.from_seeds(list(range(n))).at(torch.full((n,), t, dtype=torch.int64))


def user_state(facets, weights, topic=None, active=None):
    """A UserState of facets (N, K, d) and weights (N, K); no mission, no fatigue unless given."""
    n, _, d = facets.shape
    topic = torch.zeros(n, d) if topic is None else topic
    active = torch.zeros(n, dtype=torch.bool) if active is None else active
    intent = dynamics.mix_intent(facets, weights, topic, active, 0.8)
    return UserState(facets, weights, topic, active, torch.zeros(n, d), intent)


def random_facets(n, k, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, k, d, generator=g), dim=-1)


def test_gradual_drift_is_a_normalised_random_walk_step_of_every_facet():
    n, k, d = 3, 2, 8
    p = UserParams(num_facets=k, drift_scale=0.3)
    user = user_state(random_facets(n, k, d), torch.tensor([[0.7, 0.3]] * n))
    E = torch.eye(d)
    draws = draws_at(n)
    out = dynamics.drift(user, p, E, draws)
    g = draws.normal(Stream.DRIFT, (k, d))
    want = user.facets + 0.3 / math.sqrt(d) * g  # F <- normalize(F + drift_scale g / sqrt(d))
    torch.testing.assert_close(out.facets, want / want.norm(dim=-1, keepdim=True))
    # the intent is recomputed from the moved facets; weights, missions and fatigue stay
    mixed = (user.facet_weights.unsqueeze(-1) * out.facets).sum(1)
    torch.testing.assert_close(out.intent, mixed / mixed.norm(dim=-1, keepdim=True))
    assert torch.equal(out.facet_weights, user.facet_weights) and not bool(out.mission_active.any())
    # no drift parameters: nothing moves
    still = dynamics.drift(user, UserParams(num_facets=k), E, draws)
    assert torch.equal(still.facets, user.facets)


def test_an_abrupt_shift_replaces_a_facet_by_a_topic_near_a_random_item():
    n, k, d, m = 400, 2, 4, 6
    E = torch.eye(m, d) + 0.0
    E[4:] = torch.nn.functional.normalize(torch.ones(2, d), dim=-1)
    user = user_state(random_facets(n, k, d, 1), torch.full((n, k), 0.5))
    draws = draws_at(n)
    # hazard 1 and no noise: every facet becomes exactly the item it is drawn near
    out = dynamics.drift(user, UserParams(num_facets=k, shift_hazard=1.0, facet_noise=0.0), E, draws)
    idx = draws.integers(Stream.SHIFT_ITEM, m, (k,))
    torch.testing.assert_close(out.facets, E[idx])
    assert set(idx.flatten().tolist()) == set(range(m))  # items drawn uniformly: all six appear
    # hazard 0.25: about a quarter of the facets move, the rest stay bit for bit
    part = dynamics.drift(user, UserParams(num_facets=k, shift_hazard=0.25, facet_noise=0.0), E, draws)
    moved = (part.facets != user.facets).any(-1)
    hit = draws.uniform(Stream.SHIFT_HAZARD, (k,)) < 0.25
    assert torch.equal(moved, hit)
    assert abs(moved.float().mean().item() - 0.25) < 0.05
    torch.testing.assert_close(part.facets[hit], E[idx][hit])


def test_missions_start_and_end_with_their_hazards_and_pull_the_intent():
    n, k, d, m = 4, 2, 4, 4
    E = torch.eye(m, d)
    facets = random_facets(n, k, d, 2)
    w = torch.full((n, k), 0.5)
    draws = draws_at(n)
    p = UserParams(num_facets=k, mission_start=1.0, mission_strength=0.8, facet_noise=0.0)  # none active yet: none ends
    out = dynamics.drift(user_state(facets, w), p, E, draws)
    assert bool(out.mission_active.all())
    topic = E[draws.integers(Stream.MISSION_ITEM, m, ())]
    torch.testing.assert_close(out.mission_topic, topic)
    base = (w.unsqueeze(-1) * facets).sum(1)
    base = base / base.norm(dim=-1, keepdim=True)
    pulled = 0.2 * base + 0.8 * topic  # intent = normalize((1 - strength) base + strength topic)
    torch.testing.assert_close(out.intent, pulled / pulled.norm(dim=-1, keepdim=True))
    # an active mission ends with probability mission_end (1 here) and the intent goes back to the facets
    p_end = UserParams(num_facets=k, mission_start=1.0, mission_end=1.0, facet_noise=0.0)
    ended = dynamics.drift(out, p_end, E, draws_at(n, 4))
    assert not bool(ended.mission_active.any())
    torch.testing.assert_close(ended.intent, base)


def test_organic_events_happen_at_their_rate_near_an_interest_drawn_by_weight():
    n, k, d = 20_000, 2, 4
    facets = torch.stack([torch.eye(d)[0], torch.eye(d)[1]]).expand(n, k, d)
    user = user_state(facets, torch.tensor([[0.8, 0.2]]).expand(n, k))
    draws = draws_at(n)
    p = UserParams(num_facets=k, organic_rate=0.3, organic_noise=0.0)
    flag, vec = dynamics.organic_events(user, p, draws)
    assert torch.equal(flag, draws.uniform(Stream.ORGANIC, ()) < 0.3)
    assert abs(flag.float().mean().item() - 0.3) < 0.01
    assert torch.equal(vec[~flag], torch.zeros(int((~flag).sum()), d))
    # without noise an event is exactly one of the two facets, the first one with weight 0.8
    first = (vec[flag] == facets[0, 0]).all(-1)
    assert bool((first | (vec[flag] == facets[0, 1]).all(-1)).all())
    assert abs(first.float().mean().item() - 0.8) < 0.015
    # with noise: normalize(I_c + organic_noise g / sqrt(d)) from the ORGANIC_NOISE stream
    noisy = dynamics.organic_events(user, UserParams(num_facets=k, organic_rate=0.3, organic_noise=0.5), draws)[1]
    g = draws.normal(Stream.ORGANIC_NOISE, (d,))
    want = vec + 0.5 / math.sqrt(d) * g
    torch.testing.assert_close(noisy[flag], (want / want.norm(dim=-1, keepdim=True))[flag])
    # "blend": the event is near the blended intent
    blend = UserParams(num_facets=k, organic_rate=0.3, organic_noise=0.0, interest_model="blend")
    torch.testing.assert_close(dynamics.organic_events(user, blend, draws)[1][flag], user.intent[flag])
    # rate 0: no events
    assert not bool(dynamics.organic_events(user, UserParams(num_facets=k), draws)[0].any())


def test_slate_exploration_shows_k_distinct_uniform_items_with_the_documented_propensity():
    n, m, k = 6000, 30, 5
    greedy = torch.arange(k).expand(n, k)
    eps = torch.full((n,), 0.6)
    items, explored, pscore = recommender.explore_slates(greedy, eps, m, draws_at(n))
    coin = explored[:, 0]
    assert bool((explored == coin.unsqueeze(1)).all())  # the whole slate or nothing
    assert abs(coin.float().mean().item() - 0.6) < 0.02
    assert torch.equal(items[~coin], greedy[~coin])
    srt = torch.sort(items[coin], 1).values
    assert not bool((srt[:, 1:] == srt[:, :-1]).any())  # distinct
    counts = torch.bincount(items[coin].flatten(), minlength=m).float()  # every item, greedy ones too
    chi2 = float(((counts - counts.mean()) ** 2 / counts.mean()).sum())
    assert chi2 < 58.3  # the 99.9% point of chi-square with 29 degrees of freedom
    # pscore = (1 - eps) [item is the greedy one at that slot] + eps / M
    want = 0.4 * (items == greedy).float() + 0.6 / m
    torch.testing.assert_close(pscore, want)
