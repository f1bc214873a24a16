"""Oracle: shows the k items of highest true utility (an upper bound; reads the hidden state)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from driftrec.envs.batched import DriftVecEnv


class Oracle:
    """Myopic oracle: the top-k items by true utility (intent and boredom) at every step.

    It needs ``reveal_hidden=True`` on the env and reads only ``info["item_utility"]``. It is the
    best possible single-step slate under both click models (click probability rises with
    utility and falls with position), ignoring how today's clicks tire the user tomorrow.
    """

    action_mode: ClassVar[str] = "slate"
    needs_hidden: ClassVar[bool] = True

    def __init__(self, name: str = "oracle") -> None:
        self.name = name
        self._k = 0

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        if not env.reveal_hidden:
            raise ValueError("Oracle needs an env built with reveal_hidden=True")
        self._k = env.slate_size

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        if "item_utility" not in info:
            raise KeyError("Oracle needs info['item_utility']; build the env with reveal_hidden=True")
        return torch.topk(info["item_utility"], self._k, dim=1).indices
