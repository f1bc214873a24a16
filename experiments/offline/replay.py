"""Sequential replay on real timelines: weighting strategies over real users' histories.

The timelines are MovieLens (the default) or any interaction log with a catalog file
(``experiments.offline.interactions``). Each user's liked items (rating >= ``min_rating``; every event of
a log without ratings) in time order form a timeline. The first
``warmup`` of them give the recommender's prior (their normalised mean: both profiles start
there). Then, at every later item, the strategy chooses weights from the same 11 observation
features as in the simulator, the recommender ranks the catalog by its query (``mix`` of the short-
and long-term profile; items the user already liked are left out), and the real next item is
scored: HR@k (it is in the top k) and NDCG@k (1 / log2(rank + 2)). The item is then the evidence:
a click when it was in the top k, an organic event when the user found it without help; the
profiles absorb it at the strategy's ``alpha``. All users step together (batched torch); the
``explore`` weight plays no part (ranking is greedy).

The popularity baseline ranks by the number of likes strictly before the event (items by the
counts at the start of each block of ``POPULARITY_BLOCK`` events, in time order): causal, for
scale. Metrics are averaged per user, then over users, with 95% t-intervals over users; paired
differences against the best fixed alpha use the same users.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from gymnasium import spaces

from driftrec.agents import FixedWeights
from driftrec.agents.base import Agent
from driftrec.agents.registry import agent_descriptions, make_agent
from driftrec.encoders.checks import check_int
from driftrec.encoders.deprecation import moved_names
from driftrec.experiments.common.stats import mean_ci95
from driftrec.experiments.offline.interactions import (  # noqa: F401  (the timelines lived here before)
    Timelines,
    catalog_rows,
    check_enough,
    liked_ratings,
    padded_timelines,
    parse_columns,
    read_interactions,
)
from driftrec.experiments.online.runner import build_catalog, text_table
from driftrec.simulators import recommender
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.dynamics import unit
from driftrec.simulators.params import RecParams
from driftrec.simulators.recommender import FEATURE_HIGH, FEATURE_LOW, NUM_FEATURES
from driftrec.simulators.state import take_rows, where_rows


def replay_agents() -> list[str]:
    """The agents replay runs: the registry's weight agents that read nothing hidden, and the
    popularity baseline (replay's own, it ranks by likes before each event)."""
    return [*agent_descriptions(action_mode="weights", recommenders_only=True), "popularity"]


POPULARITY_BLOCK = 256


@dataclass(frozen=True)
class ReplayConfig:
    """What ``replay`` runs.

    timelines: "movielens" or an interaction log file (``experiments.offline.interactions``) whose
    ``columns`` mapping names its user, item, timestamp and optional rating columns; its items
    are ids of ``catalog`` (then a catalog file). agents: from ``replay_agents()``; "fixed" runs
    once per alpha in ``alphas`` (mix and explore from ``fixed_weights``). min_rating: ratings that
    count as liked (None: 4.0 on MovieLens, every event of a log). warmup: liked items that
    build the prior. k: list length of HR@k and NDCG@k. max_users: the first users by id (None:
    all). policy: the saved PPO policy for "ppo".
    """

    timelines: str = "movielens"
    """movielens, or an interaction log (CSV, TSV or parquet: one row per event, each user's events in time order)
    whose columns --columns names"""
    columns: dict[str, str] = field(default_factory=dict)
    """the log's columns for user, item, timestamp (numbers) and optionally rating, e.g.
    user=uid,item=movie,timestamp=ts,rating=stars [user=user,item=item,timestamp=timestamp]"""
    agents: list[str] = field(default_factory=lambda: ["fixed", "change-ctr", "popularity"])
    """replay strategies"""
    alphas: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.3, 0.6, 0.9])
    """alphas of agent fixed"""
    fixed_weights: tuple[float, float, float] = (0.3, 0.7, 0.05)
    """mix (and explore, unused) of agent fixed; also the calm weights' fallback"""
    min_rating: float | None = None
    """ratings that count as liked [4.0 on MovieLens; a log's events all count unless given]"""
    warmup: int = 5
    """liked items that build the prior"""
    k: int = 10
    """list length of HR@k and NDCG@k"""
    max_users: int | None = None
    """replay only the first N users by id [all]"""
    catalog: str = "movielens"
    """movielens (all-MiniLM-L6-v2 embeddings, cached after the first run) or a CSV/parquet catalog file with id and
    text columns whose ids are the timelines' items"""
    device: str = "cpu"
    policy: str | None = None

    def __post_init__(self) -> None:
        check_timelines(self.timelines)
        object.__setattr__(self, "columns", parse_columns(self.columns))
        if self.timelines == "movielens" and self.columns:
            raise ValueError("--columns maps the columns of a timelines file; MovieLens needs none")
        if not self.agents:
            raise ValueError("give at least one agent")
        for a in self.agents:
            if a not in replay_agents():
                raise ValueError(f"agent {a!r} cannot replay; allowed: {', '.join(replay_agents())}")
        if len(set(self.agents)) != len(self.agents):
            raise ValueError(f"agents must be distinct, got {self.agents}")
        if "fixed" in self.agents and not self.alphas:
            raise ValueError("agent fixed needs at least one alpha (--alphas)")
        for a in self.alphas:
            if not 0.0 <= a <= 1.0:
                raise ValueError(f"alpha={a!r} is outside [0, 1]")
        for key, lo in (("warmup", 1), ("k", 1)):
            check_int(key, getattr(self, key), lo)
        if self.max_users is not None:
            check_int("max_users", self.max_users, 1)
        if self.timelines == "movielens" and not 0.5 <= self.liked_at <= 5.0:  # type: ignore[operator]
            raise ValueError(f"min_rating={self.min_rating!r} is outside MovieLens' 0.5..5 stars")
        FixedWeights(*self.fixed_weights)
        if "ppo" in self.agents:
            make_agent("ppo", policy=self.policy)

    @property
    def liked_at(self) -> float | None:
        """The rating at or above which an event counts as liked (None: every event)."""
        if self.min_rating is None and self.timelines == "movielens":
            return MOVIELENS_MIN_RATING
        return self.min_rating

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


