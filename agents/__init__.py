"""Policies over the batched env: they choose weights (or slates) from observations."""

from driftrec.agents.base import Agent
from driftrec.agents.fixed import FixedWeights
from driftrec.agents.oracle import Oracle
from driftrec.agents.random import RandomSlate

__all__ = ["Agent", "FixedWeights", "Oracle", "RandomSlate"]
