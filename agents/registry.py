"""The agent registry: every agent a command can name, with its factory and its description.

Each command picks its agents from here (``driftrec simulate --agents``, ``compare``, ``log``,
``replay``), so a name means the same agent everywhere and ``--help`` lists the same text.
``make_agent(name, ...)`` builds one; ``register_agent`` adds your own, which every command then
accepts::

    from driftrec.agents.registry import register_agent
    register_agent("slow", lambda fixed_weights, policy: FixedWeights(0.05, 0.7, 0.05), "alpha 0.05")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from driftrec.agents.bandits import KINDS as BANDIT_KINDS
from driftrec.agents.bandits import LinearBandit
from driftrec.agents.base import Agent
from driftrec.agents.fixed import FixedWeights
from driftrec.agents.heuristics import ChangeDetection, InverseT
from driftrec.agents.oracle import Oracle
from driftrec.agents.ppo import PPOWeights
from driftrec.agents.random import RandomSlate
from driftrec.agents.weights_oracle import WeightsOracle

DEFAULT_FIXED_WEIGHTS = (0.3, 0.7, 0.05)
"""(alpha, mix, explore) of ``fixed`` when a command is given none."""

Factory = Callable[[Sequence[float], "str | None"], Agent]
"""``factory(fixed_weights, policy)``: the command's fixed weights (alpha, mix, explore) and its
saved PPO policy file (None when not given); an agent that needs neither ignores them."""


@dataclass(frozen=True)
class AgentEntry:
    """One registered agent.

    Attributes:
        name: the name commands take (``--agents NAME``).
        factory: builds the agent (``Factory``).
        description: one line for ``--help`` and docs.
        action_mode: "weights" (it chooses (alpha, mix, explore)) or "slate" (it chooses items).
        reads_hidden: it reads the hidden state or is told when interests shift: a reference or an
            upper bound, not a recommender (logs and replays refuse it).
    """

    name: str
    factory: Factory
    description: str
    action_mode: str
    reads_hidden: bool = False


_REGISTRY: dict[str, AgentEntry] = {}


def register_agent(
    name: str, factory: Factory, description: str, *, action_mode: str = "weights", reads_hidden: bool = False
) -> AgentEntry:
    """Add an agent under ``name`` (refused if the name is taken); returns its entry."""
    if not isinstance(name, str) or not name or "," in name:
        raise ValueError(f"agent name {name!r} is not allowed; it must be a non-empty string without commas")
    if name in _REGISTRY:
        raise ValueError(f"agent {name!r} is already registered; pick another name")
    if action_mode not in ("weights", "slate"):
        raise ValueError(f"action_mode {action_mode!r} is unknown; allowed: weights, slate")
    entry = AgentEntry(name, factory, description, action_mode, reads_hidden)
    _REGISTRY[name] = entry
    return entry


def agent_entry(name: str) -> AgentEntry:
    """The entry of ``name``, or an error that lists the known agents."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; known agents: {', '.join(_REGISTRY)}") from None


def agent_descriptions(*, action_mode: str | None = None, recommenders_only: bool = False) -> dict[str, str]:
    """Name -> description of the registered agents, in registration order; ``action_mode`` keeps
    one mode, ``recommenders_only`` drops those that read the hidden state."""
    return {
        e.name: e.description
        for e in _REGISTRY.values()
        if (action_mode is None or e.action_mode == action_mode) and not (recommenders_only and e.reads_hidden)
    }


def make_agent(name: str, fixed_weights: Sequence[float] = DEFAULT_FIXED_WEIGHTS, policy: str | None = None) -> Agent:
    """The agent registered as ``name``; ``fixed_weights`` are used by "fixed" (and as the calm
    weights of "weights-oracle"), ``policy`` is the saved PPO policy file that "ppo" loads."""
    return agent_entry(name).factory(fixed_weights, policy)


def _fixed(w: Sequence[float], _policy: str | None) -> Agent:
    if len(w) != 3:
        raise ValueError(f"fixed_weights needs 3 values (alpha, mix, explore), got {list(w)}")
    return FixedWeights(alpha=w[0], mix=w[1], explore=w[2])


def _ppo(_w: Sequence[float], policy: str | None) -> Agent:
    if policy is None:
        raise ValueError("agent 'ppo' needs a trained policy: pass --policy FILE (from driftrec train)")
    return PPOWeights.load(policy)


def _bandit(kind: str) -> Factory:
    return lambda _w, _p: LinearBandit(kind)


def _change(detector: str) -> Factory:
    return lambda _w, _p: ChangeDetection(detector=detector, threshold=0.5, name=f"change-{detector}")


_EPS = inspect.signature(LinearBandit).parameters["epsilon"].default
register_agent(
    "fixed", _fixed, "FixedWeights: the fixed-alpha baseline (constant alpha, mix, explore; --fixed-weights)"
)
register_agent(
    "oracle",
    lambda _w, _p: Oracle(),
    "Oracle: top-k by true utility, reads the hidden state (upper bound)",
    action_mode="slate",
    reads_hidden=True,
)
register_agent(
    "weights-oracle",
    lambda w, _p: WeightsOracle(calm=tuple(w)),
    "WeightsOracle: told when the hidden interest shifted; after a shift, explores every slot until "
    "the user clicks (at most 50 steps), else the fixed weights (compare: best-fixed); a reference for weighting",
    reads_hidden=True,
)
register_agent(
    "random",
    lambda _w, _p: RandomSlate(),
    "RandomSlate: k distinct items uniformly at random (floor)",
    action_mode="slate",
)
register_agent("ppo", _ppo, "PPOWeights: a trained PPO weight policy (--policy FILE from driftrec train)")
register_agent(
    "change-cosine",
    _change("cosine"),
    "ChangeDetection: alert weights when new evidence has cosine < 0.5 with the short profile",
)
register_agent(
    "change-ctr",
    _change("ctr"),
    "ChangeDetection: alert weights when the fast CTR < half the slow one, or 3 steps without a click",
)
register_agent(
    "1/t", lambda _w, _p: InverseT(), "InverseT: running-mean profile, alpha = 1/(n+1) after n evidence events"
)
_BANDIT_TEXT = {
    "eps-greedy": f"per-user ridge regression on item vectors, {_EPS:.0%} random slots",
    "linucb": "per-user LinUCB on item vectors",
    "d-linucb": "discounted LinUCB, old evidence fades (Russac et al. 2019)",
    "linucb-restart": "LinUCB that restarts from the prior when the click rate drops",
}
for _kind in BANDIT_KINDS:
    register_agent(_kind, _bandit(_kind), f"LinearBandit: {_BANDIT_TEXT[_kind]} (slate mode)", action_mode="slate")