MOVIELENS_MIN_RATING = 4.0
"""MovieLens ratings (0.5..5 stars) at or above this count as liked unless ``min_rating`` says otherwise."""


def check_timelines(source: str) -> None:
    """A one-line error unless ``source`` is "movielens" or an existing file."""
    if source != "movielens" and not Path(source).expanduser().is_file():
        raise ValueError(f"timelines {source!r} is neither movielens nor an existing file (CSV, TSV or parquet)")


def liked_events(cfg: ReplayConfig, catalog: Catalog) -> pd.DataFrame:
    """The liked events of ``cfg.timelines`` (columns user, item, timestamp, ...) in time order."""
    if cfg.timelines == "movielens":
        return liked_ratings(cfg.liked_at)  # type: ignore[arg-type]
    likes = read_interactions(cfg.timelines, catalog, cfg.columns, cfg.liked_at)
    check_enough(likes, cfg.warmup, cfg.timelines)
    return likes


class _ReplayEnv:
    """What agents read from an env in ``reset``: the device, N and one user's observation space."""

    def __init__(self, num_users: int, device: torch.device) -> None:
        self.num_users = num_users
        self.device = device
        self.single_observation_space = spaces.Box(
            FEATURE_LOW.numpy(), FEATURE_HIGH.numpy(), (NUM_FEATURES,), np.float32
        )


