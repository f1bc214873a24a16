"""One rollout loop for every command that steps an env: reset, act, step, record.

``rollout(env, agent, steps, seed=..., record=[...])`` resets ``env`` with ``seed``, resets the
agent, and runs ``steps`` steps; after each one, every recorder gets the ``Step`` (what the agent
saw and did, what came back, and the simulator state the step started from). A command says what
it keeps through its recorders; the loop itself is the same for simulate, compare, tuning, logs,
off-policy validation and soak. (``driftrec bench`` times ``env.step`` alone, without a loop
around it.)

The built-in recorders keep common things: ``Rewards`` (per step, per user), ``RewardSum`` (the sum
per user, added step by step), ``Shifts`` (interest shifts of users that stayed), ``Weights`` (the
weights a weights-mode agent chose) and ``Ended`` (episodes that ended). ``ConstantAction`` is the
agent of a run at fixed per-user actions (a tuning grid), ``RandomWeights`` draws them uniformly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch

from driftrec.agents.base import Agent
from driftrec.envs import DriftVecEnv
from driftrec.simulators.state import SimState


@dataclass(frozen=True)
class Step:
    """One step of a rollout (N users).

    t: the step's index in the rollout (0-based). state: the simulator state the step started from.
    obs: (N, F) the observation the agent acted on; info: the info dict that came with it.
    action: what the agent returned. next_obs, reward (N,), terminated (N,), truncated (N,),
    next_info: what ``env.step`` returned (with autoreset, ended rows already hold new users).
    """

    t: int
    state: SimState
    obs: torch.Tensor
    info: dict[str, Any]
    action: torch.Tensor
    next_obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    next_info: dict[str, Any]

    @property
    def done(self) -> torch.Tensor:
        """(N,) bool: the user's episode ended at this step (churn or horizon)."""
        return self.terminated | self.truncated


class Recorder(Protocol):
    """Anything with ``record(env, step)``, called after every step of a rollout."""

    def record(self, env: DriftVecEnv, step: Step) -> None: ...


@dataclass(frozen=True)
class RolloutInfo:
    """steps: steps run. wall_s: seconds from the reset to the end of the last step."""

    steps: int
    wall_s: float


def rollout(
    env: DriftVecEnv,
    agent: Agent,
    steps: int,
    *,
    seed: int | Sequence[int],
    agent_seed: int | None = None,
    record: Sequence[Recorder] = (),
    on_step: Callable[[], None] | None = None,
) -> RolloutInfo:
    """Run ``agent`` on ``env`` for ``steps`` steps from ``env.reset(seed=seed)``.

    seed: the env's seed, one int or one per user. agent_seed: the agent's own seed
    (``agent.reset(env, agent_seed)``); default ``seed`` when it is one int, required with one seed
    per user. record: recorders, each called after every step in order. on_step: called after the
    recorders (a progress bar).
    """
    if agent_seed is None:
        if not isinstance(seed, int):
            raise ValueError("rollout with one seed per user needs agent_seed, the agent's own seed")
        agent_seed = seed
    start = time.perf_counter()
    obs, info = env.reset(seed=seed)
    agent.reset(env, agent_seed)
    for t in range(steps):
        state = env.state
        action = agent.act(obs, info)
        next_obs, reward, terminated, truncated, next_info = env.step(action)
        step = Step(t, state, obs, info, action, next_obs, reward, terminated, truncated, next_info)
        for r in record:
            r.record(env, step)
        if on_step is not None:
            on_step()
        obs, info = next_obs, next_info
    return RolloutInfo(steps, time.perf_counter() - start)


class Rewards:
    """``values``: (T, N) reward of every user at every step, on the env's device; with
    ``per_user=False``, (T,) the mean over users of each step (computed in ``dtype``)."""

    def __init__(self, per_user: bool = True, dtype: torch.dtype = torch.float32) -> None:
        self.per_user, self.dtype = per_user, dtype
        self._rows: list[torch.Tensor] = []

    def record(self, env: DriftVecEnv, step: Step) -> None:
        r = step.reward.to(self.dtype)
        self._rows.append(r if self.per_user else r.mean())

    @property
    def values(self) -> torch.Tensor:
        return torch.stack(self._rows)


class RewardSum:
    """``total``: (N,) the sum of each user's rewards, added one step at a time in ``dtype``; with
    ``per_user=False``, the sum over steps of each step's mean over users (a scalar tensor)."""

    def __init__(self, per_user: bool = True, dtype: torch.dtype = torch.float32) -> None:
        self.per_user, self.dtype = per_user, dtype
        self.total: torch.Tensor | None = None

    def record(self, env: DriftVecEnv, step: Step) -> None:
        r = step.reward.to(self.dtype)
        r = r if self.per_user else r.mean()
        self.total = r.clone() if self.total is None else self.total + r


class Shifts:
    """``values``: (T, N) bool, the hidden interest shifted at that step (env ``reveal_shifts``);
    a user replaced at the end of an episode is a new user, not a shift."""

    def __init__(self) -> None:
        self._rows: list[torch.Tensor] = []

    def record(self, env: DriftVecEnv, step: Step) -> None:
        self._rows.append(step.next_info["shift"] & ~step.done)

    @property
    def values(self) -> torch.Tensor:
        return torch.stack(self._rows)


class Weights:
    """``values``: (T, N, 3) the (alpha, mix, explore) a weights-mode agent chose at every step."""

    def __init__(self) -> None:
        self._rows: list[torch.Tensor] = []

    def record(self, env: DriftVecEnv, step: Step) -> None:
        a = step.action
        self._rows.append(a.expand(env.num_users, 3) if a.dim() == 1 else a)

    @property
    def values(self) -> torch.Tensor:
        return torch.stack(self._rows)


class Ended:
    """``count``: episodes that ended (churn or horizon) over the rollout, all users together."""

    def __init__(self) -> None:
        self._count: torch.Tensor | None = None

    def record(self, env: DriftVecEnv, step: Step) -> None:
        n = step.done.sum()
        self._count = n if self._count is None else self._count + n

    @property
    def count(self) -> int:
        return 0 if self._count is None else int(self._count)


class ConstantAction:
    """An agent that sends the same ``action`` every step: (3,) weights for everyone, (N, 3) weights
    per user, or (N, k) items (``action_mode="slate"``)."""

    needs_hidden: ClassVar[bool] = False

    def __init__(self, action: torch.Tensor, action_mode: str = "weights", name: str = "constant") -> None:
        self.action, self.action_mode, self.name = action, action_mode, name

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        self.action = self.action.to(env.device)

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        return self.action


class RandomWeights:
    """An agent that draws every user's weights uniformly in [0, 1]^3 each step, from its own
    generator seeded with ``seed`` (the env's draws stay untouched)."""

    action_mode: ClassVar[str] = "weights"
    needs_hidden: ClassVar[bool] = False

    def __init__(self, seed: int, name: str = "random-weights") -> None:
        self.seed, self.name = seed, name
        self._gen: torch.Generator | None = None
        self._n = 0

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        self._gen = torch.Generator(device=env.device).manual_seed(self.seed)
        self._n, self._device = env.num_users, env.device

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        return torch.rand(self._n, 3, generator=self._gen, device=self._device)
