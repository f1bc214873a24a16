"""Hidden user dynamics: initial interests, drift, shifts, missions, decay, boredom, organic events.

Every function is pure: it takes a state and returns a new one. Draws come from the step's
``StepDraws`` (see ``rng``), one stream id from ``Stream`` per kind of draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from driftrec.simulators.host_sync import draws_for_everyone, eagerly
from driftrec.simulators.params import UserParams
from driftrec.simulators.rng import StepDraws, normal_uniforms
from driftrec.simulators.state import UserState, take_rows


class Stream:
    """Stream ids: each kind of draw has its own, so adding one never shifts the others."""

    FACET_ITEM, FACET_NOISE, FACET_WEIGHT, PRIOR_NOISE, MEMBER = 1, 2, 3, 4, 5
    EXPLORE_SLOT, EXPLORE_ITEM, EXPLORE_SLATE, EXPLORE_ROTATE, EXPLORE_SOFT = 10, 11, 12, 13, 14
    CLICK = 2000
    DRIFT, SHIFT_HAZARD, SHIFT_ITEM, SHIFT_NOISE = 3000, 3001, 3002, 3003
    MISSION_START, MISSION_END, MISSION_ITEM, MISSION_NOISE = 4000, 4001, 4002, 4003
    ORGANIC, ORGANIC_NOISE, CHOICE, ORGANIC_FACET = 5000, 5001, 5002, 5003
    CHURN = 6000


def unit(x: torch.Tensor) -> torch.Tensor:
    """L2-normalise along the last axis (``F.normalize(x, dim=-1)``, in one operation fewer)."""
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-12)


def unit_(x: torch.Tensor) -> torch.Tensor:
    """``unit(x)`` in place (the same values), for a fresh ``x`` that nothing else holds."""
    return x.div_(torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-12))


def row_dot(vecs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Each user's vectors (N, k, d) dotted with its vector (N, d): (N, k)."""
    return torch.bmm(vecs, x.unsqueeze(-1)).squeeze(-1)


def row_combine(w: torch.Tensor, vecs: torch.Tensor) -> torch.Tensor:
    """Each user's vectors (N, k, d) summed with its weights (N, k): (N, d)."""
    return torch.bmm(w.unsqueeze(1), vecs).squeeze(1)


def near_items(
    E: torch.Tensor, draws: StepDraws, item_stream: int, noise_stream: int, shape: tuple[int, ...], noise: float
) -> torch.Tensor:
    """Unit topics drawn near random real items: normalize(E[i] + noise * g / sqrt(d)).

    Returns (N, *shape, d).
    """
    m, d = E.shape
    count = math.prod(shape)
    draws = draws.prefetch(((item_stream, count), (noise_stream, normal_uniforms(count * d))))  # one hash for both
    idx = draws.integers(item_stream, m, shape)
    g = draws.normal(noise_stream, (*shape, d), E.dtype)
    return unit(E[idx] + (noise / math.sqrt(d)) * g)


def replace_where(
    hit: torch.Tensor,
    old: torch.Tensor,
    draws: StepDraws,
    draw: Callable[[StepDraws, torch.Tensor | None], torch.Tensor],
    fresh: bool = False,
) -> torch.Tensor:
    """``old`` (N, ..., d) with the entries where ``hit`` (N, ...) is set replaced by new draws:
    ``draw(draws, rows)`` gives them for the users ``rows`` (None: every user). ``fresh``: ``old``
    is a new tensor that nothing else holds, so it may be updated in place.

    On CPU only the users with a hit are drawn (``draws.take``: a user's draws do not depend on the
    others, so the values are the same), which saves most of the work when events are rare; on
    other devices every user is drawn, which avoids a device-to-host sync. A compiled step draws
    every user where that is small (``host_sync.draws_for_everyone``), else the hit users eagerly.
    """
    if draws_for_everyone(old.numel(), old.device):
        return torch.where(hit.unsqueeze(-1), draw(draws, None), old)
    return eagerly(_replace_rows, hit, old, draws, draw, fresh)


def _replace_rows(
    hit: torch.Tensor,
    old: torch.Tensor,
    draws: StepDraws,
    draw: Callable[[StepDraws, torch.Tensor | None], torch.Tensor],
    fresh: bool,
) -> torch.Tensor:
    """``replace_where`` for the users with a hit only (a host read; eager in a compiled step)."""
    mask = hit.unsqueeze(-1)
    rows = hit.reshape(hit.shape[0], -1).any(1).nonzero().squeeze(1)
    if rows.numel() == 0:
        return old
    out = old if fresh else old.clone()
    out[rows] = torch.where(mask[rows], draw(draws.take(rows), rows), old[rows])
    return out


def mix_intent(
    facets: torch.Tensor, weights: torch.Tensor, topic: torch.Tensor, active: torch.Tensor, strength: float
) -> torch.Tensor:
    """The current intent (N, d): the facet mixture, pulled toward the mission topic when active."""
    base = unit(row_combine(weights, facets))
    on = active.unsqueeze(-1).to(base.dtype) * strength
    return unit((1.0 - on) * base + on * topic)


