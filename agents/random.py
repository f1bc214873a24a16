"""RandomSlate: k distinct items uniformly at random (the floor every recommender must beat)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from driftrec.envs.batched import DriftVecEnv


class RandomSlate:
    """Uniformly random slates of distinct items, from the agent's own seeded ``torch.Generator``."""

    action_mode: ClassVar[str] = "slate"
    needs_hidden: ClassVar[bool] = False

    def __init__(self, name: str = "random") -> None:
        self.name = name
        self._gen: torch.Generator | None = None

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        self._env = env
        self._gen = torch.Generator(device=env.device).manual_seed(int(seed))

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        if self._gen is None:
            raise RuntimeError("call reset(env, seed) before act()")
        n, m, k = self._env.num_users, self._env.num_items, self._env.slate_size
        scores = torch.rand(n, m, generator=self._gen, device=self._env.device)
        return torch.topk(scores, k, dim=1).indices
