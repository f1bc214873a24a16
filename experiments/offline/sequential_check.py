"""Sequential estimates of weight policies, and their check against the simulator's truth
(``driftrec ope --sequential [--validate]``).

A target is a weights agent that is Markov in the observation (a fixed weighting, a PPO policy)
plus a logit-space scale: with ``noise=S`` the target is the stochastic policy ``NoisyWeights(agent,
S)``; without, it is the deterministic agent, estimated through its kernel-smoothed version of
bandwidth ``bandwidth`` (``offline.sequential``). The check logs with a ``LogConfig`` whose weights
are drawn with known densities, estimates each target over the first H steps of the logged
episodes, and runs the estimated policy live on the same users from the same seed: the live
return over H steps is the truth the interval should cover.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from driftrec.agents import FixedWeights
from driftrec.agents.base import Agent
from driftrec.agents.noisy import NoisyWeights
from driftrec.agents.ppo import PPOWeights
from driftrec.encoders.checks import check_int, check_number
from driftrec.experiments.common.rollout import Step, rollout
from driftrec.experiments.offline.episodes import episodes_from_log
from driftrec.experiments.offline.sequential import (
    SEQUENTIAL_ESTIMATORS,
    Trajectories,
    WeightTarget,
    estimate_sequential,
)
from driftrec.experiments.offline.trajectories import LogConfig, parse_target, simulate_log
from driftrec.experiments.offline.validation import score_reps

DEFAULT_HORIZONS = (10, 50, 200)
DEFAULT_BANDWIDTH = 0.3


def default_targets(cfg: LogConfig) -> list[str]:
    """Targets of ``ope --sequential --validate`` when none are given, for a fixed-weights logging
    policy: the logging policy itself (on-policy: a sanity check) and a slightly quicker update
    (alpha + 0.1), both with the logging noise."""
    if cfg.agent != "fixed":
        raise ValueError(f"give the target policies (--target): there are no default targets for a {cfg.agent!r} log")
    a, m, e = cfg.fixed_weights
    s = cfg.weight_noise
    return [f"logging:alpha={a:g},mix={m:g},explore={e:g},noise={s:g}",
            f"quicker:alpha={min(a + 0.1, 1.0):g},mix={m:g},explore={e:g},noise={s:g}"]  # fmt: skip


@dataclass(frozen=True)
class SequentialTarget:
    """A target weight policy: ``agent`` (its weights' centre, Markov in the observation) and the
    logit-space ``scale`` of its noise, or of the kernel when ``deterministic``."""

    name: str
    agent: Agent
    scale: float
    deterministic: bool = False

    def __post_init__(self) -> None:
        check_number(f"target {self.name!r} scale", self.scale, 0.0, 1.0, lo_open=True)
        if not isinstance(self.agent, (FixedWeights, PPOWeights)):
            raise ValueError(
                f"target {self.name!r}: sequential targets are fixed weightings or PPO policies (their weights "
                f"depend on the observation alone), got {self.agent!r}"
            )

    def on_log(self, data: Trajectories) -> WeightTarget:
        """The target on the logged states: its centre weights at every logged observation."""
        return WeightTarget(self.name, centre_weights(self.agent, data.observation), self.scale, self.deterministic)

    def estimated_policy(self) -> Agent:
        """The policy whose value is estimated: the agent with its noise (or kernel)."""
        return NoisyWeights(self.agent, self.scale, name=self.name)


def centre_weights(agent: Agent, observation: np.ndarray) -> np.ndarray:
    """(n, H, 3) the weights ``agent`` (a ``FixedWeights`` or ``PPOWeights``) chooses at each of the
    observations (n, H, F)."""
    n, h, f = observation.shape
    if isinstance(agent, FixedWeights):
        return np.broadcast_to(np.array([agent.alpha, agent.mix, agent.explore], np.float32), (n, h, 3)).astype(float)
    obs = torch.from_numpy(observation.reshape(n * h, f).astype(np.float32))
    return agent.act(obs, {}).double().numpy().reshape(n, h, 3)


def parse_sequential_target(spec: str, bandwidth: float = DEFAULT_BANDWIDTH) -> SequentialTarget:
    """``"[NAME:]alpha=A,mix=M,explore=E[,noise=S]"`` (a fixed weighting) or ``"[NAME:]ppo:FILE[,noise=S]"``
    (a trained policy, named ``ppo`` by default): stochastic with ``noise``, else deterministic and
    smoothed with ``bandwidth``."""
    head, sep, rest = spec.partition("ppo:")
    agent: Agent
    if sep and rest and (head == "" or (head.endswith(":") and ":" not in head[:-1])):
        path, _, raw = rest.partition(",noise=")
        name, agent = head[:-1] or "ppo", PPOWeights.load(path)
    else:
        prefix, colon, body = spec.rpartition(":")
        parts = [p.strip() for p in body.split(",") if p.strip()]
        noise = [p for p in parts if p.partition("=")[0].strip() == "noise"]
        agent = parse_target(f"{prefix}{colon}{','.join(p for p in parts if p not in noise)}")
        name, raw = agent.name, noise[-1].partition("=")[2] if noise else ""
    if not raw:
        return SequentialTarget(name, agent, bandwidth, deterministic=True)
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"target policy {spec!r}: noise={raw!r} is not a number") from None
    return SequentialTarget(name, agent, scale)


def live_returns(
    cfg: LogConfig, agent: Agent, steps: int, gamma: float = 1.0, agent_seed: int | None = None
) -> np.ndarray:
    """(N, steps) cumulative discounted rewards of ``agent`` run live on the users of ``cfg`` (its
    env and seed), over each user's first episode (0 after churn): column H-1 is the return over H
    steps."""
    env = cfg.make_env()
    alive = torch.ones(env.num_users, dtype=torch.bool, device=env.device)
    rows: list[torch.Tensor] = []

    class _Record:
        def record(self, env: object, step: Step) -> None:
            rows.append(step.reward.to(torch.float64) * alive * gamma**step.t)
            alive.mul_(~step.done)

    seed = cfg.seed + 7919 if agent_seed is None else agent_seed  # the policy's noise, not the logging run's
    rollout(env, agent, steps, seed=cfg.seed, agent_seed=seed, record=[_Record()])
    return torch.cumsum(torch.stack(rows, 1), 1).cpu().numpy()


def validate_sequential(
    cfg: LogConfig,
    targets: Sequence[SequentialTarget],
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    reps: int = 20,
    estimators: Sequence[str] = SEQUENTIAL_ESTIMATORS,
    n_bootstrap_samples: int = 500,
    gamma: float = 1.0,
    on_rep: Callable[[], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Log with ``cfg`` ``reps`` times (seeds cfg.seed, cfg.seed + 1, ...), estimate each target over
    each horizon and compare with its live return on the same users. Returns (one row per rep,
    horizon, target and estimator; the summary per horizon, target and estimator: coverage of the
    95% intervals, mean relative error and mean |relative error|, mean and smallest ESS)."""
    check_int("reps", reps, 2)
    if not cfg.weight_noise > 0:
        raise ValueError(
            "sequential estimates need a log with weight densities: give weight_noise > 0 (--weight-noise)"
        )
    if not targets:
        raise ValueError("give at least one target policy")
    hs = sorted({check_int("horizon", h, 1) for h in horizons})
    if hs[-1] > cfg.steps:
        raise ValueError(f"horizon {hs[-1]} is longer than the log's {cfg.steps} steps; log more steps (--steps)")
    rows = []
    for r in range(reps):
        rc = dataclasses.replace(cfg, seed=cfg.seed + r)
        frame = simulate_log(rc).frame
        live = {t.name: live_returns(rc, t.estimated_policy(), hs[-1], gamma).mean(0) for t in targets}
        det = {t.name: live_returns(rc, t.agent, hs[-1], gamma).mean(0) for t in targets if t.deterministic}
        for h in hs:
            data = episodes_from_log(frame, h).trajectories
            for t in targets:
                est = estimate_sequential(
                    data,
                    t.on_log(data),
                    tuple(estimators),
                    gamma=gamma,
                    n_bootstrap_samples=n_bootstrap_samples,
                    random_state=r,
                )
                truth = {
                    "live": float(live[t.name][h - 1]),
                    "deterministic_live": float(det.get(t.name, [np.nan] * h)[h - 1]),
                }
                rows += [{**dataclasses.asdict(e), "rep": r, "seed": rc.seed, **truth} for e in est]
        if on_rep is not None:
            on_rep()
    df = pd.DataFrame(rows)
    summary = score_reps(
        df, ["horizon", "target", "estimator"], ("value", "live", "low", "high"), live=("live", "mean"),
        estimate=("value", "mean"), mean_ess=("ess", "mean"), min_ess=("min_ess", "min"),
    )  # fmt: skip
    return df, summary
