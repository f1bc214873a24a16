"""Exploration: how the shown slate departs from the greedy top-k, and with what probability.

Three modes (``RecParams.explore_mode``), each exploring with probability ``explore`` (eps):
"slot" replaces single slots by uniformly random non-greedy items (``explore``), "slate" replaces
the whole slate by k distinct uniform items (``explore_slates``), "softmax" by a Boltzmann sample
near the query, stratified by position (``explore_softmax``). ``slate_propensity`` gives the
position-wise probability of a shown slate under any of them, which off-policy estimators need.
All random numbers come from the counter-based per-user streams (``StepDraws``), so a user's
slate does not depend on the batch.
"""

from __future__ import annotations

import math

import torch

from driftrec.simulators.dynamics import Stream
from driftrec.simulators.host_sync import avoid_host_sync
from driftrec.simulators.rng import StepDraws


def exploring_slots(k: int, num_items: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(k,) bool: the slots that may explore in "slot" mode. A slate of k among ``num_items`` items
    has ``num_items - k`` items outside the greedy slate, so the slots at or beyond that count never
    explore (they would have no distinct item left to show)."""
    return torch.arange(k, device=device) < num_items - k


def explore(
    greedy: torch.Tensor, eps: torch.Tensor, num_items: int, draws: StepDraws
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Replace each slot, with probability ``eps`` (N,), by a uniformly random non-greedy item.

    Replacements are distinct from each other and from the greedy items, so a slate never repeats
    an item. Returns (items (N, k), explored (N, k) bool, pscore (N, k)): pscore is the probability
    that the shown item is at that position under this policy: ``1 - eps`` for a kept greedy item,
    ``eps / (M - k)`` for an explored one.
    """
    n, k = greedy.shape
    free = num_items - k
    explored = draws.uniform(Stream.EXPLORE_SLOT, (k,), eps.dtype) < eps.unsqueeze(-1)
    if free < k:
        explored &= exploring_slots(k, num_items, explored.device)
    pscore = torch.where(explored, eps.unsqueeze(-1) / max(free, 1), 1.0 - eps.unsqueeze(-1))
    if free <= 0 or (not avoid_host_sync(explored) and not bool(explored.any())):
        return greedy, explored, pscore
    u = draws.uniform(Stream.EXPLORE_ITEM, (k,), torch.float64)
    items = _distinct_picks(greedy, explored, torch.sort(greedy, dim=1).values, u, num_items)
    return items, explored, pscore


def _distinct_picks(
    items: torch.Tensor, explored: torch.Tensor, taken: torch.Tensor, u: torch.Tensor, num_items: int
) -> torch.Tensor:
    """Replace ``items[:, j]`` where ``explored[:, j]`` by a uniform item not in ``taken`` (sorted,
    (N, c)) and not picked at an earlier slot; ``u`` (N, k) float64 uniforms choose."""
    items = items.clone()
    if not avoid_host_sync(items):  # only the users that explore at all (their picks are the same)
        rows = explored.any(1).nonzero().squeeze(1)
        if rows.numel() < items.shape[0]:
            items[rows] = _distinct_picks(items[rows], explored[rows], taken[rows], u[rows], num_items)
            return items
    # only slots some user explores; a user's picks depend on its own explored slots alone, so a
    # user draws the same items whatever else is in the batch
    if avoid_host_sync(items):
        slots: torch.Tensor | slice = slice(None)  # every slot (a slot nobody explores changes nothing)
    else:
        slots = explored.any(0).nonzero().flatten()
        if slots.numel() == 0:
            return items
    ex = explored[:, slots]
    # the rank of each pick among the free items (not taken) that the user has not picked before
    left = (num_items - taken.shape[1]) - (torch.cumsum(ex, 1) - ex.long())
    v = torch.minimum((u[:, slots] * left).to(torch.int64), left - 1)
    # ranks -> free positions (a Lehmer decode, right to left): a later pick moves up past every
    # earlier pick at or below it. Column j still holds its rank when step j reads it, so a step
    # can update whole rows (3 operations, no slice views); pair[:, j, i]: slots i > j both explored
    c = v.shape[1]
    later = torch.ones(c, c, dtype=torch.bool, device=v.device).triu(1)
    pair = ex.unsqueeze(2) & ex.unsqueeze(1) & later
    rank = v
    for j in range(c - 2, -1, -1):
        v = v + (pair[:, j] & (v >= rank[:, j : j + 1]))
    # free position f -> item: f + #{i : taken_i - i <= f} for taken sorted
    gaps = taken - torch.arange(taken.shape[1], device=taken.device)
    x = v + (gaps.unsqueeze(1) <= v.unsqueeze(2)).sum(2)
    items[:, slots] = torch.where(ex, x, items[:, slots])
    return items


def explore_slates(
    greedy: torch.Tensor, eps: torch.Tensor, num_items: int, draws: StepDraws
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """With probability ``eps`` (N,) show k distinct items drawn uniformly from the whole catalog
    instead of the greedy slate (``explore_mode="slate"``).

    Returns (items (N, k), explored (N, k) bool, pscore (N, k)) as ``explore`` does; here every
    item can appear at every position: pscore is ``(1 - eps) [item is the greedy one] + eps / M``.
    """
    n, k = greedy.shape
    coin = draws.uniform(Stream.EXPLORE_SLATE, (), eps.dtype) < eps
    explored = coin.unsqueeze(1).expand(n, k)
    items = greedy
    if avoid_host_sync(coin) or bool(coin.any()):
        u = draws.uniform(Stream.EXPLORE_ITEM, (k,), torch.float64)
        items = _distinct_picks(greedy, explored, greedy.new_empty(n, 0), u, num_items)
    return items, explored, slate_propensity(greedy, eps, items, num_items, "slate")


def _stratum_logits(E: torch.Tensor, q: torch.Tensor, k: int, temperature: float, row_block: int) -> torch.Tensor:
    """Logits (n, L, k) float64 of ``softmax`` exploration: item a sits at [a // k, a % k] (its
    stratum is a % k), padding past M is -inf. Scores are computed ``row_block`` users at a time
    (zero-padded), so a user's bits do not depend on the batch (see ``top_k``)."""
    n, d = q.shape
    m = E.shape[0]
    pad = (-n) % row_block
    qp = torch.cat([q, q.new_zeros(pad, d)]) if pad else q
    scores = torch.cat([qp[r : r + row_block] @ E.T for r in range(0, n + pad, row_block)])[:n]
    z = scores.to(torch.float64) / temperature
    width = -(-m // k) * k
    if width > m:
        z = torch.cat([z, z.new_full((n, width - m), -math.inf)], dim=1)
    return z.view(n, width // k, k)


def _stratum_probs(
    E: torch.Tensor, q: torch.Tensor, k: int, temperature: float, floor: float, row_block: int
) -> torch.Tensor:
    """pi (n, L, k) float64: ``(1 - floor) softmax(z) + floor / size`` within each stratum (column)
    of ``_stratum_logits``; padding stays 0."""
    z = _stratum_logits(E, q, k, temperature, row_block)
    soft = torch.exp(z - torch.logsumexp(z, dim=1, keepdim=True))
    if floor <= 0:
        return soft
    valid = torch.isfinite(z).to(z.dtype)
    return (1.0 - floor) * soft + floor * valid / valid.sum(1, keepdim=True)


def stratum_shares(
    E: torch.Tensor, q: torch.Tensor, k: int, temperature: float, floor: float = 0.0, row_block: int = 64
) -> torch.Tensor:
    """pi (N, M) float64: every item's probability within its stratum (item index mod ``k``) under
    softmax exploration (see ``explore_softmax``); each stratum's shares sum to 1."""
    pi = _stratum_probs(E, q, k, temperature, floor, row_block)
    return pi.reshape(pi.shape[0], -1)[:, : E.shape[0]]  # column l * k + c is item l * k + c


def softmax_share(
    E: torch.Tensor, q: torch.Tensor, items: torch.Tensor, temperature: float, floor: float = 0.0, row_block: int = 64
) -> torch.Tensor:
    """pi (N, k) float64 of ``items`` (N, k): ``stratum_shares`` at the shown items."""
    return torch.gather(stratum_shares(E, q, items.shape[1], temperature, floor, row_block), 1, items)


def explore_softmax(
    greedy: torch.Tensor,
    eps: torch.Tensor,
    E: torch.Tensor,
    q: torch.Tensor,
    temperature: float,
    draws: StepDraws,
    row_block: int = 64,
    floor: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """With probability ``eps`` (N,) show a Boltzmann sample near the query ``q`` (N, d) instead of
    the greedy slate (``explore_mode="softmax"``).

    The catalog is split into k strata by item index (stratum c holds the items a with
    a mod k = c); from each stratum one item is drawn with probability ``pi_a = (1 - floor)
    exp(s_a / T) / sum_{b in c} exp(s_b / T) + floor / |c|`` (``s = E q``, T = ``temperature``;
    the uniform ``floor`` is a defensive mixture that keeps every item's probability at least
    ``floor / |c|``), and stratum c goes to position (c - r) mod k for a uniform rotation r. So
    the k items are distinct, every item can appear at every position, and its position-wise
    probability is exactly ``pi_a / k``.

    Returns (items (N, k), explored (N, k) bool, pscore (N, k)) as ``explore`` does; pscore is
    ``(1 - eps) [item is the greedy one] + eps * pi / k``.
    """
    n, k = greedy.shape
    m = E.shape[0]
    coin = draws.uniform(Stream.EXPLORE_SLATE, (), eps.dtype) < eps
    explored = coin.unsqueeze(1).expand(n, k)
    items = greedy
    # on CPU only the users that can explore need the scores
    cpu = not avoid_host_sync(greedy)
    rows = (eps > 0).nonzero().squeeze(1) if cpu else torch.arange(n, device=greedy.device)
    share = torch.zeros(n, k, dtype=torch.float64, device=greedy.device)
    if rows.numel():
        pi = _stratum_probs(E, q[rows], k, temperature, floor, row_block)  # (r, L, k)
        dr = draws.take(rows) if rows.numel() < n else draws
        rot = dr.integers(Stream.EXPLORE_ROTATE, k)  # (r,)
        strata = (torch.arange(k, device=greedy.device) + rot.unsqueeze(1)) % k  # (r, k): position j's stratum
        cdf = torch.cumsum(pi, dim=1).transpose(1, 2)  # (r, k strata, L)
        cdf_pos = torch.gather(cdf, 1, strata.unsqueeze(-1).expand(-1, -1, cdf.shape[2])).contiguous()
        u = dr.fine_uniform(Stream.EXPLORE_SOFT, (k,)) * cdf_pos[:, :, -1]
        level = torch.searchsorted(cdf_pos, u.unsqueeze(-1)).squeeze(-1)
        last = (m - 1 - strata) // k  # the last level holding an item of the stratum
        picks = torch.minimum(level, last) * k + strata
        on = coin[rows].unsqueeze(1)
        chosen = torch.where(on, picks, greedy[rows])
        items = greedy.clone()
        items[rows] = chosen
        share[rows] = torch.gather(pi.reshape(pi.shape[0], -1), 1, chosen)
    return items, explored, slate_propensity(greedy, eps, items, m, "softmax", share)


def slate_propensity(
    greedy: torch.Tensor,
    eps: torch.Tensor,
    items: torch.Tensor,
    num_items: int,
    mode: str,
    share: torch.Tensor | None = None,
) -> torch.Tensor:
    """Probability (N, k) that a policy whose greedy slate is ``greedy`` (N, k), exploring with
    ``eps`` (N,) in ``mode`` ("slot", "slate" or "softmax", see ``RecParams.explore_mode``), shows
    ``items[:, j]`` at position j. The position-wise marginals that off-policy estimators need.
    "softmax" needs ``share``: the items' stratum shares under the policy's query
    (``softmax_share``)."""
    k = greedy.shape[1]
    e = eps.unsqueeze(-1)
    same = items == greedy
    if mode == "softmax":
        if share is None:
            raise ValueError("softmax propensities need the items' stratum shares (softmax_share)")
        return ((1.0 - e.double()) * same.double() + e.double() * share.double() / k).to(eps.dtype)
    if mode == "slate":
        return (1.0 - e) * same.to(e.dtype) + e / num_items
    free = num_items - k
    e = e * exploring_slots(k, num_items, greedy.device).to(e.dtype)
    in_greedy = (items.unsqueeze(2) == greedy.unsqueeze(1)).any(2)
    other = torch.where(in_greedy, torch.zeros_like(e), e / max(free, 1))
    return torch.where(same, 1.0 - e, other)


def select(
    greedy: torch.Tensor,
    eps: torch.Tensor,
    num_items: int,
    draws: StepDraws,
    mode: str,
    *,
    E: torch.Tensor | None = None,
    q: torch.Tensor | None = None,
    temperature: float = 0.2,
    row_block: int = 64,
    floor: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The shown slate: ``explore`` ("slot"), ``explore_slates`` ("slate") or ``explore_softmax``
    ("softmax", which needs the catalog ``E`` and the queries ``q``) of the greedy one."""
    if mode == "softmax":
        if E is None or q is None:
            raise ValueError("softmax exploration needs the catalog E and the queries q")
        return explore_softmax(greedy, eps, E, q, temperature, draws, row_block, floor)
    if mode == "slate":
        return explore_slates(greedy, eps, num_items, draws)
    return explore(greedy, eps, num_items, draws)