def init_users(
    E: torch.Tensor,
    p: UserParams,
    draws: StepDraws,
    anchors: torch.Tensor | None = None,
    counts: torch.Tensor | None = None,
) -> UserState:
    """Fresh users: K facets, Dirichlet(1) facet weights, no mission, no fatigue.

    Facets are drawn near random catalog items, or, given a population member's ``anchors``
    (N, A, d) with ``counts`` (N,) valid rows each, near random ones of those anchors.
    """
    n, d = draws.prefix.shape[0], E.shape[1]
    k = p.num_facets
    if anchors is None or counts is None:
        facets = near_items(E, draws, Stream.FACET_ITEM, Stream.FACET_NOISE, (k,), p.facet_noise)
    else:
        u = draws.uniform(Stream.FACET_ITEM, (k,), torch.float64)
        slot = torch.minimum((u * counts.unsqueeze(-1)).long(), counts.unsqueeze(-1) - 1)  # (N, K)
        centres = torch.gather(anchors, 1, slot.unsqueeze(-1).expand(n, k, d))
        g = draws.normal(Stream.FACET_NOISE, (k, d), E.dtype)
        facets = unit(centres + (p.facet_noise / math.sqrt(d)) * g)
    w = -torch.log(draws.uniform(Stream.FACET_WEIGHT, (k,), E.dtype))
    w = w / w.sum(-1, keepdim=True)
    zeros = torch.zeros(n, d, dtype=E.dtype, device=E.device)
    topic = facets[:, 0].clone()
    active = torch.zeros(n, dtype=torch.bool, device=E.device)
    return UserState(facets, w, topic, active, zeros, mix_intent(facets, w, topic, active, p.mission_strength))


def interests(user: UserState, p: UserParams) -> tuple[torch.Tensor, torch.Tensor]:
    """The user's interests for the "facets" model: vectors (N, C, d) and log weights (N, C).

    C = K facets, plus the mission topic when ``mission_start > 0``. An active mission takes
    weight ``mission_strength`` and the facets share the rest in proportion to their weights;
    an inactive mission's weight is 0 (log weight -inf).
    """
    w = user.facet_weights
    if p.mission_start <= 0:
        return user.facets, torch.log(w)
    on = user.mission_active.unsqueeze(-1).to(w.dtype) * p.mission_strength  # (N, 1)
    vecs = torch.cat([user.facets, user.mission_topic.unsqueeze(1)], dim=1)
    return vecs, torch.log(torch.cat([(1.0 - on) * w, on], dim=1))


def _soft_max(cos: torch.Tensor, logw: torch.Tensor, tau: float) -> torch.Tensor:
    """``tau * logsumexp(logw + cos / tau)`` over the last axis of cos (..., C) and logw (broadcast)."""
    return tau * torch.logsumexp(logw + cos / tau, dim=-1)


def utility(vecs: torch.Tensor, user: UserState, p: UserParams, scale: float = 1.0) -> torch.Tensor:
    """True utility of items ``vecs`` (N, k, d) for each user: (N, k).

    "facets": a soft maximum over the user's interests, ``tau * log sum_c w_c exp(<x, F_c> / tau)``
    (see ``interests``); "blend": the cosine to the blended intent. Both less ``boredom_strength``
    times the (positive) similarity to fatigue, all times ``scale`` (the catalog's utility units,
    ``Simulator.utility_scale``).
    """
    if p.interest_model == "facets":
        f, logw = interests(user, p)
        u = _soft_max(torch.bmm(vecs, f.transpose(1, 2)), logw.unsqueeze(1), p.facet_temperature)
    else:
        u = row_dot(vecs, user.intent)
    if p.boredom_strength > 0:
        u = u - p.boredom_strength * row_dot(vecs, user.fatigue).clamp_min(0.0)
    return u * scale if scale != 1.0 else u


def utility_all(E: torch.Tensor, user: UserState, p: UserParams, scale: float = 1.0) -> torch.Tensor:
    """True utility of every catalog item (M, d) for every user: (N, M). Memory O(N M).

    The same operations in the same order as ``utility``'s formula, in place on (N, M) buffers:
    the allocations of fresh (N, M) tensors cost as much as the arithmetic on large catalogs.
    """
    if p.interest_model == "facets":
        f, logw = interests(user, p)
        tau = p.facet_temperature
        # a running logsumexp over the interests keeps memory at two (N, M) tensors
        u = term = None
        for c in range(f.shape[1]):
            term = torch.matmul(f[:, c], E.T, out=term).div_(tau).add_(logw[:, c : c + 1])
            if u is None:
                u, term = term, None
            else:
                torch.logaddexp(u, term, out=u)
        u.mul_(tau)  # type: ignore[union-attr]
    else:
        u = user.intent @ E.T
    if p.boredom_strength > 0:
        u.sub_((user.fatigue @ E.T).clamp_min_(0.0).mul_(p.boredom_strength))
    return u.mul_(scale) if scale != 1.0 else u


