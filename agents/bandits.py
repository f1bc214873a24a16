"""Slate-mode linear bandits: the standard strong baselines for drifting preferences.

One linear bandit per user, all users at once. An item's features x are its catalog vector,
projected on the catalog's ``dims`` leading singular directions;
the bandit models the click probability of a shown item as ``x . theta`` (ridge regression on
every shown item's click, whatever its position) and shows the k items of highest score. Kinds:

- ``"eps-greedy"``: greedy slate by ``x . theta``; each slot is replaced, with probability
  ``epsilon``, by a uniformly random item not in the greedy slate.
- ``"linucb"``: ``x . theta + width * sqrt(x' V^-1 x)`` (Li et al. 2010), ``V = reg I + sum x x'``.
- ``"d-linucb"``: discounted LinUCB (Russac, Vernade and Cappe 2019): ``V <- gamma V + X'X +
  (1 - gamma) reg I``, ``Vt <- gamma^2 Vt + X'X + (1 - gamma^2) reg I``, ``b <- gamma b + X'r``,
  score ``x . theta + width * sqrt(x' V^-1 Vt V^-1 x)``. Old evidence fades at rate gamma.
- ``"linucb-restart"``: LinUCB that forgets everything (back to the prior) when the click rate
  drops: the fast CTR falls below ``threshold`` times the slow one or no click for ``patience``
  steps, at most once every ``cooldown`` steps.

Each user's bandit starts (and restarts) at the recommender's long-term profile ``l`` (its
LLM-derived prior, ``DriftVecEnv.profiles``): ``theta_0 = prior_scale * l`` with weight ``reg``.
The same prior the weight agents' profiles start from, so the comparison is fair. A user whose
episode restarts (the ``progress`` feature is 0) gets a fresh bandit.

Cost per step, with r = ``dims``: O(N M r) for the mean scores and O(N k r^2) for the Woodbury
update of V^-1 (d-linucb: O(N r^3), a fresh inverse), and O(N M r^2 / 2) for every item's UCB
width: one matrix product of the width matrix's upper triangle with the items' outer products
(``sym_outer``, M r^2 / 2 floats; above 2^26 of them, blockwise over users instead). Keeping every
item's width up to date by the rank-k updates instead (O(N M k r)) was slower: its (N, k, M)
intermediate makes it memory-bound.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from driftrec.agents.random import distinct_items
from driftrec.encoders.checks import check_int, check_number
from driftrec.envs.batched import DriftVecEnv
from driftrec.simulators.recommender import FEATURE_NAMES

KINDS = ("eps-greedy", "linucb", "d-linucb", "linucb-restart")
DEFAULT_WIDTH = {"linucb": 0.3, "linucb-restart": 0.3, "d-linucb": 0.03}
"""UCB widths (and epsilon 0.05, gamma 0.7) from ``python -m driftrec.experiments.studies.bandit_sweep`` on
``abrupt``'s tuning seeds: the settings where each bandit did best (docs/compare.md)."""
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
_MEMORY = 1 << 26  # floats (256 MB) for the width computation's largest intermediate


