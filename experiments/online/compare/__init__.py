"""Paired comparison of weighting strategies: agents x scenarios x evaluation seeds.

Per scenario:

1. tune the fixed weights on the tuning seeds (``tuning.tune_fixed``): the best grid point is the
   agent ``best-fixed``, the strongest constant;
2. get the PPO policy: train it on this scenario (``ppo.train``), or load a saved one;
3. evaluate every agent on the same users of every evaluation seed (common random numbers). The
   seeds run side by side in one batched env (block s of ``users`` rows holds seed s's users), which
   gives the env-side numbers of separate runs at a fraction of the cost;
4. summarise per agent: mean clicks per step over seeds with a 95% t-interval, the paired
   difference against ``best-fixed`` (per-seed differences, relative to best-fixed's mean) with
   its 95% interval, and the share of the oracle gap closed,
   ``(agent - best-fixed) / (oracle - best-fixed)``.

Evaluation seeds must differ from the tuning seeds and the training seed; training users are seeded
``seed + i`` and evaluation users by the hashed ``user_seeds``, so they never coincide.

The package: ``config`` (what runs), ``units`` (what a backend runs), ``report`` (statistics,
tables, files) and ``run`` (``compare``, the orchestration).
"""

from driftrec.experiments.online.compare.config import (
    BEST_FIXED,
    BEST_FIXED_TEXT,
    WEIGHTS_ORACLE,
    CompareConfig,
    PPOSource,
    TuningConfig,
    compare_agents,
    load_config,
)
from driftrec.experiments.online.compare.report import (
    CompareResult,
    format_compare_table,
    format_leaders,
    leaders,
    paired_summary,
)
from driftrec.experiments.online.compare.run import compare, scenario_labels
from driftrec.experiments.online.compare.units import (
    POST,
    PRE,
    Evaluation,
    EvalUnit,
    TrainUnit,
    TuneUnit,
    aligned,
    evaluate,
    run_unit,
)

__all__ = [
    "BEST_FIXED",
    "BEST_FIXED_TEXT",
    "POST",
    "PRE",
    "WEIGHTS_ORACLE",
    "CompareConfig",
    "CompareResult",
    "EvalUnit",
    "Evaluation",
    "PPOSource",
    "TrainUnit",
    "TuneUnit",
    "TuningConfig",
    "aligned",
    "compare",
    "compare_agents",
    "evaluate",
    "format_compare_table",
    "format_leaders",
    "leaders",
    "load_config",
    "paired_summary",
    "run_unit",
    "scenario_labels",
]
