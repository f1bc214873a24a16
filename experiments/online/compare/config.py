"""What a comparison runs: ``CompareConfig`` (scenarios, agents, seeds, catalog) with its
``TuningConfig`` and ``PPOSource``, validated up front, and the config file reader."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftrec.agents.heuristics import weight_triple
from driftrec.agents.ppo import check_ppo_settings
from driftrec.agents.registry import agent_descriptions, make_agent
from driftrec.encoders.checks import check_int
from driftrec.experiments.common import io
from driftrec.experiments.common.settings import CatalogSettings
from driftrec.experiments.online.train import comma_names
from driftrec.experiments.online.tuning import FIXED_GRID, TUNING_SEEDS, check_grid
from driftrec.simulators.rng import check_seed, check_seeds, shared_users
from driftrec.simulators.scenarios import make_scenario

BEST_FIXED = "best-fixed"
WEIGHTS_ORACLE = "weights-oracle"
BEST_FIXED_TEXT = "FixedWeights at the best point of the tuning grid (tuned per scenario on the tuning seeds)"


def compare_agents() -> dict[str, str]:
    """Name -> description of the agents compare runs: ``best-fixed`` and every registered agent."""
    return {BEST_FIXED: BEST_FIXED_TEXT, **agent_descriptions()}


def _check_keys(section: str, given: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} in {section}; allowed: {', '.join(allowed)}")


def _check_names(name: str, value: Any) -> None:
    """Raise unless ``value`` is a list of strings."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of names, got {type(value).__name__}: {value!r}")
    for v in value:
        if not isinstance(v, str):
            raise TypeError(f"{name} must be a list of names, got an entry {v!r} ({type(v).__name__})")


def _check_str(name: str, value: Any, optional: bool = False) -> None:
    if not (isinstance(value, str) or (optional and value is None)):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}: {value!r}")


