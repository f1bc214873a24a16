"""The agent registry: one name -> factory and description table that every command uses."""

import pytest

from driftrec.agents import FixedWeights, LinearBandit
from driftrec.agents.registry import (
    _REGISTRY,
    agent_descriptions,
    agent_entry,
    make_agent,
    register_agent,
)
from driftrec.experiments.cli.offline import LOGGING_AGENTS
from driftrec.experiments.offline.replay import replay_agents
from driftrec.experiments.online.compare import CompareConfig, compare_agents
from driftrec.experiments.online.runner import SimulateConfig


def test_every_registered_agent_builds_and_matches_its_entry():
    for name, entry in _REGISTRY.items():
        if name == "ppo":
            with pytest.raises(ValueError, match="agent 'ppo' needs a trained policy"):
                make_agent(name)
            continue
        agent = make_agent(name)
        assert agent.action_mode == entry.action_mode, name
        assert entry.reads_hidden == (agent.needs_hidden or getattr(agent, "needs_shifts", False)), name


def test_descriptions_follow_the_agents_defaults():
    eps = LinearBandit("eps-greedy").epsilon
    assert f"{eps:.0%} random slots" in agent_descriptions()["eps-greedy"]
    fixed = make_agent("fixed", (0.2, 0.5, 0.1))
    assert isinstance(fixed, FixedWeights) and (fixed.alpha, fixed.mix, fixed.explore) == (0.2, 0.5, 0.1)


def test_commands_take_their_agents_from_the_registry():
    weights = agent_descriptions(action_mode="weights", recommenders_only=True)
    assert list(LOGGING_AGENTS) == list(weights) == ["fixed", "ppo", "change-cosine", "change-ctr", "1/t"]
    assert replay_agents() == [*weights, "popularity"]
    assert list(compare_agents()) == ["best-fixed", *_REGISTRY]
    assert set(agent_descriptions(action_mode="slate")) == {
        "oracle",
        "random",
        "eps-greedy",
        "linucb",
        "d-linucb",
        "linucb-restart",
    }


def test_a_registered_agent_is_accepted_by_every_command():
    name = "test-slow-alpha"
    try:
        register_agent(name, lambda w, p: FixedWeights(0.05, 0.7, 0.05, name=name), "alpha 0.05")
        SimulateConfig(["abrupt"], [name], users=2, steps=2, seeds=[1])
        CompareConfig(["abrupt"], [name], seeds=[1, 2])
        assert name in replay_agents() and make_agent(name).alpha == 0.05
        with pytest.raises(ValueError, match=f"agent {name!r} is already registered"):
            register_agent(name, lambda w, p: FixedWeights(), "again")
    finally:
        _REGISTRY.pop(name, None)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: agent_entry("nope"), r"unknown agent 'nope'; known agents: fixed, oracle, "),
        (lambda: register_agent("a,b", lambda w, p: None, ""), "agent name 'a,b' is not allowed"),
        (lambda: register_agent("x", lambda w, p: None, "", action_mode="items"), "action_mode 'items' is unknown"),
        (lambda: make_agent("fixed", (0.1, 0.2)), r"fixed_weights needs 3 values \(alpha, mix, explore\)"),
    ],
)
def test_registry_errors_name_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_old_runner_names_still_work_with_a_warning():
    from driftrec.experiments.online import runner

    with pytest.warns(
        DeprecationWarning, match="runner.build_agent is deprecated; use driftrec.agents.registry.make_agent"
    ):
        assert runner.build_agent is make_agent
    with pytest.warns(DeprecationWarning, match=r"agent_descriptions\(\)"):
        assert agent_descriptions() == runner.AGENTS
