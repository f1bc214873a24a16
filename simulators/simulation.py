"""The batched simulator: one scenario over one catalog, N users at once, on one device.

One step, for every user at once::

    slate  = top-k of E q (q from the profiles and the mix weight), exploring a share of slots
    clicks = click model on the true utility of the slate (intent, less boredom)
    user   : fatigue and facet weights follow consumption; facets drift, shift; missions come/go
    organic: the user may search on their own (an event near the intent)
    rec    : profiles absorb clicks and organic events at rate alpha (short) and long_rate (long)
    end    : churn after a click-less step (terminated), or the horizon (truncated)
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import torch

from driftrec.simulators import dynamics, explore, recommender
from driftrec.simulators.catalog import NEIGHBOUR_COS, Catalog
from driftrec.simulators.click import attraction, choose_one, examination, sample_clicks
from driftrec.simulators.dynamics import Stream
from driftrec.simulators.host_sync import draws_for_everyone
from driftrec.simulators.population import Population
from driftrec.simulators.rng import CounterRNG, StepDraws, normal_uniforms
from driftrec.simulators.scenarios import Scenario
from driftrec.simulators.state import RecState, SimState, UserState, scatter_rows, take_rows, where_rows

SLATE_BLOCK_BYTES = 8 << 20
"""Most bytes of shown-item vectors (users x k x d float32) ``Simulator.step`` gathers at once on CPU."""

SHIFT_COS = 0.8
"""An intent that moves to cosine below this with its previous value in one step counts as a shift."""


@dataclass
class StepResult:
    """What one step produced (N rows).

    items: (N, k) shown item indices.  clicks: (N, k) bool.  pscore: (N, k) propensity of each shown
    item at its position.  reward: (N,) clicks in the slate.  terminated: (N,) churned.
    truncated: (N,) reached the horizon.  organic: (N,) organic event happened.
    shift: (N,) the hidden intent moved abruptly this step (cosine between the intents before and
    after below ``SHIFT_COS``): an abrupt shift of a weighty facet, or a mission starting or ending.
    Hidden: for analysis (shift-aligned curves), never for agents.
    weights: (N, 3) the weights the profiles were updated with.  organic_vec: (N, d) the organic
    event's vector (rows without an event hold an unused vector). Together with items and clicks
    they are the evidence the recommender saw, so other weightings can be replayed on it.
    """

    items: torch.Tensor
    clicks: torch.Tensor
    pscore: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    organic: torch.Tensor
    shift: torch.Tensor
    weights: torch.Tensor
    organic_vec: torch.Tensor


def step_requests(scenario: Scenario, dim: int, rare: tuple[bool, bool]) -> tuple[tuple[int, int], ...]:
    """The (stream, element count) draws that every step of ``scenario`` makes for every user, for
    ``StepDraws.prefetch``. Draws made only for the users an event hits (new facets, mission
    topics, organic queries) are hashed for those users alone on CPU, but for every user where the
    step avoids host syncs (see ``dynamics.replace_where``); ``rare`` says which are prefetched:
    (new facets, one vector per user: new topics and organic queries)."""
    u, r, k = scenario.user, scenario.rec, scenario.slate_size
    f = u.num_facets
    rare_facets, rare_vectors = rare

    req = [(Stream.CLICK, k)]
    if r.explore_mode == "slot":
        req += [(Stream.EXPLORE_SLOT, k), (Stream.EXPLORE_ITEM, k)]
    elif r.explore_mode == "slate":
        req += [(Stream.EXPLORE_SLATE, 1), (Stream.EXPLORE_ITEM, k)]
    else:
        req += [(Stream.EXPLORE_SLATE, 1), (Stream.EXPLORE_ROTATE, 1), (Stream.EXPLORE_SOFT, 2 * k)]
    if u.drift_scale > 0:
        req.append((Stream.DRIFT, normal_uniforms(f * dim)))
    if u.shift_hazard > 0:
        req.append((Stream.SHIFT_HAZARD, f))
        if rare_facets:
            req += [(Stream.SHIFT_ITEM, f), (Stream.SHIFT_NOISE, normal_uniforms(f * dim))]
    if u.mission_start > 0:
        req += [(Stream.MISSION_START, 1), (Stream.MISSION_END, 1)]
        if rare_vectors:
            req += [(Stream.MISSION_ITEM, 1), (Stream.MISSION_NOISE, normal_uniforms(dim))]
    if u.organic_rate > 0:
        req.append((Stream.ORGANIC, 1))
        if rare_vectors:
            req += [(Stream.ORGANIC_FACET, 1), (Stream.ORGANIC_NOISE, normal_uniforms(dim))]
    if u.churn_rate > 0:
        req.append((Stream.CHURN, 1))
    return tuple(req)


class Simulator:
    """Pure batched dynamics of ``scenario`` over ``catalog``; holds parameters, not state.

    Args:
        scenario: the Scenario (parameters of users, clicks and recommender, slate size, horizon).
        catalog: the items; moved to ``device`` as float32.
        device: torch device for every tensor.
        score_chunk: items scored at a time when choosing the slate (bounds memory).
        population: where new users' interests and the recommender's priors start (see
            ``population``); None draws facets near random items.
    """

    def __init__(
        self,
        scenario: Scenario,
        catalog: Catalog,
        device: torch.device | str = "cpu",
        score_chunk: int = 65536,
        population: Population | None = None,
    ) -> None:
        if catalog.num_items < scenario.slate_size:
            raise ValueError(f"the catalog has {catalog.num_items} items, fewer than slate_size={scenario.slate_size}")
        if population is not None and population.dim != catalog.dim:
            raise ValueError(
                f"the population's vectors have {population.dim} dimensions but the catalog's have {catalog.dim}; "
                "build both with the same encoder"
            )
        self.scenario = scenario
        self.device = torch.device(device)
        self.E = catalog.embeddings.to(self.device, torch.float32)
        self.num_items, self.dim = self.E.shape
        self.k = scenario.slate_size
        self.score_chunk = score_chunk
        self.row_block = recommender.row_block_for(self.device)
        self.tail_blocks = recommender.tail_blocks_for(self.E, self.row_block, score_chunk)
        self._obs_low = recommender.FEATURE_LOW.to(self.device)
        self._obs_high = recommender.FEATURE_HIGH.to(self.device)
        self.exam = examination(self.k, scenario.click, self.device)
        # utility units (UserParams.utility_units): cosines scaled to the catalog's local similarity
        units = scenario.user.utility_units
        if units == "catalog" and catalog.neighbour_cos < 0.05:
            raise ValueError(
                f"the catalog's items have no near neighbours (mean 10th-neighbour cosine {catalog.neighbour_cos}, "
                "below 0.05), so catalog utility units are undefined; set utility_units=cosine"
            )
        self.utility_scale = NEIGHBOUR_COS / catalog.neighbour_cos if units == "catalog" else 1.0
        self.population = population.to(self.device) if population is not None else None
        # the draws to prefetch, by which rare events draw for every user (see ``draws``)
        pairs = itertools.product((False, True), repeat=2)
        self._prefetch = {rare: step_requests(scenario, self.dim, rare) for rare in pairs}
        self._rng: CounterRNG | None = None  # the last state's generator (see ``draws``)

    @property
    def explore_temperature(self) -> float:
        """The "softmax" exploration temperature on raw scores: ``explore_temperature`` is in
        utility units, so it is divided by ``utility_scale``."""
        return self.scenario.rec.explore_temperature / self.utility_scale

    def _fresh(self, keys: torch.Tensor, episode: torch.Tensor) -> SimState:
        t = torch.zeros_like(keys)
        # episode starts use their own step index so they never share draws with step 0
        draws = CounterRNG(keys, episode).at(t - 1)
        pop = self.population
        if pop is None:
            user = dynamics.init_users(self.E, self.scenario.user, draws)
            rec = recommender.init_rec(user.intent, self.scenario.rec, draws)
        else:
            member = draws.integers(Stream.MEMBER, pop.num_members)
            user = dynamics.init_users(self.E, self.scenario.user, draws, pop.anchors[member], pop.counts[member])
            rec = recommender.init_rec(user.intent, self.scenario.rec, draws, pop.prior[member])
        return SimState(user, rec, t, keys, episode)

    def init(self, keys: torch.Tensor) -> SimState:
        """Fresh users (episode 0) for user keys (N,) int64 (see ``rng.seed_to_key``)."""
        keys = keys.to(self.device, torch.int64)
        return self._fresh(keys, torch.zeros_like(keys))

    def reset_rows(self, state: SimState, rows: torch.Tensor) -> SimState:
        """New episodes for users ``rows`` (long indices): their next episode's fresh state."""
        part = self._fresh(state.keys[rows], state.episode[rows] + 1)
        return scatter_rows(state, rows, part)

    def draws(self, state: SimState) -> StepDraws:
        """The random draws of the users' current step (shared by ``recommend`` and ``step``)."""
        n, dev = state.keys.shape[0], state.keys.device
        f = self.scenario.user.num_facets
        requests = self._prefetch[draws_for_everyone(n * f * self.dim, dev), draws_for_everyone(n * self.dim, dev)]
        if torch.compiler.is_compiling():  # a compiled step keeps no generator between calls
            return CounterRNG(state.keys, state.episode).at(state.t).prefetch(requests)
        rng = self._rng
        # states are immutable, so the same key and episode tensors mean the same users and episodes
        if rng is None or rng.keys is not state.keys or rng.episode is not state.episode:
            rng = self._rng = CounterRNG(state.keys, state.episode)
        return rng.at(state.t).prefetch(requests)

    def recommend(
        self,
        state: SimState,
        weights: torch.Tensor,
        draws: StepDraws | None = None,
        cache: recommender.SlateCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Slate (N, k) and its propensities (N, k) from the profiles under ``weights`` (N, 3);
        ``cache`` (the caller's, one per batch of users) skips scoring users whose query is unchanged."""
        q = recommender.query(state.rec, weights[:, 1])
        top_k = cache.top_k if cache is not None else recommender.top_k
        greedy = top_k(self.E, q, self.k, self.score_chunk, self.row_block, self.tail_blocks)
        draws = self.draws(state) if draws is None else draws
        rp = self.scenario.rec
        items, _, pscore = explore.select(
            greedy,
            weights[:, 2],
            self.num_items,
            draws,
            rp.explore_mode,
            E=self.E,
            q=q,
            temperature=self.explore_temperature,
            row_block=recommender.tail_block(q.shape[0], self.row_block, self.tail_blocks),  # the same bits
            floor=rp.explore_floor,
        )
        return items, pscore

    def step(
        self,
        state: SimState,
        items: torch.Tensor,
        weights: torch.Tensor,
        pscore: torch.Tensor | None = None,
        draws: StepDraws | None = None,
    ) -> tuple[SimState, StepResult]:
        """Show ``items`` (N, k), update users and profiles (profiles at ``weights`` (N, 3))."""
        sc = self.scenario
        t = state.t
        draws = self.draws(state) if draws is None else draws
        util, clicks, clicked_sum = self._show(items, state.user, draws.uniform(Stream.CLICK, (self.k,)))
        n_clicks = clicks.sum(1)

        user = dynamics.consume(state.user, sc.user, clicked_sum, n_clicks)
        user = dynamics.drift(user, sc.user, self.E, draws)
        organic, organic_vec = dynamics.organic_events(user, sc.user, draws)
        rec = recommender.update(state.rec, sc.rec, weights, clicked_sum, n_clicks, organic, organic_vec, self.k)

        t_next = t + 1
        if sc.user.churn_rate > 0:
            terminated = (n_clicks == 0) & (draws.uniform(Stream.CHURN) < sc.user.churn_rate)
        else:
            terminated = torch.zeros_like(n_clicks, dtype=torch.bool)
        truncated = (t_next >= sc.horizon) & ~terminated
        if pscore is None:
            pscore = torch.ones_like(util)
        shift = (user.intent * state.user.intent).sum(-1) < SHIFT_COS
        reward = n_clicks.to(torch.float32)
        result = StepResult(items, clicks, pscore, reward, terminated, truncated, organic, shift, weights, organic_vec)
        return SimState(user, rec, t_next, state.keys, state.episode), result

    def _show(
        self, items: torch.Tensor, user: UserState, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """True utility (N, k), clicks (N, k) (from the click uniforms ``u`` (N, k)) and the sum of
        the clicked items' vectors (N, d) when ``items`` (N, k) are shown to ``user``.

        On CPU the users go ``SLATE_BLOCK_BYTES`` of item vectors (rows, k, d) at a time: glibc
        maps a fresh tensor of more than 32 MiB anew, and its page faults cost more than the
        arithmetic (at N = 8,192, k = 10, d = 384 the gathered vectors are 126 MB). Each user's
        numbers are its own either way (per-user products, as in a smaller batch)."""
        n = items.shape[0]
        rows = max(1, SLATE_BLOCK_BYTES // (self.k * self.dim * self.E.element_size()))
        if self.device.type != "cpu" or n <= rows:
            return self._show_block(items, user, u)
        parts = []
        for lo in range(0, n, rows):
            block = slice(lo, lo + rows)
            parts.append(self._show_block(items[block], take_rows(user, block), u[block]))
        return tuple(torch.cat(x) for x in zip(*parts, strict=True))  # type: ignore[return-value]

    def _show_block(
        self, items: torch.Tensor, user: UserState, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``_show`` for one block of users."""
        vecs = self.E[items]  # (n, k, d)
        util = dynamics.utility(vecs, user, self.scenario.user, self.utility_scale)
        clicks = sample_clicks(util, self.scenario.click, self.exam, u)
        return util, clicks, dynamics.row_combine(clicks.to(vecs.dtype), vecs)

    def shadow_update(
        self, shadow: RecState, weights: torch.Tensor, res: StepResult, done: torch.Tensor, fresh: RecState
    ) -> RecState:
        """The profiles another weighting would hold after the evidence of step ``res``: ``shadow``
        updated at ``weights`` (N, 3) by the same clicks on the shown items and the same organic
        events that updated the real profiles (``step``). Rows whose episode ended (``done`` (N,))
        take ``fresh``, the new user's profiles. This is what an off-policy target's recommender sees
        along a logged trajectory."""
        clicked_sum = dynamics.row_combine(res.clicks.to(self.E.dtype), self.E[res.items])
        n_clicks = res.clicks.sum(1)
        upd = recommender.update(
            shadow, self.scenario.rec, weights, clicked_sum, n_clicks, res.organic, res.organic_vec, self.k
        )
        return where_rows(done, fresh, upd) if bool(done.any()) else upd

    def self_directed_step(self, state: SimState) -> tuple[SimState, torch.Tensor]:
        """One step without a recommender: every user picks one item of the whole catalog with
        probability proportional to its attraction (the click model on true utility, without the
        ``accidental`` floor, which is a property of shown slates), consumes it
        and drifts. Gives timelines comparable to real consumption logs (``experiments.online.calibrate``).

        Returns the new state (profiles untouched) and the chosen items (N,) int64. Memory O(N M).
        """
        sc = self.scenario
        draws = self.draws(state)
        weights = self._self_directed_weights(state.user)
        item = choose_one(weights, draws.uniform(Stream.CHOICE, (), torch.float64))
        ones = torch.ones(item.shape[0], dtype=torch.int64, device=self.device)
        user = dynamics.consume(state.user, sc.user, self.E[item], ones)
        user = dynamics.drift(user, sc.user, self.E, draws)
        return SimState(user, state.rec, state.t + 1, state.keys, state.episode), item

    def choice_shares(self, keys: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """Each item's share (M,) float64, summing to 1, of what fresh users (keys (N,) int64, see
        ``init``) would pick on their own from the whole catalog: the mean over users of the
        self-directed choice distribution (``self_directed_step``) at the start of their first
        episode. The catalog's popularity among this scenario's users, for novelty metrics.
        Memory O(chunk M)."""
        state = self.init(keys)
        total = torch.zeros(self.num_items, dtype=torch.float64, device=self.device)
        for lo in range(0, keys.shape[0], chunk):
            part = take_rows(state.user, torch.arange(lo, min(lo + chunk, keys.shape[0]), device=self.device))
            w = self._self_directed_weights(part).to(torch.float64)
            total += (w / w.sum(1, keepdim=True)).sum(0)
        return total / keys.shape[0]

    def _self_directed_weights(self, user: UserState) -> torch.Tensor:
        """(N, M) unnormalised probabilities that each user picks each item on their own: the
        attraction of its true utility without the ``accidental`` floor. That floor models clicks on
        shown items; over a whole catalog it would make most choices random titles (M * accidental
        outweighs the few items near the interests)."""
        sc = self.scenario
        util = dynamics.utility_all(self.E, user, sc.user, self.utility_scale)
        return attraction(util, dataclasses.replace(sc.click, accidental=0.0))

    def advance(
        self, state: SimState, weights: torch.Tensor, cache: recommender.SlateCache | None = None
    ) -> tuple[SimState, StepResult, torch.Tensor]:
        """One weights-mode step: ``recommend`` under ``weights`` (N, 3), ``step`` and ``observe``.
        Returns (state, result, observation (N, F)). What ``compiled.CompiledAdvance`` compiles."""
        draws = self.draws(state)
        items, pscore = self.recommend(state, weights, draws, cache)
        state, res = self.step(state, items, weights, pscore, draws)
        return state, res, self.observe(state)

    def observe(self, state: SimState) -> torch.Tensor:
        """Observation features (N, F) float32 (see ``recommender.FEATURE_NAMES``)."""
        return recommender.features(state.rec, state.t, self.scenario.horizon, self._obs_low, self._obs_high)

    def item_utility(self, state: SimState) -> torch.Tensor:
        """True utility (N, M) of every item for the next step: hidden; for oracles and regret only."""
        return dynamics.utility_all(self.E, state.user, self.scenario.user, self.utility_scale)
