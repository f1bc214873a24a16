"""The agent interface every experiment uses.

An agent acts on a batched env: ``act(obs, info)`` gets the (N, F) observation tensor and the
info dict of the last reset/step and returns an action tensor: (N, 3) weights in [0, 1]
(``action_mode = "weights"``) or (N, k) item indices (``action_mode = "slate"``). ``reset`` is
called once per run with the env and a seed for the agent's own randomness.
``needs_hidden = True`` marks agents that read the hidden state (the env must reveal it);
they are upper bounds, not recommenders. ``needs_shifts = True`` (optional; False when absent)
marks agents told when the hidden interest shifted (``info["shift"]``, env ``reveal_shifts=True``):
references for weighting, not recommenders either.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

from driftrec.envs.batched import DriftVecEnv


@runtime_checkable
class Agent(Protocol):
    name: str
    action_mode: ClassVar[str]
    needs_hidden: ClassVar[bool]

    def reset(self, env: DriftVecEnv, seed: int) -> None: ...

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor: ...
