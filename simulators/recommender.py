"""The recommender the agent steers: profiles, query, slate selection with exploration, features.

Per user: a short-term profile ``s`` and a long-term profile ``l`` (unit vectors). On evidence
``e`` (clicked items and organic events, weighted by type):
``s <- normalize((1 - alpha) s + alpha e)``, ``l <- normalize((1 - long_rate) l + long_rate e)``.
Query ``q = normalize(mix * s + (1 - mix) * l)``; the slate is the top-k of ``E q`` with a share
``explore`` of its slots replaced by uniformly random other items (``explore_mode="slot"``), or,
with probability ``explore``, replaced whole by k uniformly random items (``"slate"``) or by a
Boltzmann sample near the query (``"softmax"``); the picks are in ``simulators.explore``.
"""

from __future__ import annotations

import math

import torch

from driftrec.simulators.dynamics import Stream, unit
from driftrec.simulators.explore import (  # noqa: F401  (the exploration picks lived here before)
    explore,
    explore_slates,
    explore_softmax,
    exploring_slots,
    select,
    slate_propensity,
    softmax_share,
    stratum_shares,
)
from driftrec.simulators.host_sync import avoid_host_sync, eagerly
from driftrec.simulators.params import RecParams
from driftrec.simulators.rng import StepDraws
from driftrec.simulators.state import RecState

NUM_FEATURES = 11
FEATURE_NAMES = (
    "ctr_fast",
    "ctr_slow",
    "since_click",
    "cos_short_long",
    "change_signal",
    "evidence",
    "last_alpha",
    "last_mix",
    "last_explore",
    "progress",
    "organic",
)
"""Observation columns. cos_* and change_signal lie in [-1, 1], everything else in [0, 1]."""
FEATURE_LOW = torch.tensor([0, 0, 0, -1, -1, 0, 0, 0, 0, 0, 0], dtype=torch.float32)
FEATURE_HIGH = torch.ones(NUM_FEATURES, dtype=torch.float32)


def init_rec(intent: torch.Tensor, p: RecParams, draws: StepDraws, prior: torch.Tensor | None = None) -> RecState:
    """Both profiles start at ``prior`` (N, d) (a population member's LLM-derived vector) or,
    without one, at a noisy copy of the true intent (``prior_noise`` sets how noisy)."""
    n, d = intent.shape
    if prior is None:
        g = draws.normal(Stream.PRIOR_NOISE, (d,), intent.dtype)
        prior = unit(intent + (p.prior_noise / math.sqrt(d)) * g)
    z = torch.zeros(n, dtype=intent.dtype, device=intent.device)
    w = torch.stack([z + p.default_alpha, z + p.default_mix, z + p.default_explore], dim=1)
    return RecState(prior, prior.clone(), w, z + 1.0, z.clone(), z.clone(), z.clone(), z.clone(), z.clone())


def query(rec: RecState, mix: torch.Tensor) -> torch.Tensor:
    """(N, d) query from the profiles, ``mix`` (N,) in [0, 1] on the short-term side."""
    m = mix.unsqueeze(-1)
    q = unit(m * rec.short + (1.0 - m) * rec.long)
    # s and l opposite with mix 1/2 cancel out: fall back to the short-term profile
    return torch.where(q.norm(dim=-1, keepdim=True) > 0.5, q, rec.short)


BMM_SCORES = 2**20
"""Most scores (users x items) one batched CPU product in ``top_k`` makes (4 MiB of float32). Larger
products leave the cache before their top-k: at 2**22, N = 1,024 and M = 10k stepped 1.5x slower."""


def row_block_for(device: torch.device) -> int:
    """Users scored per matrix product: small on CPU, large on GPUs (where launches cost more)."""
    return 1024 if device.type == "cuda" else 64


TAIL_BLOCKS = (4, 8, 16, 32)
"""Row counts of the product that scores the last ``N mod row_block`` users (all of them when
there are fewer than ``row_block``: one user in the single env; the few users whose query changed
under fixed weights) on CPU, instead of padding them to ``row_block`` rows, where the BLAS gives
every row the bits it gets in a ``row_block``-row product (``tail_blocks_for`` checks)."""


def tail_blocks_for(E: torch.Tensor, row_block: int, chunk: int) -> tuple[int, ...]:
    """The sizes of ``TAIL_BLOCKS`` below ``row_block`` whose products with the catalog ``E`` (M, d)
    give each row the bits of a ``row_block``-row product, at every product shape ``top_k`` (items
    ``chunk`` at a time) and softmax exploration (all M items) make; () on GPUs.

    A BLAS's summation order depends on the shapes, not on the values, so one check per shape with
    fixed random queries settles it (cached by shape): a ``row_block``-row product against the same
    queries one row further down (a row's bits do not depend on its position) and against its first
    rows scored in each smaller size."""
    if E.device.type != "cpu":
        return ()
    m = E.shape[0]
    sizes = {min(chunk, m), m} | ({m % chunk} if m > chunk and m % chunk else set())
    return _tail_blocks_for(E, tuple(sorted(sizes)), row_block)


