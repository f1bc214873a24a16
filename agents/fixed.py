"""FixedWeights: the fixed-alpha baseline (constant update rate, mix and exploration)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from driftrec.encoders.checks import check_number
from driftrec.envs.batched import DriftVecEnv


class FixedWeights:
    """Constant weights for every user at every step.

    Args:
        alpha: update rate of the short-term profile, in [0, 1].
        mix: share of the short-term profile in the query (lambda), in [0, 1].
        explore: share of slots given to random items, in [0, 1].
    """

    action_mode: ClassVar[str] = "weights"
    needs_hidden: ClassVar[bool] = False

    def __init__(self, alpha: float = 0.3, mix: float = 0.7, explore: float = 0.05, name: str = "fixed") -> None:
        for key, v in (("alpha", alpha), ("mix", mix), ("explore", explore)):
            check_number(key, v, 0.0, 1.0)
        self.alpha, self.mix, self.explore = float(alpha), float(mix), float(explore)
        self.name = name
        self._action: torch.Tensor | None = None

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        w = torch.tensor([self.alpha, self.mix, self.explore], dtype=torch.float32, device=env.device)
        self._action = w.expand(env.num_users, 3)

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        if self._action is None:
            raise RuntimeError("call reset(env, seed) before act()")
        return self._action

    def __repr__(self) -> str:
        return f"FixedWeights(alpha={self.alpha}, mix={self.mix}, explore={self.explore})"
