"""SB3VecEnv: a DriftVecEnv seen by stable-baselines3 as a VecEnv of N single-user envs.

Actions are normalised to [-1, 1] (weights = (a + 1) / 2). Users whose episode ends are reset in
the same step; their final observation is in ``infos[i]["terminal_observation"]`` and
``infos[i]["TimeLimit.truncated"]`` tells a horizon cut from churn. Only those users' infos are
filled; every step returns fresh numpy arrays.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from driftrec.envs.batched import DriftVecEnv
from driftrec.envs.single import weights_from_normalized


class SB3VecEnv(VecEnv):
    """SB3 adapter over a weights-mode DriftVecEnv with autoreset."""

    def __init__(self, env: DriftVecEnv) -> None:
        if env.action_mode != "weights":
            raise ValueError(f"SB3VecEnv needs action_mode='weights', got {env.action_mode!r}")
        if not env.autoreset:
            raise ValueError("SB3VecEnv needs a DriftVecEnv with autoreset=True")
        self.env = env  # before super().__init__, which reads render_mode through get_attr
        super().__init__(env.num_users, env.observation_space, spaces.Box(-1.0, 1.0, (3,), np.float32))
        self._actions: np.ndarray | None = None
        self.env_seconds = 0.0
        """Wall time spent in reset and step (the env's share of a training run)."""

    def reset(self) -> VecEnvObs:
        start = time.perf_counter()
        seeds = None if all(s is None for s in self._seeds) else [0 if s is None else int(s) for s in self._seeds]
        obs, _ = self.env.reset(seed=seeds)
        self._reset_seeds()
        self._reset_options()
        out = obs.cpu().numpy().copy()
        self.env_seconds += time.perf_counter() - start
        return out

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        start = time.perf_counter()
        weights = weights_from_normalized(self._actions, self.num_envs).to(self.env.device)
        obs, reward, terminated, truncated, info = self.env.step(weights)
        done = (terminated | truncated).cpu().numpy()
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        rows = np.flatnonzero(done)
        if rows.size:
            final = info["final_obs"].cpu().numpy()
            trunc = (truncated & ~terminated).cpu().numpy()
            for i in rows:
                infos[i] = {"terminal_observation": final[i].copy(), "TimeLimit.truncated": bool(trunc[i])}
        out = obs.cpu().numpy().copy(), reward.cpu().numpy().astype(np.float32), done, infos
        self.env_seconds += time.perf_counter() - start
        return out

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.env, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        return [getattr(self.env, method_name)(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]
