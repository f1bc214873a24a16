"""SB3VecEnv: DriftVecEnvs seen by stable-baselines3 as a VecEnv of single-user envs.

Actions are normalised to [-1, 1] (weights = (a + 1) / 2). Users whose episode ends are reset in
the same step; their final observation is in ``infos[i]["terminal_observation"]`` and
``infos[i]["TimeLimit.truncated"]`` tells a horizon cut from churn. Only those users' infos are
filled; every step returns fresh numpy arrays.

Several DriftVecEnvs (other scenarios or catalogs) can form one VecEnv: their users are stacked in
the given order, so one policy trains on all of them at once (a training mixture).
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


def host(x: Any) -> np.ndarray:
    """A DriftVecEnv output (numpy array, or tensor with ``array="torch"``) as a host numpy array.
    A view, not a copy: the env returns new tensors every step and never changes them later."""
    return x if isinstance(x, np.ndarray) else x.cpu().numpy()


class SB3VecEnv(VecEnv):
    """SB3 adapter over one or more weights-mode DriftVecEnvs with autoreset (users stacked in order)."""

    def __init__(self, env: DriftVecEnv | Sequence[DriftVecEnv]) -> None:
        envs = [env] if isinstance(env, DriftVecEnv) else list(env)
        if not envs:
            raise ValueError("SB3VecEnv needs at least one DriftVecEnv")
        for e in envs:
            if e.action_mode != "weights":
                raise ValueError(f"SB3VecEnv needs action_mode='weights', got {e.action_mode!r}")
            if not e.autoreset:
                raise ValueError("SB3VecEnv needs a DriftVecEnv with autoreset=True (same-step)")
            if e.single_observation_space != envs[0].single_observation_space:
                raise ValueError("the envs of one SB3VecEnv must share the observation space")
        self.envs = envs
        self.env = envs[0]  # before super().__init__, which reads render_mode through get_attr
        bounds = np.cumsum([0] + [e.num_users for e in envs])
        self._blocks = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
        super().__init__(int(bounds[-1]), envs[0].single_observation_space, spaces.Box(-1.0, 1.0, (3,), np.float32))
        self._actions: np.ndarray | None = None
        self.env_seconds = 0.0
        """Wall time spent in reset and step (the env's share of a training run)."""

    def reset(self) -> VecEnvObs:
        start = time.perf_counter()
        seeds = None if all(s is None for s in self._seeds) else [0 if s is None else int(s) for s in self._seeds]
        parts = []
        for e, (lo, hi) in zip(self.envs, self._blocks, strict=True):
            obs, _ = e.reset(seed=None if seeds is None else seeds[lo:hi])
            parts.append(host(obs))
        self._reset_seeds()
        self._reset_options()
        out = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self.env_seconds += time.perf_counter() - start
        return out

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        start = time.perf_counter()
        weights = weights_from_normalized(self._actions, self.num_envs)
        obs, reward, done, final, trunc = [], [], [], [], []
        for e, (lo, hi) in zip(self.envs, self._blocks, strict=True):
            o, r, terminated, truncated, info = e.step(weights[lo:hi].to(e.device))
            obs.append(host(o))
            reward.append(host(r).astype(np.float32, copy=False))
            done.append(host(terminated | truncated))
            final.append(info["final_obs"])
            trunc.append(truncated & ~terminated)
        dones = np.concatenate(done)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        rows = np.flatnonzero(dones)
        if rows.size:
            final_np = np.concatenate([host(f) for f in final])
            trunc_np = np.concatenate([host(t) for t in trunc])
            for i in rows:
                infos[i] = {"terminal_observation": final_np[i].copy(), "TimeLimit.truncated": bool(trunc_np[i])}
        out_obs = np.concatenate(obs) if len(obs) > 1 else obs[0]
        out = out_obs, np.concatenate(reward), dones, infos
        self.env_seconds += time.perf_counter() - start
        return out

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.env, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for e in self.envs:
            setattr(e, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        return [getattr(self.env, method_name)(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]
