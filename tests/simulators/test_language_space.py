"""Model version 2: catalog-relative geometry, multi-interest utility, softmax exploration."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import driftrec
from driftrec.agents import Oracle
from driftrec.envs import DriftVecEnv, default_catalog
from driftrec.simulators import recommender
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.click import attraction, examination
from driftrec.simulators.geometry import fit_transform, neighbour_overlap, parse_transform
from driftrec.simulators.params import ClickParams, RecParams, UserParams
from driftrec.simulators.rng import CounterRNG


def _draws(n: int, t: int = 0):
    return CounterRNG.from_seeds(list(range(n))).at(torch.full((n,), t))


def _anisotropic(m: int = 300, d: int = 24, seed: int = 0) -> torch.Tensor:
    """Unit vectors that share a strong common direction, like a language model's."""
    g = torch.Generator().manual_seed(seed)
    common = F.normalize(torch.randn(d, generator=g), dim=0)
    return F.normalize(2.0 * common + torch.randn(m, d, generator=g) / math.sqrt(d), dim=1)


def test_centring_removes_the_common_direction_and_keeps_the_raw_vectors():
    raw = _anisotropic()
    pair = (raw[:150] * raw[150:]).sum(1).mean()
    cat = Catalog(raw, [str(i) for i in range(300)], [""] * 300).transformed("centre")
    assert float(pair) > 0.6
    assert abs(float((cat.embeddings[:150] * cat.embeddings[150:]).sum(1).mean())) < 0.05
    assert torch.equal(cat.raw, raw) and cat.meta["transform"] == "centre"
    assert cat.meta["transform_fit"]["mean_norm"] > 0.8
    # every vector of that space goes through the same map: here, the items themselves
    assert torch.allclose(cat.encode_vectors(raw), cat.embeddings, atol=1e-6)
    assert torch.allclose(cat.embeddings.norm(dim=1), torch.ones(300), atol=1e-5)