def replay_agent(
    agent: Agent, tl: Timelines, E: torch.Tensor, cfg: ReplayConfig, on_step: Callable[[], None] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``agent`` over the timelines. Returns per-user HR@k sums, NDCG@k sums and event counts (U,)."""
    dev = E.device
    n, horizon = tl.item.shape
    item, length = tl.item.to(dev), tl.length.to(dev)
    w0 = cfg.warmup
    prior = unit(E[item[:, :w0]].mean(1))
    p = RecParams()
    rec = recommender.init_rec(prior, p, None, prior)  # type: ignore[arg-type]
    seen = torch.zeros((n, E.shape[0]), dtype=torch.bool, device=dev)
    seen.scatter_(1, item[:, :w0], True)
    hr = torch.zeros(n, dtype=torch.float64, device=dev)
    ndcg = torch.zeros(n, dtype=torch.float64, device=dev)
    env = _ReplayEnv(n, dev)
    agent.reset(env, 0)  # type: ignore[arg-type]
    low, high = FEATURE_LOW.to(dev), FEATURE_HIGH.to(dev)
    discount = 1.0 / torch.log2(torch.arange(cfg.k, device=dev, dtype=torch.float64) + 2.0)
    for s in range(horizon - w0):
        active = length > w0 + s
        rows = active.nonzero().squeeze(1)
        if rows.numel() == 0:
            break
        obs = recommender.features(rec, torch.full((n,), s, device=dev), horizon, low, high)
        w = agent.act(obs, {}).to(dev, torch.float32).expand(n, 3)
        scores = recommender.query(take_rows(rec, rows), w[rows, 1]) @ E.T
        scores.masked_fill_(seen[rows], -math.inf)
        top = torch.topk(scores, cfg.k, dim=1).indices
        target = item[rows, w0 + s]
        match = top == target.unsqueeze(1)
        hit = match.any(1)
        hr[rows] += hit.double()
        ndcg[rows] += (match.double() * discount).sum(1)
        vec = torch.zeros((n, E.shape[1]), dtype=E.dtype, device=dev)
        vec[rows] = E[target]
        clicked = torch.zeros(n, dtype=torch.bool, device=dev)
        clicked[rows] = hit
        organic = active & ~clicked
        n_clicks = clicked.to(torch.int64)
        new = recommender.update(rec, p, w, vec * clicked.unsqueeze(1), n_clicks, organic, vec, cfg.k)
        rec = where_rows(active, new, rec)
        seen[rows, target] = True
        if on_step is not None:
            on_step()
    count = (length - w0).clamp_min(0)
    return hr.cpu().numpy(), ndcg.cpu().numpy(), count.cpu().numpy()


def replay_popularity(tl: Timelines, num_items: int, likes: pd.DataFrame, row: dict[str, int], cfg: ReplayConfig):
    """Popularity: rank by likes strictly before each event (counts at the start of each block of
    ``POPULARITY_BLOCK`` events), leaving out items the user liked before. Same outputs as ``replay_agent``."""
    w0 = cfg.warmup
    all_rows = likes["item"].map(row)
    ok = all_rows.notna().to_numpy()
    g_item = all_rows[ok].to_numpy(np.int64)
    g_time = likes["timestamp"].to_numpy(np.int64)[ok]
    order = np.argsort(g_time, kind="stable")
    g_item, g_time = g_item[order], g_time[order]
    n, horizon = tl.item.shape
    users, steps = np.nonzero(np.arange(horizon)[None, :] < tl.length.numpy()[:, None])
    keep = steps >= w0
    users, steps = users[keep], steps[keep]
    e_time = tl.time.numpy()[users, steps]
    e_item = tl.item.numpy()[users, steps]
    e_order = np.argsort(e_time, kind="stable")
    hr = np.zeros(n)
    ndcg = np.zeros(n)
    counts = torch.zeros(num_items, dtype=torch.float64)
    consumed = 0
    discount = 1.0 / np.log2(np.arange(cfg.k) + 2.0)
    item_np = tl.item.numpy()
    for start in range(0, len(e_order), POPULARITY_BLOCK):
        block = e_order[start : start + POPULARITY_BLOCK]
        t0 = e_time[block[0]]
        upto = int(np.searchsorted(g_time, t0, side="left"))  # likes strictly before the block
        if upto > consumed:
            counts += torch.bincount(torch.as_tensor(g_item[consumed:upto]), minlength=num_items).double()
            consumed = upto
        b_users, b_steps = users[block], steps[block]
        # the user's earlier liked items (timeline positions before this step) score -inf; the
        # others go to a spare column that is dropped
        score = torch.cat([counts.unsqueeze(0).repeat(len(block), 1), torch.zeros(len(block), 1)], 1)
        prev = torch.as_tensor(item_np[b_users])
        earlier = torch.arange(horizon).unsqueeze(0) < torch.as_tensor(b_steps).unsqueeze(1)
        score.scatter_(1, torch.where(earlier, prev, num_items), -math.inf)
        score = score[:, :num_items]
        # ties by item index (lower first), as stable ranking
        top = torch.topk(score - torch.arange(num_items) * 1e-9, cfg.k, dim=1).indices.numpy()
        match = top == e_item[block][:, None]
        np.add.at(hr, b_users, match.any(1))
        np.add.at(ndcg, b_users, (match * discount).sum(1))
    count = (tl.length - w0).clamp_min(0).numpy()
    return hr, ndcg, count


@dataclass
class ReplayResult:
    per_user: pd.DataFrame
    results: dict[str, dict[str, Any]]
    best_fixed: str | None
    num_users: int
    num_events: int
    wall_s: float


def summarise(per_user: pd.DataFrame) -> tuple[dict[str, dict[str, Any]], str | None]:
    """results[agent] = {hr, hr_ci95, ndcg, ndcg_ci95, diff_ndcg_vs_best_fixed {mean, ci95}}."""
    out: dict[str, dict[str, Any]] = {}
    for agent, g in per_user.groupby("agent", sort=False):
        entry: dict[str, Any] = {}
        for metric in ("hr", "ndcg"):
            m, lo, hi = mean_ci95(g[metric].tolist())
            entry[metric] = m
            entry[f"{metric}_ci95"] = [lo, hi]
        out[str(agent)] = entry
    fixed = [a for a in out if a.startswith("fixed")]
    best = max(fixed, key=lambda a: out[a]["ndcg"]) if fixed else None
    if best is not None:
        ref = per_user[per_user.agent == best].set_index("user")
        for agent, g in per_user.groupby("agent", sort=False):
            d = (g.set_index("user")["ndcg"] - ref["ndcg"]).dropna()
            m, lo, hi = mean_ci95(d.tolist())
            base = out[best]["ndcg"]
            rel = {"mean": m / base, "ci95": [lo / base, hi / base]} if base > 0 else {"mean": None, "ci95": None}
            out[str(agent)]["diff_ndcg_vs_best_fixed"] = rel
    return out, best


def replay(cfg: ReplayConfig, catalog: Catalog | None = None, progress: bool = True) -> ReplayResult:
    """Run every agent of ``cfg`` over the timelines (see the module docstring)."""
    from tqdm.auto import tqdm

    from driftrec.envs import resolve_device

    start = time.perf_counter()
    catalog = build_catalog(cfg.catalog, progress=progress) if catalog is None else catalog
    dev = resolve_device(cfg.device)
    E = catalog.embeddings.to(dev, torch.float32)
    likes = liked_events(cfg, catalog)  # read once: the timelines and popularity share it
    tl = padded_timelines(catalog, 0.0, cfg.warmup, cfg.max_users, likes)
    agents: list[tuple[str, Agent | None]] = []
    for name in cfg.agents:
        if name == "fixed":
            _, mix, explore = cfg.fixed_weights
            agents += [(f"fixed a={a:g}", FixedWeights(a, mix, explore)) for a in cfg.alphas]
        elif name == "popularity":
            agents.append(("popularity", None))
        else:
            agents.append((name, make_agent(name, cfg.fixed_weights, cfg.policy)))
    frames = []
    steps = int(tl.length.max()) - cfg.warmup
    for label, agent in tqdm(agents, desc="replay", unit="agent", disable=not progress):
        if agent is None:
            hr, ndcg, count = replay_popularity(tl, catalog.num_items, likes, catalog_rows(catalog), cfg)
        else:
            bar = tqdm(total=steps, desc=label, unit="step", leave=False, disable=not progress)
            hr, ndcg, count = replay_agent(agent, tl, E, cfg, on_step=bar.update)
            bar.close()
        frames.append(
            pd.DataFrame({"agent": label, "user": tl.user, "events": count, "hr": hr / count, "ndcg": ndcg / count})
        )
    per_user = pd.concat(frames, ignore_index=True)
    results, best = summarise(per_user)
    return ReplayResult(
        per_user, results, best, len(tl.user), int((tl.length - cfg.warmup).sum()), time.perf_counter() - start
    )


def format_replay(res: ReplayResult, k: int) -> str:
    head = ["agent", f"HR@{k}", "95% CI", f"NDCG@{k}", "95% CI", f"NDCG vs {res.best_fixed}", "95% CI"]
    rows = []
    for agent, r in res.results.items():
        d = r.get("diff_ndcg_vs_best_fixed")
        d = None if d is None or d["mean"] is None else d
        rows.append([
            agent,
            f"{r['hr']:.4f}", f"[{r['hr_ci95'][0]:.4f}, {r['hr_ci95'][1]:.4f}]",
            f"{r['ndcg']:.4f}", f"[{r['ndcg_ci95'][0]:.4f}, {r['ndcg_ci95'][1]:.4f}]",
            "" if d is None or agent == res.best_fixed else f"{d['mean']:+.1%}",
            "" if d is None or agent == res.best_fixed else f"[{d['ci95'][0]:+.1%}, {d['ci95'][1]:+.1%}]",
        ])  # fmt: skip
    return text_table([head, *rows])


__getattr__ = moved_names(
    __name__,
    {"movielens_timelines": ("driftrec.experiments.offline.replay.padded_timelines", lambda: padded_timelines)},
)