def _tail_blocks_for(E: torch.Tensor, sizes: tuple[int, ...], row_block: int) -> tuple[int, ...]:
    key = (E.shape[1], E.stride(), E.dtype, sizes, row_block)
    if key not in _TAIL_BLOCKS:
        g = torch.Generator().manual_seed(0)
        q = unit(torch.randn(row_block, E.shape[1], generator=g, dtype=E.dtype))
        ok = [b for b in TAIL_BLOCKS if b < row_block and row_block % b == 0]
        for size in sizes:
            part = E[:size]
            full = q @ part.T
            if not torch.equal(q.roll(1, 0) @ part.T, full.roll(1, 0)):
                ok = []
            ok = [b for b in ok if torch.equal(q[:b] @ part.T, full[:b])]
        _TAIL_BLOCKS[key] = tuple(ok)
    return _TAIL_BLOCKS[key]


_TAIL_BLOCKS: dict[tuple, tuple[int, ...]] = {}


def tail_block(rows: int, row_block: int, tails: tuple[int, ...]) -> int:
    """Rows of the product that scores ``rows`` (< ``row_block``) users: the smallest of ``tails``
    that holds them, else ``row_block``."""
    return next((b for b in tails if b >= rows), row_block)


def top_k(
    E: torch.Tensor, q: torch.Tensor, k: int, chunk: int = 65536, row_block: int = 64, tails: tuple[int, ...] = ()
) -> torch.Tensor:
    """Indices (N, k) of the k items with the highest ``E q``, best first; ties go to the lower index.

    Users are scored ``row_block`` at a time and items ``chunk`` at a time, so every product has
    the same shape whatever N is; the last ``N mod row_block`` users are zero-padded to
    ``row_block`` rows, or to the smallest of ``tails`` (``tail_blocks_for``: sizes whose rows get
    the same bits) that holds them. BLAS gives a row the same bits in equal-shaped products, so a
    user's slate does not depend on who else is in the batch (a single N-row product can differ in
    the last bit from a 1-row one and flip exact ties). Memory is O(row_block * (chunk + k)), or
    ``BMM_SCORES`` where small catalogs batch several blocks.
    """
    n, d = q.shape
    m = E.shape[0]
    rest = n % row_block
    full = n - rest
    # small catalogs on CPU: several row blocks in one batched product (a bmm of equal-shaped
    # (row_block, d) x (d, M) products, so the same bits), up to BMM_SCORES scores at once
    group = max(1, BMM_SCORES // (row_block * m)) if (q.device.type == "cpu" and m <= chunk) else 1
    blocks = []
    for r in range(0, full, row_block * group):
        qb = q[r : min(r + row_block * group, full)]
        b = qb.shape[0] // row_block
        if b == 1:
            blocks.append(_top_k_block(E, qb, k, chunk, row_block))
        else:
            scores = torch.bmm(qb.view(b, row_block, d), E.T.expand(b, d, m)).reshape(-1, m)
            blocks.append(torch.topk(scores, min(k, m), dim=1))
    if rest:  # padding rows are scored (equal shapes) but never ranked
        size = tail_block(rest, row_block, tails)
        qt = q[full:] if size == rest else torch.cat([q[full:], q.new_zeros(size - rest, d)])
        blocks.append(_top_k_block(E, qt, k, chunk, rest))
    if len(blocks) == 1:
        vals, idx = blocks[0]
    else:
        vals, idx = torch.cat([b[0] for b in blocks]), torch.cat([b[1] for b in blocks])
    if not avoid_host_sync(idx) and not bool((vals[:, 1:] == vals[:, :-1]).any()):
        return idx  # no ties: topk's order (scores descending) is the answer
    # order ties by item index: sort by index, then stable sort by score
    idx, perm = torch.sort(idx, dim=1)
    vals = torch.gather(vals, 1, perm)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices
    return torch.gather(idx, 1, order)


CACHE_IN_GRAPH_SCORES = 2**20
"""A compiled step below this many scores (users x items) scores every user inside the graph; at
or above it, ``SlateCache`` runs eagerly in a graph break and scores only the changed queries
(where every query changes, as under PPO, the break costs little beside that much scoring)."""


class SlateCache:
    """The greedy slates of the previous step and the queries they answered, for ``top_k``.

    A user whose query is bit-for-bit the one of the previous step (no evidence arrived and the
    mix weight did not change) gets its previous slate without being scored again. This is exact:
    a row's top-k depends on its query alone (see ``top_k``), so it changes speed, not slates.
    Used on CPU only (finding the changed rows would cost a device sync on a GPU). In a compiled
    step it runs eagerly in a graph break where a full scoring would cost more than the break
    (``CACHE_IN_GRAPH_SCORES``).
    """

    def __init__(self) -> None:
        self.q: torch.Tensor | None = None
        self.slates: torch.Tensor | None = None

    def clear(self) -> None:
        """Forget the previous step (every row is scored at the next)."""
        self.q = self.slates = None

    def top_k(
        self,
        E: torch.Tensor,
        q: torch.Tensor,
        k: int,
        chunk: int = 65536,
        row_block: int = 64,
        tails: tuple[int, ...] = (),
    ) -> torch.Tensor:
        """``top_k(E, q, k, chunk, row_block, tails)``, scoring only the rows whose query changed."""
        if torch.compiler.is_compiling() and q.shape[0] * E.shape[0] < CACHE_IN_GRAPH_SCORES:
            return top_k(E, q, k, chunk, row_block, tails)
        return eagerly(self._top_k, E, q, k, chunk, row_block, tails)

    def _top_k(
        self, E: torch.Tensor, q: torch.Tensor, k: int, chunk: int, row_block: int, tails: tuple[int, ...]
    ) -> torch.Tensor:
        if avoid_host_sync(q) or self.q is None or self.q.shape != q.shape:
            out = top_k(E, q, k, chunk, row_block, tails)
        else:
            rows = (q != self.q).any(1).nonzero().squeeze(1)
            if rows.numel() == q.shape[0]:  # every query changed (PPO's mix weight moves every step)
                out = top_k(E, q, k, chunk, row_block, tails)
            else:
                out = self.slates.clone()  # type: ignore[union-attr]
                if rows.numel():
                    out[rows] = top_k(E, q[rows], k, chunk, row_block, tails)
        self.q, self.slates = q, out
        return out


def _top_k_block(E: torch.Tensor, q: torch.Tensor, k: int, chunk: int, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Values and indices (rows, k) of the best k items for the first ``rows`` of the block ``q``."""
    m = E.shape[0]
    best_s = best_i = None
    for start in range(0, m, chunk):
        s = (q @ E[start : start + chunk].T)[:rows]
        cs, ci = torch.topk(s, min(k, s.shape[1]), dim=1)
        ci = ci + start
        if best_s is None:
            best_s, best_i = cs, ci
        else:
            cat_s, cat_i = torch.cat([best_s, cs], 1), torch.cat([best_i, ci], 1)
            best_s, pos = torch.topk(cat_s, min(k, cat_s.shape[1]), dim=1)
            best_i = torch.gather(cat_i, 1, pos)
    return best_s, best_i  # type: ignore[return-value]


def update(
    rec: RecState,
    p: RecParams,
    weights: torch.Tensor,
    clicked_sum: torch.Tensor,
    n_clicks: torch.Tensor,
    organic_flag: torch.Tensor,
    organic_vec: torch.Tensor,
    slate_size: int,
) -> RecState:
    """Fold one step's evidence into the profiles and the tracked statistics.

    weights: (N, 3) alpha, mix, explore used this step. clicked_sum: (N, d). n_clicks: (N,).
    organic_flag: (N,) bool; organic_vec: (N, d).
    """
    dt = rec.short.dtype
    raw = p.click_weight * clicked_sum + p.organic_weight * organic_flag.unsqueeze(-1).to(dt) * organic_vec
    norm = raw.norm(dim=-1)
    has = norm > 1e-6
    e = raw / norm.clamp_min(1e-6).unsqueeze(-1)
    alpha = weights[:, :1]
    s_new = unit((1.0 - alpha) * rec.short + alpha * e)
    s_new = torch.where(s_new.norm(dim=-1, keepdim=True) > 0.5, s_new, e)  # e exactly opposite s, alpha 1/2
    l_new = unit((1.0 - p.long_rate) * rec.long + p.long_rate * e)
    l_new = torch.where(l_new.norm(dim=-1, keepdim=True) > 0.5, l_new, e)
    hm = has.unsqueeze(-1)
    change = torch.where(has, (rec.short * e).sum(-1).clamp(-1.0, 1.0), rec.change)
    frac = n_clicks.to(dt) / slate_size
    clicked = n_clicks > 0
    return RecState(
        short=torch.where(hm, s_new, rec.short),
        long=torch.where(hm, l_new, rec.long),
        weights=weights,
        change=change,
        evidence=has.to(dt),
        ctr_fast=0.7 * rec.ctr_fast + 0.3 * frac,
        ctr_slow=0.97 * rec.ctr_slow + 0.03 * frac,
        since_click=torch.where(clicked, torch.zeros_like(rec.since_click), rec.since_click + 1.0),
        organic=0.9 * rec.organic + 0.1 * organic_flag.to(dt),
    )


def features(rec: RecState, t: torch.Tensor, horizon: int, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Observation (N, NUM_FEATURES) float32, columns as in FEATURE_NAMES, clamped to [low, high]
    (FEATURE_LOW/FEATURE_HIGH on the state's device) against float rounding."""
    cos_sl = (rec.short * rec.long).sum(-1).clamp(-1.0, 1.0)
    cols = [
        rec.ctr_fast,
        rec.ctr_slow,
        1.0 - torch.exp(-rec.since_click / 10.0),
        cos_sl,
        rec.change,
        rec.evidence,
        rec.weights[:, 0],
        rec.weights[:, 1],
        rec.weights[:, 2],
        t.to(rec.short.dtype) / horizon,
        rec.organic,
    ]
    obs = torch.stack(cols, dim=1).to(torch.float32)
    return obs.clamp(low, high)
