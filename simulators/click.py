"""Click models: utility of the shown items -> clicks.

Both models take uniforms ``u`` (N, k) from the caller's random stream, so the same uniforms give
common random numbers across agents.
"""

from __future__ import annotations

import torch

from driftrec.simulators.params import ClickParams
from driftrec.simulators.recommender import exploring_slots


def examination(slate_size: int, p: ClickParams, device: torch.device | str = "cpu") -> torch.Tensor:
    """Examination probability of each slot (k,): ``(j + 1) ** -exam_decay``."""
    return (torch.arange(slate_size, device=device, dtype=torch.float32) + 1.0) ** (-p.exam_decay)


def attraction(util: torch.Tensor, p: ClickParams) -> torch.Tensor:
    """Attraction probability (N, k) of items with utility ``util`` (N, k)."""
    return p.accidental + (1.0 - p.accidental) * torch.sigmoid(p.beta * (util - p.threshold))


def click_probabilities(util: torch.Tensor, p: ClickParams, exam: torch.Tensor) -> torch.Tensor:
    """Marginal probability (N, k) that each slot is clicked."""
    a = attraction(util, p)
    if p.model == "position":
        return exam * a
    # cascade: clicked at j iff attracted at j and at no earlier slot
    not_before = torch.cumprod(torch.cat([torch.ones_like(a[:, :1]), 1.0 - a[:, :-1]], dim=1), dim=1)
    return a * not_before


def sample_clicks(util: torch.Tensor, p: ClickParams, exam: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Clicks (N, k) bool given utilities (N, k) and uniforms ``u`` (N, k) in (0, 1)."""
    a = attraction(util, p)
    if p.model == "position":
        return u < exam * a
    attracted = u < a
    first = attracted & (torch.cumsum(attracted.to(torch.int32), dim=1) == 1)
    return first


def choose_one(weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """One index per row, with probability proportional to ``weights`` (N, M) >= 0, by inverse CDF
    of the uniforms ``u`` (N,) in (0, 1). Returns (N,) int64."""
    cdf = torch.cumsum(weights.to(torch.float64), dim=1)
    target = (u.to(torch.float64) * cdf[:, -1]).unsqueeze(1)
    return torch.searchsorted(cdf, target).squeeze(1).clamp_max(weights.shape[1] - 1)


def expected_clicks(
    greedy: torch.Tensor,
    eps: torch.Tensor,
    attr: torch.Tensor,
    exam: torch.Tensor,
    mode: str,
    shares: torch.Tensor | None = None,
) -> torch.Tensor:
    """Expected clicks (N,) of a policy with greedy slate ``greedy`` (N, k) exploring with ``eps``
    (N,) in ``mode`` (``explore.select``), under the position-based click model: attraction
    ``attr`` (N, M) of every item, examination ``exam`` (k,). "softmax" needs the policy's
    ``explore.stratum_shares`` (N, M): an explored slate shows item a at any position with probability pi_a / k."""
    n, k = greedy.shape
    m = attr.shape[1]
    ag = torch.gather(attr, 1, greedy)
    e = eps.unsqueeze(-1).to(attr.dtype)
    if mode == "softmax":
        if shares is None:
            raise ValueError("softmax expected clicks need the policy's stratum shares")
        other = ((shares * attr.double()).sum(1, keepdim=True) / k).to(attr.dtype)
    elif mode == "slate":
        other = attr.mean(1, keepdim=True)
    else:
        e = e * exploring_slots(k, m, attr.device).to(attr.dtype)
        other = ((attr.sum(1) - ag.sum(1)) / max(m - k, 1)).unsqueeze(-1)
    return (exam * ((1.0 - e) * ag + e * other)).sum(1)
