"""Policies over the batched env: they choose weights (or slates) from observations."""

from driftrec.agents.bandits import LinearBandit
from driftrec.agents.base import Agent
from driftrec.agents.fixed import FixedWeights
from driftrec.agents.heuristics import ChangeDetection, InverseT
from driftrec.agents.oracle import Oracle
from driftrec.agents.ppo import PPO_DEFAULTS, PPOWeights
from driftrec.agents.random import RandomSlate
from driftrec.agents.weights_oracle import WeightsOracle

__all__ = [
    "PPO_DEFAULTS",
    "Agent",
    "ChangeDetection",
    "FixedWeights",
    "InverseT",
    "LinearBandit",
    "Oracle",
    "PPOWeights",
    "RandomSlate",
    "WeightsOracle",
]
