"""DriftEnv: one user with drifting interests, as a standard ``gymnasium.Env``.

Registered as ``driftrec/DriftingInterests-v0`` (``import driftrec`` first).

Spaces:
    observation: Box(11,) float32, columns ``driftrec.simulators.recommender.FEATURE_NAMES``:
        CTR at two speeds, steps since the last click, cos(short, long profile), the change signal
        cos(short profile, newest evidence), evidence flag, last weights, episode progress,
        organic activity. Never the hidden interest.
    action (``action_mode="weights"``): Box(-1, 1, (3,)) float32, the normalised weights
        ``(alpha, mix, explore) = (action + 1) / 2`` (SB3 expects symmetric [-1, 1] actions): the
        batched ``DriftVecEnv`` takes the weights themselves, and under Gymnasium's
        ``RescaleAction(vec_env, -1.0, 1.0)`` speaks this convention bit for bit.
    action (``action_mode="slate"``): MultiDiscrete([M] * k), k distinct item indices.
Dynamics: the scenario's (see ``driftrec.simulators.simulation``).
Reward: number of clicks in the slate.
Episode end: terminated when the user churns, truncated at ``horizon`` steps.
Seeding: ``reset(seed=s)`` gives this user the seed ``s`` (any non-negative int, as Gymnasium's
seeding takes; ``driftrec.simulators.rng.seed_bits``); user i of ``DriftVecEnv.reset(seed=b)``
is reproduced by ``reset(seed=driftrec.user_seeds(b, N)[i])``. ``reset()`` without a seed starts the
user's next episode.
Engine: ``engine="compiled"`` steps under ``torch.compile`` with the same numbers, about 2x as
fast once compiled (20-70 s on the first step; see ``DriftVecEnv``).
Construction: keywords, or one config mapping that holds them (RLlib's ``EnvContext``); an unknown
keyword is a TypeError. Workers that never import driftrec (RLlib env runners, spawned processes)
find the env by ``"driftrec:driftrec/DriftingInterests-v0"``: Gymnasium imports ``driftrec`` first.

Example:
    >>> import gymnasium, driftrec
    >>> env = gymnasium.make("driftrec/DriftingInterests-v0", scenario="abrupt")
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from driftrec.envs.batched import DriftVecEnv
from driftrec.envs.inputs import as_action_tensor, check_overrides, first_outside
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.population import Population
from driftrec.simulators.scenarios import Scenario


def weights_from_normalized(action: Any, num_rows: int | None = None) -> torch.Tensor:
    """Map normalised actions in [-1, 1] to weights in [0, 1]; raise on NaN, out-of-range or bad shape."""
    a = as_action_tensor(action, "action").to(torch.float32)
    expected = (3,) if num_rows is None else (num_rows, 3)
    if tuple(a.shape) != expected:
        raise ValueError(f"action has shape {tuple(a.shape)}; expected {expected} with values in [-1, 1]")
    idx = first_outside(a, -1.0, 1.0)
    if idx is not None:
        raise ValueError(f"action value {float(a[idx])!r} at index {idx} is outside the allowed range [-1, 1]")
    return ((a + 1.0) * 0.5).clamp(0.0, 1.0)


class DriftEnv(gym.Env):
    """Single-user drifting-interest recommendation env (see module docstring)."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: str | Scenario | Mapping[str, Any] = "stable",
        catalog: Catalog | None = None,
        num_items: int = 1000,
        dim: int = 64,
        action_mode: str = "weights",
        device: str | torch.device = "cpu",
        render_mode: str | None = None,
        population: Population | None = None,
        engine: str = "eager",
        **overrides: Any,
    ) -> None:
        if isinstance(scenario, Mapping):  # a config mapping (RLlib's EnvContext) holding the keywords
            given = (catalog, num_items, dim, action_mode, device, render_mode, population, engine)
            if overrides or given != DriftEnv.__init__.__defaults__[1:]:
                raise TypeError("DriftEnv takes either a config mapping or keywords, not both")
            DriftEnv.__init__(self, **scenario)
            return
        check_overrides("DriftEnv", overrides)
        if render_mode is not None:
            raise ValueError(f"render_mode {render_mode!r} is not supported; this env has no rendering")
        self._vec = DriftVecEnv(
            scenario,
            1,
            catalog=catalog,
            array="torch",
            num_items=num_items,
            dim=dim,
            device=device,
            action_mode=action_mode,
            autoreset=False,
            population=population,
            engine=engine,
            **overrides,
        )
        self.render_mode = None
        self.action_mode = action_mode
        self.observation_space = self._vec.single_observation_space
        if action_mode == "weights":
            self.action_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        else:
            self.action_space = self._vec.single_action_space
        self._seeded = False

    @property
    def scenario(self) -> Scenario:
        return self._vec.scenario

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            obs, _ = self._vec.reset(seed=[seed])
            self._seeded = True
        elif not self._seeded:
            obs, _ = self._vec.reset(seed=[int(self.np_random.integers(0, 2**63 - 1))])
            self._seeded = True
        else:
            obs = self._vec.reset_done(torch.zeros(1, dtype=torch.long))
        return obs[0].cpu().numpy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        vec = self._vec
        vec._require_reset()
        weights = self.action_mode == "weights"
        if weights:  # checked here in [-1, 1]; the vector env need not check the weights again
            act: Any = weights_from_normalized(action).unsqueeze(0).to(vec.device)
        else:
            act = as_action_tensor(action, "slate action").reshape(1, -1)
        with torch.inference_mode():
            obs, reward, terminated, truncated, info = vec._step(act, checked=weights)
        out = {"items": _host(info["items"][0]), "clicks": _host(info["clicks"][0])}
        return _host(obs[0]), float(reward[0]), bool(terminated[0]), bool(truncated[0]), out


def _host(x: torch.Tensor) -> np.ndarray:
    """A numpy copy of ``x`` (the env keeps its own tensors)."""
    return x.cpu().numpy().copy() if x.device.type == "cpu" else x.cpu().numpy()