def consume(user: UserState, p: UserParams, clicked_sum: torch.Tensor, n_clicks: torch.Tensor) -> UserState:
    """Boredom and reinforcement after consuming the clicked items.

    clicked_sum: (N, d) sum of clicked item vectors; n_clicks: (N,) their count.
    Fatigue moves toward the mean consumed vector (and decays toward 0 without consumption);
    facet weights move toward the facets most similar to what was consumed.
    """
    any_click = (n_clicks > 0).unsqueeze(-1)
    mean_vec = clicked_sum / n_clicks.clamp_min(1).unsqueeze(-1).to(clicked_sum.dtype)
    fatigue, weights = user.fatigue, user.facet_weights
    if p.fatigue_rate > 0:
        fatigue = (1.0 - p.fatigue_rate) * fatigue + p.fatigue_rate * mean_vec
    if p.reinforce_rate > 0 and p.num_facets > 1:
        credit = row_dot(user.facets, unit(mean_vec)).clamp_min(0.0) + 1e-6
        credit = credit / credit.sum(-1, keepdim=True)
        moved = (1.0 - p.reinforce_rate) * weights + p.reinforce_rate * credit
        moved = moved.clamp_min(0.02)
        weights = torch.where(any_click, moved / moved.sum(-1, keepdim=True), weights)
    return UserState(user.facets, weights, user.mission_topic, user.mission_active, fatigue, user.intent)


def drift(user: UserState, p: UserParams, E: torch.Tensor, draws: StepDraws) -> UserState:
    """Gradual drift, abrupt shifts and missions for one step; recomputes the intent."""
    facets, topic, active = user.facets, user.mission_topic, user.mission_active
    n, k, d = facets.shape
    if p.drift_scale > 0:  # unit(facets + s g), in place on the fresh draws (the same values)
        g = draws.normal(Stream.DRIFT, (k, d), E.dtype)
        facets = unit_(g.mul_(p.drift_scale / math.sqrt(d)).add_(facets))
    if p.shift_hazard > 0:
        hit = draws.uniform(Stream.SHIFT_HAZARD, (k,), E.dtype) < p.shift_hazard
        facets = replace_where(
            hit,
            facets,
            draws,
            lambda dr, _: near_items(E, dr, Stream.SHIFT_ITEM, Stream.SHIFT_NOISE, (k,), p.facet_noise),
            fresh=p.drift_scale > 0,
        )
    if p.mission_start > 0:
        start = ~active & (draws.uniform(Stream.MISSION_START, (), E.dtype) < p.mission_start)
        end = active & (draws.uniform(Stream.MISSION_END, (), E.dtype) < p.mission_end)
        topic = replace_where(
            start,
            topic,
            draws,
            lambda dr, _: near_items(E, dr, Stream.MISSION_ITEM, Stream.MISSION_NOISE, (), p.facet_noise),
        )
        active = (active | start) & ~end
    intent = mix_intent(facets, user.facet_weights, topic, active, p.mission_strength)
    return UserState(facets, user.facet_weights, topic, active, user.fatigue, intent)


def organic_events(user: UserState, p: UserParams, draws: StepDraws) -> tuple[torch.Tensor, torch.Tensor]:
    """Organic search/browse events off the slate.

    Returns (flag (N,) bool, vector (N, d)): the query's embedding, a unit vector
    ``normalize(c + organic_noise g / sqrt(d))`` near one of the user's interests ``c`` (drawn by
    weight from ``interests`` under the "facets" model; the blended intent under "blend"), where
    flag is set (zeros elsewhere on CPU; unused there).
    """
    n, d = user.intent.shape
    if p.organic_rate <= 0:
        return torch.zeros(n, dtype=torch.bool, device=user.intent.device), torch.zeros_like(user.intent)
    flag = draws.uniform(Stream.ORGANIC, (), user.intent.dtype) < p.organic_rate
    scale = p.organic_noise / math.sqrt(d)

    def event(dr: StepDraws, rows: torch.Tensor | None) -> torch.Tensor:
        part = user if rows is None else take_rows(user, rows)  # the interests of these users only
        if p.interest_model == "facets":
            v, lw = interests(part, p)
        else:
            v, lw = part.intent.unsqueeze(1), torch.zeros_like(part.intent[:, :1])
        dr = dr.prefetch(((Stream.ORGANIC_FACET, 1), (Stream.ORGANIC_NOISE, normal_uniforms(d))))
        if v.shape[1] == 1:
            at = v[:, 0]
        else:
            cdf = torch.cumsum(torch.exp(lw.double()), dim=1)
            u = dr.uniform(Stream.ORGANIC_FACET, (), torch.float64).unsqueeze(1) * cdf[:, -1:]
            pick = torch.searchsorted(cdf, u).clamp_max(v.shape[1] - 1)  # (n, 1)
            at = torch.gather(v, 1, pick.unsqueeze(-1).expand(-1, 1, d)).squeeze(1)
        return unit(at + scale * dr.normal(Stream.ORGANIC_NOISE, (d,), at.dtype))

    return flag, replace_where(flag, torch.zeros_like(user.intent), draws, event, fresh=True)