def _check_mapping(name: str, value: Any, values: type | None = None) -> None:
    """Raise unless ``value`` is a mapping with string keys (and, if given, ``values``-typed values)."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a mapping, got {type(value).__name__}: {value!r}")
    for k, v in value.items():
        if not isinstance(k, str):
            raise TypeError(f"{name} keys must be strings, got {k!r}")
        if values is not None and not isinstance(v, values):
            raise TypeError(f"{name}[{k!r}] must be a {values.__name__}, got {type(v).__name__}: {v!r}")


@dataclass(frozen=True)
class TuningConfig:
    """Grid search for ``best-fixed``: every grid point on ``users`` users of each tuning seed."""

    seeds: list[int] = field(default_factory=lambda: list(TUNING_SEEDS))
    users: int = 128
    steps: int = 200
    grid: dict[str, list[float]] = field(default_factory=lambda: {k: list(v) for k, v in FIXED_GRID.items()})

    def __post_init__(self) -> None:
        check_int("tuning.users", self.users, 1)
        check_int("tuning.steps", self.steps, 1)
        object.__setattr__(self, "seeds", check_seeds("tuning.seeds", self.seeds))
        check_grid(self.grid, "tuning.grid")


@dataclass(frozen=True)
class PPOSource:
    """Where agent ``ppo`` comes from: ``policy`` (one saved policy for every scenario),
    ``policies`` (a saved policy per scenario), or training in the run: ``timesteps`` user-steps
    on ``users`` users with ``seed`` and PPO settings ``hyper`` (one policy per scenario, written
    to OUT/policies/SCENARIO/policy.zip and reused by a re-run with the same settings).

    ``catalog``: what the policy trains on, by default the evaluation catalog. Comma-separated
    names train one policy on a mixture ("synthetic,movielens": half of the users on each, every
    catalog in the run's ``transform``), as ``driftrec train --catalog`` does."""

    policy: str | None = None
    policies: dict[str, str] = field(default_factory=dict)
    timesteps: int = 1_000_000
    users: int = 256
    seed: int = 0
    hyper: dict[str, Any] = field(default_factory=dict)
    catalog: str | None = None

    def __post_init__(self) -> None:
        check_int("ppo.timesteps", self.timesteps, 1)
        check_int("ppo.users", self.users, 1)
        check_seed("ppo.seed", self.seed)
        _check_str("ppo.policy", self.policy, optional=True)
        _check_mapping("ppo.policies", self.policies, str)
        _check_mapping("ppo.hyper", self.hyper)
        check_ppo_settings(self.hyper)
        _check_str("ppo.catalog", self.catalog, optional=True)
        if self.catalog is not None:
            comma_names(self.catalog, "ppo.catalog")
        if self.policy is not None and self.policies:
            raise ValueError("give ppo.policy (one policy for all scenarios) or ppo.policies (per scenario), not both")
        for path in [self.policy, *self.policies.values()]:
            if path is not None and not Path(path).is_file():
                raise FileNotFoundError(f"no such policy file: {str(path)!r}")

    def saved(self, scenario: str) -> str | None:
        """The saved policy file for ``scenario``, or None when it is to be trained."""
        return self.policies.get(scenario, self.policy)


@dataclass(frozen=True)
class CompareConfig(CatalogSettings):
    """What ``compare`` runs (a YAML/JSON config file holds the same keys; see ``load_config``).

    scenarios, agents: what to compare (``best-fixed`` is always added; ``compare_agents()``).
    seeds: evaluation seeds (at least 2 for intervals; disjoint from tuning and training seeds).
    users, steps: users per seed, steps per run. catalog, population, items, dim, overrides,
    fixed_weights: as in ``SimulateConfig``. tuning: ``TuningConfig``. ppo: ``PPOSource``.
    """

    scenarios: list[str]
    agents: list[str]
    seeds: list[int] = field(default_factory=lambda: list(range(101, 111)))
    users: int = 128
    steps: int = 200
    fixed_weights: tuple[float, float, float] = (0.3, 0.7, 0.05)
    overrides: dict[str, Any] = field(default_factory=dict)
    tuning: TuningConfig = field(default_factory=TuningConfig)
    ppo: PPOSource = field(default_factory=PPOSource)

    def __post_init__(self) -> None:
        for key in ("scenarios", "agents"):
            _check_names(key, getattr(self, key))
        for key in ("catalog", "population", "transform", "device"):
            _check_str(key, getattr(self, key))
        _check_mapping("overrides", self.overrides)
        if not self.scenarios:
            raise ValueError("give at least one scenario")
        for name in self.agents:
            if name != BEST_FIXED and name not in agent_descriptions():
                raise ValueError(f"unknown agent {name!r}; known agents: {', '.join(compare_agents())}")
        if isinstance(self.seeds, (list, tuple)) and len(self.seeds) < 2:
            raise ValueError(f"compare needs at least 2 evaluation seeds for intervals, got {self.seeds}")
        object.__setattr__(self, "seeds", check_seeds("seeds", self.seeds, 2))
        clash = sorted(set(self.seeds) & set(self.tuning.seeds))
        if clash:
            raise ValueError(f"evaluation seeds {clash} are also tuning seeds; evaluation must use held-out seeds")
        same = shared_users(self.seeds, self.tuning.seeds)
        if same:
            raise ValueError(
                f"evaluation seed {same[0][0]} gives the same users as tuning seed {same[0][1]}; use held-out seeds"
            )
        if "ppo" in self.agents and self.ppo.seed in self.seeds and not self.ppo.policy and not self.ppo.policies:
            raise ValueError(f"evaluation seed {self.ppo.seed} is the PPO training seed; use held-out seeds")
        for key in ("users", "steps", "items", "dim"):
            check_int(key, getattr(self, key), 1)
        if not isinstance(self.fixed_weights, (list, tuple)):
            got = self.fixed_weights
            raise TypeError(f"fixed_weights must be a list of 3 numbers (alpha, mix, explore), got {got!r}")
        weight_triple(tuple(self.fixed_weights), "fixed_weights")
        for s in self.scenarios:
            make_scenario(s, **self.overrides)
        make_agent("fixed", self.fixed_weights)

    @property
    def all_agents(self) -> list[str]:
        """The agents run, ``best-fixed`` first."""
        return [BEST_FIXED] + [a for a in self.agents if a != BEST_FIXED]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CompareConfig:
        """Build from a parsed config file (unknown keys are errors that list the allowed ones)."""
        if not isinstance(raw, dict):
            raise ValueError(f"a compare config must be a mapping of keys to values, got {type(raw).__name__}")
        shared = [f.name for f in dataclasses.fields(CatalogSettings)]
        names = [f.name for f in dataclasses.fields(cls) if f.name not in shared] + shared  # its own keys first
        _check_keys("the compare config", raw, names)
        kw = dict(raw)
        if isinstance(kw.get("scenarios"), str):
            kw["scenarios"] = [kw["scenarios"]]
        if kw.get("scenarios") == ["all"]:
            from driftrec.simulators.scenarios import PRESETS

            kw["scenarios"] = list(PRESETS)
        for key, sub in (("tuning", TuningConfig), ("ppo", PPOSource)):
            if key in kw:
                if not isinstance(kw[key], dict):
                    raise ValueError(f"{key} must be a mapping, got {kw[key]!r}")
                _check_keys(key, kw[key], [f.name for f in dataclasses.fields(sub)])
                kw[key] = sub(**kw[key])
        if isinstance(kw.get("fixed_weights"), list):
            kw["fixed_weights"] = tuple(kw["fixed_weights"])
        if "agents" not in kw:
            kw["agents"] = ["fixed", "oracle"]
        if "scenarios" not in kw:
            raise ValueError("the compare config needs 'scenarios'")
        return cls(**kw)


def load_config(path: str | Path) -> dict[str, Any]:
    """Parse a compare config file (.yaml, .yml or .json) into a dict (``CompareConfig.from_dict``)."""
    return io.read_mapping(path)
