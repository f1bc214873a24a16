"""driftrec: a Gymnasium simulator of recommender users whose interests drift.

Public API::

    driftrec.make_vec_env(scenario, num_users, ...)   # batched torch env, .to_sb3() for SB3
    gymnasium.make("driftrec/DriftingInterests-v0", scenario=...)   # single-user env
    driftrec.scenario_names(), driftrec.make_scenario(name, **overrides)
    driftrec.user_seeds(seed, num_users)
    driftrec.load_catalog("movielens" | "courses" | "synthetic-lm" | path, encoder=None)   # items with LM vectors
    driftrec.load_population("movielens" | persona file, catalog)   # where users' interests start
"""

from driftrec.envs import ENV_ID, DriftEnv, DriftVecEnv, make_vec_env
from driftrec.simulators import (
    MODEL_VERSION,
    Catalog,
    Population,
    Scenario,
    load_catalog,
    load_population,
    make_scenario,
    scenario_names,
    synthetic_catalog,
    user_seeds,
)

__version__ = "0.1.0"

__all__ = [
    "ENV_ID",
    "MODEL_VERSION",
    "Catalog",
    "DriftEnv",
    "DriftVecEnv",
    "Population",
    "Scenario",
    "load_catalog",
    "load_population",
    "make_scenario",
    "make_vec_env",
    "scenario_names",
    "synthetic_catalog",
    "user_seeds",
]