def test_pca_keeps_the_top_directions_and_reports_its_fidelity():
    raw = _anisotropic(400, 32)
    cat = Catalog(raw, [str(i) for i in range(400)], [""] * 400)
    full, small = cat.transformed("centre"), cat.transformed("pca:8")
    assert small.dim == 8 and small.raw.shape == (400, 32)
    fit = small.meta["transform_fit"]
    assert fit["spec"] == "pca:8" and fit["raw_dim"] == 32 and 0 < fit["explained_variance"] < 1
    assert neighbour_overlap(full.embeddings, full.embeddings) == 1.0
    assert 0.0 < neighbour_overlap(full.embeddings, small.embeddings) < 1.0
    # all dimensions kept: the same neighbours
    assert neighbour_overlap(full.embeddings, cat.transformed("pca:32").embeddings) > 0.99


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: parse_transform("whiten"), r"transform 'whiten' is unknown; allowed: centre, none, pca:D"),
        (lambda: parse_transform("pca:0"), r"transform 'pca:0' is unknown"),
        (lambda: fit_transform(_anisotropic(50, 16), "pca:17"), r"pca:17 asks for more dimensions than the catalog"),
        (lambda: fit_transform(torch.zeros(0, 4)), r"shape \(M, D\)"),
        (
            lambda: fit_transform(_anisotropic(50, 16)).apply(torch.ones(3, 8)),
            r"maps 16-dim vectors of its encoder; got shape \(3, 8\)",
        ),
        (
            lambda: Catalog(_anisotropic(50, 16), [str(i) for i in range(50)], [""] * 50).transformed(
                fit_transform(_anisotropic(50, 12))
            ),
            r"maps 12-dim vectors of its encoder; got shape \(50, 16\)",
        ),
        (lambda: RecParams(explore_mode="gumbel"), r"explore_mode 'gumbel' is unknown; allowed: slot, slate, softmax"),
        (lambda: RecParams(explore_temperature=0.0), r"explore_temperature=0.0 is outside the allowed range \(0.0, 10"),
        (lambda: RecParams(explore_temperature=-1), r"explore_temperature=-1 is outside"),
        (lambda: RecParams(explore_floor=1.5), r"explore_floor=1.5 is outside the allowed range \[0.0, 1.0\]"),
        (lambda: UserParams(interest_model="mean"), r"interest_model 'mean' is unknown; allowed: facets, blend"),
        (lambda: UserParams(facet_temperature=0), r"facet_temperature=0 is outside the allowed range"),
        (lambda: UserParams(utility_units="z"), r"utility_units 'z' is unknown; allowed: catalog, cosine"),
    ],
)
def test_bad_geometry_and_exploration_settings_give_one_line_errors(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_load_catalog_rejects_a_bad_transform_before_encoding():
    with pytest.raises(ValueError, match="transform 'pca:x' is unknown"):
        driftrec.load_catalog("synthetic-lm", transform="pca:x")
    with pytest.raises(ValueError, match="pca:100 asks for more dimensions than the catalog's 64"):
        driftrec.load_catalog("synthetic-lm", driftrec.encoders.HashingEncoder(64), transform="pca:100")


def _two_topic_catalog(per: int = 20, d: int = 16):
    """Items near e0 (rows 0..per-1), near e1 (rows per..2per-1), and unrelated items."""
    g = torch.Generator().manual_seed(0)
    e = torch.eye(d)
    near0 = F.normalize(e[0] + 0.3 * torch.randn(per, d, generator=g) / math.sqrt(d), dim=1)
    near1 = F.normalize(e[1] + 0.3 * torch.randn(per, d, generator=g) / math.sqrt(d), dim=1)
    rest = torch.randn(200, d, generator=g)
    rest[:, :2] = 0.0
    emb = torch.cat([near0, near1, F.normalize(rest, dim=1)])
    return Catalog(emb, [str(i) for i in range(len(emb))], [""] * len(emb)), e


def test_two_orthogonal_facets_are_both_served_at_the_stated_click_probabilities():
    cat, e = _two_topic_catalog()
    n, tau = 20_000, 0.05
    env = DriftVecEnv(
        "stable",
        n,
        catalog=cat,
        action_mode="slate",
        reveal_hidden=True,
        utility_units="cosine",
        accidental=0.0,
        array="torch",
    )
    obs, info = env.reset(seed=0)
    user = env.state.user
    user.facets = torch.stack([e[0], e[1]]).expand(n, 2, -1).clone()
    user.facet_weights = torch.tensor([0.5, 0.5]).expand(n, 2).clone()
    util = env.sim.item_utility(env.state)
    near0, near1 = cat.embeddings[:20] @ e[0], cat.embeddings[20:40] @ e[1]
    # u = tau * log(sum_c w_c exp(cos_c / tau)): an item at one facet keeps its cosine less tau*log 2
    want0 = tau * torch.logaddexp(near0 / tau + math.log(0.5), (cat.embeddings[:20] @ e[1]) / tau + math.log(0.5))
    assert torch.allclose(util[0, :20], want0, atol=1e-5)
    # the oracle's slate covers both interests
    oracle = Oracle()
    oracle.reset(env, 0)
    slate = oracle.act(obs, {"item_utility": util})
    assert bool((slate < 20).any(1).all()) and bool(((slate >= 20) & (slate < 40)).any(1).all())
    # a slate of the best item of each facet, then unrelated items: clicked at exam * attraction
    best0, best1 = int(near0.argmax()), 20 + int(near1.argmax())
    shown = torch.tensor([best0, best1, *range(40, 48)]).expand(n, 10)
    env.step(shown)
    clicks = env.last_step.clicks.double().mean(0)
    p = exam = examination(10, env.scenario.click)
    p = exam * attraction(util[0, shown[0]], env.scenario.click)
    assert torch.allclose(clicks, p.double(), atol=0.012), (clicks, p)
    assert float(p[0]) > 0.5 and float(p[1]) > 0.35  # both interests are clickable in one slate
    # the blended single intent (model 1) serves neither: its vector lies between the facets
    blend = DriftVecEnv(
        "stable", 1, catalog=cat, interest_model="blend", utility_units="cosine", reveal_hidden=True, array="torch"
    )
    blend.reset(seed=0)
    assert float(blend.sim.item_utility(blend.state).max()) < 1.0


def test_softmax_propensities_are_the_empirical_position_frequencies():
    n, m, k = 40_000, 14, 3
    g = torch.Generator().manual_seed(0)
    E = F.normalize(torch.randn(m, 8, generator=g), dim=1)
    q = F.normalize(torch.randn(1, 8, generator=g), dim=1).expand(n, 8)
    greedy = recommender.top_k(E, q[:1], k).expand(n, k)
    eps, temp, floor = torch.full((n,), 0.5), 0.3, 0.2
    items, explored, pscore = recommender.explore_softmax(greedy, eps, E, q, temp, _draws(n), floor=floor)
    srt = items.sort(1).values
    assert not bool((srt[:, 1:] == srt[:, :-1]).any()), "a slate repeated an item"
    share = recommender.softmax_share(E, q, items, temp, floor)
    want = recommender.slate_propensity(greedy, eps, items, m, "softmax", share)
    assert torch.allclose(pscore.double(), want.double())
    pi = recommender.stratum_shares(E, q[:1], k, temp, floor)[0]  # (M,)
    sizes = torch.tensor([len(range(c, m, k)) for c in range(m)]).double()[torch.arange(m) % k]
    assert bool((pi >= floor / sizes - 1e-12).all())  # the defensive floor
    # each stratum (item index mod k) sums to one
    assert torch.allclose(torch.stack([pi[c::k].sum() for c in range(k)]), torch.ones(k, dtype=torch.float64))
    for j in range(k):
        freq = torch.bincount(items[:, j], minlength=m).double() / n
        want = 0.5 * pi / k
        want[greedy[0, j]] += 0.5
        assert torch.allclose(freq, want, atol=0.008), (j, freq, want)
    assert bool((pi > 0).all())  # full support: every item at every position
    # semantic: items close to the query are explored more often than far ones
    cos = E @ q[0]
    assert float(pi[cos.argmax()]) > float(pi[cos.argmin()])


def test_softmax_mode_runs_in_the_env_and_a_slate_is_the_same_alone_or_in_a_batch():
    cat = default_catalog(120, 16)
    big = DriftVecEnv("abrupt", 32, catalog=cat, explore_mode="softmax", array="torch")
    one = DriftVecEnv("abrupt", 1, catalog=cat, explore_mode="softmax", array="torch")
    seeds = driftrec.user_seeds(5, 32)
    big.reset(seed=seeds)
    one.reset(seed=[seeds[7]])
    w = torch.tensor([0.5, 0.8, 0.6])
    for _ in range(15):
        big.step(w)
        one.step(w)
        assert torch.equal(big.last_step.items[7], one.last_step.items[0])
        assert torch.equal(big.last_step.pscore[7], one.last_step.pscore[0])
    assert bool((big.last_step.pscore > 0).all())


def test_missions_and_fatigue_work_on_top_of_the_facets():
    cat = default_catalog(200, 16)
    env = DriftVecEnv("mixed", 64, catalog=cat, reveal_hidden=True, array="torch")
    env.reset(seed=1)
    for _ in range(30):
        env.step(torch.tensor([0.5, 0.8, 0.1]))
    user = env.state.user
    assert bool(user.mission_active.any()) and float(user.fatigue.norm(dim=1).max()) > 0
    assert torch.isfinite(env.sim.item_utility(env.state)).all()
    assert torch.allclose(user.facet_weights.sum(1), torch.ones(64), atol=1e-5)


def test_the_model_version_is_in_the_summary(tmp_path):
    from driftrec.experiments.cli.main import main

    out = tmp_path / "run"
    rc = main(
        ["simulate", "--scenario", "stable", "--agents", "fixed", "--catalog", "synthetic", "--items", "100",
         "--dim", "16", "--users", "4", "--steps", "3", "--seeds", "1,2", "--no-progress", "--out", str(out)]
    )  # fmt: skip
    import json

    assert rc == 0 and json.loads((out / "summary.json").read_text())["model_version"] == driftrec.MODEL_VERSION
    _ = ClickParams()
