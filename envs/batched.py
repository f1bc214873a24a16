"""DriftVecEnv: N users with the same dynamics, stepped at once: a ``gymnasium.vector.VectorEnv``.

Arrays: numpy in and out by default, as Gymnasium's vector envs and wrappers expect;
``array="torch"`` returns torch tensors on the env's device instead (no copies to the host: what the
fast in-process loops of driftrec use). Actions may be numpy arrays or tensors in either mode.
Spaces: ``single_observation_space`` and ``single_action_space`` are one user's;
``observation_space`` and ``action_space`` are the batched ones (``gymnasium.vector.utils.batch_space``).
    observation: Box(FEATURE_LOW, FEATURE_HIGH, (11,), float32) per user, columns ``FEATURE_NAMES``.
    action, ``action_mode="weights"`` (default): (N, 3) floats in [0, 1], columns ``alpha`` (update
        rate of the short-term profile), ``mix`` (lambda: share of the short-term profile in the
        query) and ``explore`` (share of slots given to random items). A (3,) action applies to all.
    action, ``action_mode="slate"``: (N, k) distinct item indices in [0, M).
Reward: clicks in the slate (0..k). Episodes end on churn (terminated) or at the horizon
(truncated). ``autoreset`` says what happens then, as ``metadata["autoreset_mode"]`` tells
Gymnasium:
    True or "same-step" (default, ``AutoresetMode.SAME_STEP``): such users are reset in the same
        step; their final observation is in ``info["final_obs"]`` (N, F), rows marked by
        ``info["_final_obs"]`` (N,) bool, so every row always holds a live user.
    "next-step" (``NEXT_STEP``): the step returns the final observation; the next step resets those
        users instead of stepping them (their action is ignored, reward 0, not ended). Gymnasium's
        vector observation wrappers (``NormalizeObservation``, ``TransformObservation``...) need it.
    False or "disabled" (``DISABLED``): stepping an ended user raises until ``reset_done()``.
Each user's episodes are the same numbers in every mode; only when the reset shows differs.
Seeding: ``reset(seed=s)`` gives user i the seed ``user_seeds(s, N)[i]``; a single-user env reset
with that seed reproduces user i exactly (same draws, whatever N is).
Hidden state is never in the observation; ``reveal_hidden=True`` adds ``info["intent"]`` (N, d)
and ``info["item_utility"]`` (N, M), for oracles and regret; ``reveal_shifts=True`` adds
``info["shift"]`` (N,) bool, whether the user's interest moved abruptly at this step (for
shift-aligned analysis and the weights-oracle reference; policies must not read it).
``last_step`` holds the last step's full ``StepResult`` (the weights used and the organic events
too: what trajectory logging records).

Example:
    >>> import driftrec, gymnasium
    >>> env = gymnasium.make_vec("driftrec/DriftingInterests-v0", num_envs=256, scenario="abrupt")
    >>> obs, info = env.reset(seed=0)                     # obs: (256, 11) numpy float32
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> fast = driftrec.make_vec_env("abrupt", num_users=256, seed=0, array="torch")
    >>> obs, reward, terminated, truncated, info = fast.step(torch.tensor([0.3, 0.7, 0.1]))
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from driftrec.encoders.checks import check_int
from driftrec.envs.device import available_memory, check_memory, resolve_device  # noqa: F401  (public here before)
from driftrec.envs.inputs import (  # noqa: F401  (public here before)
    ACTION_MODES,
    ARRAYS,
    AUTORESET,
    as_action_tensor,
    check_overrides,
    first_outside,
    resolve_autoreset,
    slate_action,
    to_array,
    weights_action,
)
from driftrec.simulators.catalog import Catalog, synthetic_catalog
from driftrec.simulators.compiled import CompiledAdvance, check_engine
from driftrec.simulators.population import Population
from driftrec.simulators.recommender import FEATURE_HIGH, FEATURE_LOW, NUM_FEATURES, SlateCache
from driftrec.simulators.rng import seeds_to_keys, user_seeds
from driftrec.simulators.scenarios import Scenario, make_scenario
from driftrec.simulators.simulation import Simulator, StepResult
from driftrec.simulators.state import WEIGHT_NAMES, scatter_rows, take_rows

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv


@lru_cache(maxsize=8)
def default_catalog(num_items: int = 1000, dim: int = 64, seed: int = 0, transform: str = "centre") -> Catalog:
    """The embedded default: a synthetic text catalog under the hashing encoder (no model needed),
    centred like every catalog ``load_catalog`` builds (``transform``, see ``simulators.geometry``)."""
    check_int("num_items", num_items, 1)
    check_int("dim", dim, 1)
    check_memory(0, num_items, dim, torch.device("cpu"))
    return synthetic_catalog(num_items=num_items, dim=dim, seed=seed, transform=transform)


class DriftVecEnv(VectorEnv):
    """Batched drifting-interest env over ``num_users`` users (see module docstring).

    Args:
        scenario: preset name or Scenario.
        num_users: N, users simulated at once.
        catalog: items; default: the synthetic catalog of ``num_items`` items in ``dim`` dims.
        num_items, dim: size of the default catalog (ignored when ``catalog`` is given).
        device: 'cpu', 'cuda', 'cuda:N' or 'auto'.
        action_mode: 'weights' or 'slate'.
        reveal_hidden: put the true intent and item utilities in ``info`` (oracles only).
        reveal_shifts: put the hidden shift indicator in ``info["shift"]`` (analysis and references only).
        autoreset: True / "same-step", "next-step" or False / "disabled" (an ``AutoresetMode``
            works too): when users whose episode ended start their next one (module docstring).
        score_chunk: items scored at a time (bounds memory for large catalogs).
        array: 'numpy' (default, Gymnasium's) or 'torch' (tensors on ``device`` in and out).
        population: LLM-derived population that new users (and the recommender's priors) start
            from, in the catalog's space (``driftrec.load_population``); None: near random items.
        engine: 'eager' (default) or 'compiled': weights-mode steps under ``torch.compile``, bit
            for bit the same numbers, about 1.4x (256 users) to 2-3x (one user) faster per step
            after a compile of 20-70 s per batch size on the first step (seconds when inductor's
            on-disk cache has it); CPU only (``simulators.compiled``).
        **overrides: scenario parameters, e.g. ``shift_hazard=0.05`` (see ``Scenario.replace``).
    """

    def __init__(
        self,
        scenario: str | Scenario = "stable",
        num_users: int = 1,
        *,
        catalog: Catalog | None = None,
        num_items: int = 1000,
        dim: int = 64,
        device: str | torch.device = "cpu",
        action_mode: str = "weights",
        reveal_hidden: bool = False,
        reveal_shifts: bool = False,
        autoreset: bool | str | AutoresetMode = True,
        score_chunk: int = 65536,
        population: Population | None = None,
        array: str = "numpy",
        engine: str = "eager",
        **overrides: Any,
    ) -> None:
        check_int("num_users", num_users, 1)
        check_int("score_chunk", score_chunk, 1)
        check_overrides(type(self).__name__, overrides)
        if action_mode not in ACTION_MODES:
            raise ValueError(f"action_mode {action_mode!r} is unknown; allowed: {', '.join(ACTION_MODES)}")
        if array not in ARRAYS:
            raise ValueError(f"array {array!r} is unknown; allowed: {', '.join(ARRAYS)}")
        if catalog is None:
            check_int("num_items", num_items, 1)
            check_int("dim", dim, 1)
            catalog = default_catalog(num_items, dim)
        elif not isinstance(catalog, Catalog):
            raise TypeError(f"catalog must be a driftrec Catalog, got {type(catalog).__name__}")
        self.scenario = make_scenario(scenario, **overrides)
        self.device = resolve_device(device)
        check_memory(num_users, catalog.num_items, catalog.dim, self.device, score_chunk)
        self.catalog = catalog
        if population is not None and not isinstance(population, Population):
            raise TypeError(f"population must be a driftrec Population, got {type(population).__name__}")
        self.population = population
        check_engine(engine, self.device)
        self.sim = Simulator(self.scenario, catalog, self.device, score_chunk, population)
        self.engine = engine
        self._compiled = CompiledAdvance(self.sim) if engine == "compiled" else None
        self.num_users = self.num_envs = num_users
        self.array = array
        self.action_mode = action_mode
        self.reveal_hidden = reveal_hidden
        self.reveal_shifts = reveal_shifts
        self.render_mode = None
        self.autoreset_mode = resolve_autoreset(autoreset)
        self.autoreset = self.autoreset_mode is AutoresetMode.SAME_STEP
        self.metadata = {"render_modes": [], "autoreset_mode": self.autoreset_mode}
        self.slate_size = self.scenario.slate_size
        self.num_items = catalog.num_items
        self.single_observation_space = spaces.Box(
            FEATURE_LOW.numpy(), FEATURE_HIGH.numpy(), (NUM_FEATURES,), np.float32
        )
        if action_mode == "weights":
            self.single_action_space: spaces.Space = spaces.Box(0.0, 1.0, (len(WEIGHT_NAMES),), np.float32)
        else:
            self.single_action_space = spaces.MultiDiscrete(np.full(self.slate_size, self.num_items))
        self.observation_space = batch_space(self.single_observation_space, num_users)
        self.action_space = batch_space(self.single_action_space, num_users)
        self.state = None
        self._slates = SlateCache()
        self.last_step: StepResult | None = None
        self._done = torch.zeros(num_users, dtype=torch.bool, device=self.device)
        rp = self.scenario.rec
        self._default_weights = torch.tensor(
            [rp.default_alpha, rp.default_mix, rp.default_explore], dtype=torch.float32, device=self.device
        )

    # ----------------------------------------------------------------------------- reset / step
    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start every user afresh. ``seed``: int (per-user seeds derived), N ints, or None (random);
        ``options``: none are defined (None or an empty dict).

        Returns (obs (N, F), info).
        """
        if options:
            raise ValueError(f"reset options {sorted(options)} are unknown; DriftVecEnv takes none")
        if seed is None:
            seeds = user_seeds(secrets.randbits(63), self.num_users)
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds = user_seeds(seed, self.num_users)
        else:
            seeds = list(seed)
            if len(seeds) != self.num_users:
                raise ValueError(f"reset got {len(seeds)} seeds for {self.num_users} users; give one int or N ints")
        with torch.inference_mode():
            self.state = self.sim.init(seeds_to_keys(seeds, self.device))
            self._slates.clear()
            self._done.zero_()
            obs, info = self.sim.observe(self.state), self._info({})
        return to_array(obs, self.array), self._arrays(info)

    def compile(self) -> float:
        """Compile the step now (engine 'compiled'; else nothing): the seconds it took."""
        return self._compiled.warm_up(self.num_users) if self._compiled is not None else 0.0

    def reset_done(self, rows: Any = None) -> Any:
        """Start the next episode for ``rows`` (indices; default: the users whose episode ended).
        Returns obs (N, F)."""
        self._require_reset()
        if rows is None:
            rows = self._done.nonzero().squeeze(1)
        with torch.inference_mode():
            rows = torch.as_tensor(rows, dtype=torch.int64, device=self.device)
            self.state = self.sim.reset_rows(self.state, rows)
            self._done[rows] = False
            obs = self.sim.observe(self.state)
        return to_array(obs, self.array)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Advance every user one step.

        Args:
            actions: (N, 3) weights or (3,) for all users (weights mode); (N, k) item indices (slate
                mode); numpy or torch.
        Returns:
            obs (N, F) float32, reward (N,) float32, terminated (N,) bool, truncated (N,) bool, info
            with ``items``, ``clicks``, ``pscore`` (N, k), ``organic`` (N,), ``final_obs`` (N, F) with
            ``_final_obs`` (N,) bool (the rows whose episode ended and restarted; with autoreset) and,
            when revealed, ``shift``, ``intent`` and ``item_utility``; numpy arrays or tensors
            (``array``).
        """
        self._require_reset()
        with torch.inference_mode():  # no autograd bookkeeping (much of a small step's cost)
            obs, reward, terminated, truncated, info = self._step(actions)
        a = self.array
        info = self._arrays(info)
        return to_array(obs, a), to_array(reward, a), to_array(terminated, a), to_array(truncated, a), info

    def _step(
        self, actions: Any, checked: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """``step`` on tensors (inference tensors: ``step`` runs it in inference mode). ``checked``:
        ``actions`` are weights the caller checked already, (N, 3) float32 on the env's device."""
        mode = self.autoreset_mode
        pending = fresh = None
        if mode is not AutoresetMode.SAME_STEP and bool(self._done.any()):
            if mode is AutoresetMode.DISABLED:
                row = int(self._done.nonzero()[0])
                raise RuntimeError(
                    f"user {row}'s episode has ended; call reset_done() or reset() before stepping again"
                )
            pending = self._done.nonzero().squeeze(1)  # next-step: these users start afresh instead
            self.state = self.sim.reset_rows(self.state, pending)
            fresh = take_rows(self.state, pending)
        obs = None
        if self.action_mode == "slate":
            items = slate_action(actions, self.num_users, self.slate_size, self.num_items, self.device)
            weights = self._default_weights.expand(self.num_users, 3)
            self.state, res = self.sim.step(self.state, items, weights)
        else:
            advance = self._compiled if self._compiled is not None else self.sim.advance
            weights = actions if checked else weights_action(actions, self.num_users, self.device)
            self.state, res, obs = advance(self.state, weights, self._slates)
        self.last_step = res
        reward, terminated, truncated = res.reward, res.terminated, res.truncated
        if pending is not None:
            self.state = scatter_rows(self.state, pending, fresh)  # their step is undone: action ignored
            reward, terminated, truncated = reward.clone(), terminated.clone(), truncated.clone()
            reward[pending], terminated[pending], truncated[pending] = 0.0, False, False
            obs = None
        if obs is None:
            obs = self.sim.observe(self.state)
        done = terminated | truncated
        info: dict[str, Any] = {
            "items": res.items,
            "clicks": res.clicks,
            "pscore": res.pscore,
            "organic": res.organic,
            "final_obs": obs,
        }
        if self.reveal_shifts:
            info["shift"] = res.shift
        if mode is AutoresetMode.SAME_STEP:
            info["_final_obs"] = done
            if bool(done.any()):
                self.state = self.sim.reset_rows(self.state, done.nonzero().squeeze(1))
                obs = self.sim.observe(self.state)
        else:
            self._done = done
        return obs, reward, terminated, truncated, self._info(info)

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        if self.reveal_hidden:
            info["intent"] = self.state.user.intent
            info["item_utility"] = self.sim.item_utility(self.state)
        return info

    def _arrays(self, info: dict[str, Any]) -> dict[str, Any]:
        return {k: to_array(v, self.array) if isinstance(v, torch.Tensor) else v for k, v in info.items()}

    def profiles(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The recommender's short- and long-term profiles, each (N, d) unit (observable state;
        slate-mode agents can start from them as a prior)."""
        self._require_reset()
        return self.state.rec.short.clone(), self.state.rec.long.clone()

    def _require_reset(self) -> None:
        if self.state is None:
            raise RuntimeError("call reset() before step()")

    # ----------------------------------------------------------------------------- adapters
    def close_extras(self, **kwargs: Any) -> None:
        """Drop the simulation state (``close``); a closed env must be reset before it steps again."""
        self.state = None
        self.last_step = None

    def to_sb3(self, monitor: bool = True) -> VecEnv:
        """This env as a stable-baselines3 VecEnv (actions in [-1, 1], weights = (a + 1) / 2).

        With ``monitor`` it is wrapped in SB3's ``VecMonitor`` so episode returns are logged.
        """
        from driftrec.envs.sb3 import SB3VecEnv

        venv: VecEnv = SB3VecEnv(self)
        if monitor:
            from stable_baselines3.common.vec_env import VecMonitor

            venv = VecMonitor(venv)
        return venv


def make_vec_env(
    scenario: str | Scenario,
    num_users: int,
    num_items: int = 1000,
    dim: int = 64,
    catalog: Catalog | None = None,
    device: str | torch.device = "cpu",
    seed: int | None = None,
    **overrides: Any,
) -> DriftVecEnv:
    """Build the batched env (and reset it with ``seed`` when one is given).

    ``overrides`` are scenario parameters or DriftVecEnv keywords (``array``, ``action_mode``,
    ``reveal_hidden``, ``reveal_shifts``, ``autoreset``, ``score_chunk``, ``population``, ``engine``). Convert
    with ``env.to_sb3()``.
    """
    env = DriftVecEnv(scenario, num_users, catalog=catalog, num_items=num_items, dim=dim, device=device, **overrides)
    if seed is not None:
        env.reset(seed=seed)
    return env


def vector_entry_point(num_envs: int = 1, scenario: str | Scenario = "stable", **kwargs: Any) -> DriftVecEnv:
    """What ``gymnasium.make_vec(ENV_ID, num_envs=N, ...)`` builds: ``DriftVecEnv`` over N users,
    numpy in and out; the other keywords are ``make_vec_env``'s (scenario parameters included)."""
    return make_vec_env(scenario, num_envs, **kwargs)
