"""Pure batched torch simulation of drifting user interests (no gymnasium, no agents).

Read in this order: ``params`` and ``scenarios`` (what can be set), ``state`` (what evolves),
``dynamics`` (users), ``click`` (clicks), ``recommender`` (profiles, slates, features), and
``simulation`` (one step, composed).
"""

from driftrec.encoders.deprecation import moved_names
from driftrec.simulators.catalog import Catalog, synthetic_catalog
from driftrec.simulators.data import load_catalog, load_movielens, load_population, movielens_histories
from driftrec.simulators.params import MODEL_VERSION, ClickParams, RecParams, UserParams
from driftrec.simulators.population import Population
from driftrec.simulators.rng import CounterRNG, user_seeds
from driftrec.simulators.scenarios import PRESETS, Scenario, make_scenario, scenario_names
from driftrec.simulators.simulation import Simulator, StepResult
from driftrec.simulators.state import WEIGHT_NAMES, RecState, SimState, UserState

__all__ = [
    "MODEL_VERSION",
    "PRESETS",
    "WEIGHT_NAMES",
    "Catalog",
    "ClickParams",
    "CounterRNG",
    "Population",
    "RecParams",
    "RecState",
    "Scenario",
    "SimState",
    "Simulator",
    "StepResult",
    "UserParams",
    "UserState",
    "load_catalog",
    "load_movielens",
    "load_population",
    "make_scenario",
    "movielens_histories",
    "scenario_names",
    "synthetic_catalog",
    "user_seeds",
]

__getattr__ = moved_names(
    __name__, {"movielens_timelines": ("driftrec.simulators.movielens_histories", lambda: movielens_histories)}
)