def item_features(E: torch.Tensor, dims: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Item features (M, r) and the projection (d, r) onto the ``dims`` leading right singular
    vectors of the catalog ``E`` (M, d) (r = min(dims, d); identity when ``dims`` is None). Rows keep
    norm <= 1."""
    d = E.shape[1]
    if dims is None or dims >= d:
        proj = torch.eye(d, dtype=E.dtype, device=E.device)
    else:
        proj = torch.linalg.svd(E.double(), full_matrices=False).Vh[:dims].T.to(E.dtype)
    return E @ proj, proj


def sym_outer(E: torch.Tensor, iu: torch.Tensor) -> torch.Tensor:
    """(M, r (r + 1) / 2): each row's outer product x x' at the upper-triangle indices ``iu``
    (``torch.triu_indices(r, r)``), off-diagonal entries doubled, so that
    ``x' W x = W[iu] . sym_outer(x)`` for symmetric W with half the products of vec(x x')."""
    return E[:, iu[0]] * E[:, iu[1]] * torch.where(iu[0] == iu[1], 1.0, 2.0).to(E.dtype)


class LinearBandit:
    """Batched per-user linear bandit over item vectors (see module docstring).

    Args:
        kind: one of ``KINDS``.
        width: UCB width (exploration bonus scale), >= 0; default ``DEFAULT_WIDTH[kind]``.
        epsilon: random-slot share of eps-greedy, in [0, 1].
        gamma: discount of d-linucb, in (0, 1].
        reg: ridge regularisation (weight of the prior), > 0.
        prior_scale: theta_0 = prior_scale * long-term profile.
        threshold, patience, cooldown: the restart rule of linucb-restart.
        dims: item features are the catalog vectors projected on their ``dims`` leading singular
            directions (fewer parameters to learn per user, and O(dims^2) instead of O(d^2) per
            item); None uses the full vectors.
        name: the agent's name in tables (default: ``kind``).
    """

    action_mode: ClassVar[str] = "slate"
    needs_hidden: ClassVar[bool] = False

    def __init__(
        self,
        kind: str = "linucb",
        *,
        width: float | None = None,
        epsilon: float = 0.05,
        gamma: float = 0.7,
        reg: float = 1.0,
        prior_scale: float = 0.5,
        threshold: float = 0.5,
        patience: int = 3,
        cooldown: int = 10,
        dims: int | None = 32,
        name: str | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"bandit kind {kind!r} is unknown; allowed: {', '.join(KINDS)}")
        width = DEFAULT_WIDTH.get(kind, 0.0) if width is None else width
        check_number("width", width, 0.0, math.inf)
        check_number("epsilon", epsilon, 0.0, 1.0)
        check_number("gamma", gamma, 0.0, 1.0, lo_open=True)
        check_number("reg", reg, 0.0, math.inf, lo_open=True)
        check_number("prior_scale", prior_scale, -math.inf, math.inf)
        check_number("threshold", threshold, 0.0, 1.0)
        check_int("patience", patience, 1)
        check_int("cooldown", cooldown, 0)
        if dims is not None:
            check_int("dims", dims, 1)
        self.dims = dims
        self.kind, self.width, self.epsilon, self.gamma = kind, float(width), float(epsilon), float(gamma)
        self.reg, self.prior_scale = float(reg), float(prior_scale)
        self.threshold, self.patience, self.cooldown = float(threshold), patience, cooldown
        self.name = name or kind
        self._env: DriftVecEnv | None = None

    # ------------------------------------------------------------------------------ state
    def reset(self, env: DriftVecEnv, seed: int) -> None:
        if env.action_mode != "slate":
            raise ValueError(f"{self.name} is a slate-mode agent; build the env with action_mode='slate'")
        self._env = env
        self._gen = torch.Generator(device=env.device).manual_seed(int(seed))
        self._E, self._proj = item_features(env.sim.E, self.dims)  # (M, r) and (d, r)
        (m, d), n = self._E.shape, env.num_users
        # the items' outer products (upper triangles), when they fit in _MEMORY floats (else blockwise widths)
        ucb = self.kind != "eps-greedy"
        self._iu = torch.triu_indices(d, d, device=env.device)
        self._XX = sym_outer(self._E, self._iu) if ucb and m * d * (d + 1) // 2 <= _MEMORY else None
        self._eye = torch.eye(d, device=env.device)
        self.V = self._eye.expand(n, d, d) * self.reg  # design matrix, (N, d, d)
        self.Vinv = self.V / self.reg**2  # its inverse
        self.Vt = self.V.clone()  # d-linucb's squared-discount matrix
        self.b = torch.zeros(n, d, device=env.device)
        self._since_restart = torch.zeros(n, device=env.device)
        self._restart(torch.ones(n, dtype=torch.bool, device=env.device))

    def _restart(self, rows: torch.Tensor) -> None:
        """Back to the prior for users where ``rows`` (N,) bool is set."""
        if not bool(rows.any()):
            return
        long = self._env.profiles()[1] @ self._proj  # type: ignore[union-attr]
        r3 = rows.view(-1, 1, 1)
        self.V = torch.where(r3, self._eye * self.reg, self.V)
        self.Vinv = torch.where(r3, self._eye / self.reg, self.Vinv)
        self.Vt = torch.where(r3, self._eye * self.reg, self.Vt)
        self.b = torch.where(rows.unsqueeze(1), self.reg * self.prior_scale * long.to(self.b.dtype), self.b)
        self._since_restart = torch.where(rows, torch.zeros_like(self._since_restart), self._since_restart)

    def _learn(self, info: dict[str, Any]) -> None:
        """Fold the last step's shown items and clicks into every user's bandit."""
        if "items" not in info:
            return
        X = self._E[info["items"]]  # (N, k, d)
        r = info["clicks"].to(X.dtype)
        xx = X.transpose(1, 2) @ X
        if self.kind == "d-linucb":
            g = self.gamma
            self.V = g * self.V + xx + (1.0 - g) * self.reg * self._eye
            self.Vt = g * g * self.Vt + xx + (1.0 - g * g) * self.reg * self._eye
            self.b = g * self.b + torch.einsum("nkd,nk->nd", X, r)
            self.Vinv = torch.cholesky_inverse(torch.linalg.cholesky(self.V))
            return
        self.V = self.V + xx
        self.b = self.b + torch.einsum("nkd,nk->nd", X, r)
        # Woodbury: (V + X'X)^-1 = V^-1 - U (I + X U)^-1 U' with U = V^-1 X' (N, d, k)
        U = self.Vinv @ X.transpose(1, 2)
        S = torch.eye(X.shape[1], device=X.device) + X @ U
        self.Vinv = self.Vinv - U @ torch.linalg.solve(S, U.transpose(1, 2))

    # ------------------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        """Slates (N, k) of distinct item indices."""
        if self._env is None:
            raise RuntimeError("call reset(env, seed) before act()")
        self._learn(info)
        fresh = obs[:, _COL["progress"]] <= 0.0
        self._since_restart += 1
        if self.kind == "linucb-restart":
            fast, slow = obs[:, _COL["ctr_fast"]], obs[:, _COL["ctr_slow"]]
            no_click = obs[:, _COL["since_click"]] >= 1.0 - math.exp(-self.patience / 10.0) - 1e-6
            dropped = (fast < self.threshold * slow) | no_click
            fresh = fresh | (dropped & (self._since_restart > self.cooldown))
        self._restart(fresh)
        k = self._env.slate_size
        theta = (self.Vinv @ self.b.unsqueeze(-1)).squeeze(-1)  # (N, d)
        mean = theta @ self._E.T  # (N, M)
        if self.kind == "eps-greedy":
            return self._epsilon_slots(torch.topk(mean, k, dim=1).indices)
        quad = self._widths(self.Vinv @ self.Vt @ self.Vinv if self.kind == "d-linucb" else self.Vinv)
        # mean + width * sqrt(max(quad, 0)), in place on the (N, M) buffer (same operations, same bits)
        return torch.topk(quad.clamp_min_(0.0).sqrt_().mul_(self.width).add_(mean), k, dim=1).indices

    def _widths(self, W: torch.Tensor) -> torch.Tensor:
        """``x' W x`` (N, M) of every item for symmetric W (N, r, r): one matrix product of W's upper
        triangle with the items' outer products (``sym_outer``), or blockwise over users when those
        would not fit."""
        n, r = W.shape[0], W.shape[1]
        if self._XX is not None:
            return W[:, self._iu[0], self._iu[1]] @ self._XX.T
        block = max(1, _MEMORY // (self._E.shape[0] * r))
        return torch.cat([((self._E @ W[i : i + block]) * self._E).sum(-1) for i in range(0, n, block)])

    def _epsilon_slots(self, greedy: torch.Tensor) -> torch.Tensor:
        n, k = greedy.shape
        random_items = distinct_items(n, self._E.shape[0], k, self._gen, exclude=greedy)  # none from the greedy slate
        swap = torch.rand(n, k, generator=self._gen, device=greedy.device) < self.epsilon
        return torch.where(swap, random_items, greedy)

    def __repr__(self) -> str:
        return f"LinearBandit({self.kind!r}, width={self.width}, epsilon={self.epsilon}, gamma={self.gamma})"
