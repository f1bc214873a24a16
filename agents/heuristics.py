"""Hand-written weight rules: the fair, non-learned rivals of the PPO policy.

Both read only the observation (the recommender's own statistics), never the hidden state.

- ``ChangeDetection``: the articles' rule. When the interest looks like it moved, trust new
  evidence fully and explore; otherwise use calm weights. Two detectors: ``"cosine"`` (the newest
  evidence has cosine below ``threshold`` with the short-term profile) and ``"ctr"`` (the fast
  click-rate average fell below ``threshold`` times the slow one, or no click for ``patience``
  steps).
- ``InverseT``: running-mean profiles, ``alpha = 1 / (n + 1)`` after n evidence events (1/t
  averaging); ``mix`` and ``explore`` fixed.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from driftrec.encoders.checks import check_int, check_number
from driftrec.envs.batched import DriftVecEnv
from driftrec.simulators.recommender import FEATURE_NAMES

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
DETECTORS = ("cosine", "ctr")


def weight_triple(values: tuple[float, float, float], name: str) -> tuple[float, float, float]:
    """``values`` as three floats (alpha, mix, explore), each checked to lie in [0, 1]."""
    if len(values) != 3:
        raise ValueError(f"{name} needs 3 values (alpha, mix, explore), got {list(values)}")
    for key, v in zip(("alpha", "mix", "explore"), values, strict=True):
        check_number(f"{name} {key}", v, 0.0, 1.0)
    return (float(values[0]), float(values[1]), float(values[2]))


class ChangeDetection:
    """Switch between calm and alert weights on a detected interest change.

    Args:
        detector: "cosine" or "ctr" (see module docstring).
        threshold: cosine below which evidence counts as a change (cosine detector, in [-1, 1]),
            or the fast/slow click-rate ratio below which the rate counts as dropped (ctr, in [0, 1]).
        patience: with the ctr detector, steps without any click that also count as a change.
        calm, alert: (alpha, mix, explore) used without and with a detected change.
    """

    action_mode: ClassVar[str] = "weights"
    needs_hidden: ClassVar[bool] = False

    def __init__(
        self,
        detector: str = "cosine",
        threshold: float = 0.5,
        patience: int = 3,
        calm: tuple[float, float, float] = (0.3, 0.8, 0.0),
        alert: tuple[float, float, float] = (1.0, 1.0, 0.3),
        name: str | None = None,
    ) -> None:
        if detector not in DETECTORS:
            raise ValueError(f"detector {detector!r} is unknown; allowed: {', '.join(DETECTORS)}")
        check_number("threshold", threshold, -1.0 if detector == "cosine" else 0.0, 1.0)
        check_int("patience", patience, 1)
        self.detector, self.threshold, self.patience = detector, float(threshold), patience
        self.calm, self.alert = weight_triple(calm, "calm"), weight_triple(alert, "alert")
        self.name = name or f"change-{detector}"
        self._calm: torch.Tensor | None = None
        self._alert: torch.Tensor | None = None

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        self._calm = torch.tensor(self.calm, dtype=torch.float32, device=env.device)
        self._alert = torch.tensor(self.alert, dtype=torch.float32, device=env.device)

    def changed(self, obs: torch.Tensor) -> torch.Tensor:
        """(N,) bool: whether each user's interest looks like it moved."""
        if self.detector == "cosine":
            return (obs[:, _COL["evidence"]] > 0.5) & (obs[:, _COL["change_signal"]] < self.threshold)
        fast, slow = obs[:, _COL["ctr_fast"]], obs[:, _COL["ctr_slow"]]
        # since_click is observed as 1 - exp(-steps / 10)
        no_click = obs[:, _COL["since_click"]] >= 1.0 - math.exp(-self.patience / 10.0) - 1e-6
        return (fast < self.threshold * slow) | no_click

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        if self._calm is None or self._alert is None:
            raise RuntimeError("call reset(env, seed) before act()")
        return torch.where(self.changed(obs).unsqueeze(-1), self._alert, self._calm)


class InverseT:
    """1/t averaging: ``alpha = 1 / (n + 1)`` after n evidence events in the episode.

    The count restarts when a user's episode restarts (``progress`` feature back to 0).
    """

    action_mode: ClassVar[str] = "weights"
    needs_hidden: ClassVar[bool] = False

    def __init__(self, mix: float = 1.0, explore: float = 0.0, name: str = "1/t") -> None:
        check_number("mix", mix, 0.0, 1.0)
        check_number("explore", explore, 0.0, 1.0)
        self.mix, self.explore, self.name = float(mix), float(explore), name
        self._count: torch.Tensor | None = None

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        self._count = torch.zeros(env.num_users, dtype=torch.float32, device=env.device)

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        if self._count is None:
            raise RuntimeError("call reset(env, seed) before act()")
        fresh = obs[:, _COL["progress"]] <= 0.0
        self._count = torch.where(fresh, torch.zeros_like(self._count), self._count + obs[:, _COL["evidence"]])
        alpha = 1.0 / (self._count + 1.0)
        return torch.stack([alpha, torch.full_like(alpha, self.mix), torch.full_like(alpha, self.explore)], dim=1)
