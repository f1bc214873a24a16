"""The sweep that chose the weights-oracle's alert rule (docs/compare.md).

    python -m driftrec.experiments.studies.weights_oracle_sweep     # about 1 minute on 2 CPU cores

On ``abrupt`` and the synthetic catalog, best-fixed is tuned as ``compare`` tunes it; then every
alert rule runs with best-fixed's weights as its calm weights on the same users of the tuning seeds
(9001, 9002; 128 users each, 200 steps), through ``compare.evaluate``. It prints clicks per step
and the gain over best-fixed on those users.
"""

from __future__ import annotations

from typing import Any

from driftrec.agents import FixedWeights, WeightsOracle
from driftrec.envs import default_catalog
from driftrec.experiments.online.compare import evaluate
from driftrec.experiments.online.runner import text_table
from driftrec.experiments.online.tuning import TUNING_SEEDS, tune_fixed

SETTINGS: list[dict[str, Any]] = [
    {"alert": (1.0, 1.0, 0.3), "window": 5, "until_click": False},
    {"alert": (1.0, 1.0, 0.7), "window": 10, "until_click": False},
    {"alert": (1.0, 1.0, 0.3), "window": 50},
    {"alert": (1.0, 1.0, 0.7), "window": 50},
    *({"alert": (1.0, 1.0, 1.0), "window": w} for w in (20, 50, 100)),
]


def sweep(scenario: str = "abrupt", users: int = 128, steps: int = 200) -> list[tuple[str, str, str, str]]:
    """(alert, held, clicks per step, gain over best-fixed) for best-fixed and every ``SETTINGS`` entry."""
    catalog = default_catalog()
    best, _ = tune_fixed(scenario, catalog)

    def score(agent: Any) -> float:
        ev = evaluate(scenario, agent, list(TUNING_SEEDS), users, steps, catalog)
        return sum(ev.per_seed.values()) / len(ev.per_seed)

    base = score(FixedWeights(*best))
    rows = [(f"best-fixed {best}", "-", f"{base:.4f}", "-")]
    for kw in SETTINGS:
        value = score(WeightsOracle(best, **kw))
        n = kw["window"]
        held = f"until a click, at most {n} steps" if kw.get("until_click", True) else f"{n} steps"
        rows.append((str(kw["alert"]), held, f"{value:.4f}", f"{value / base - 1:+.1%}"))
    return rows


if __name__ == "__main__":
    print(text_table([("alert weights", "held", "clicks/step", "vs best-fixed"), *sweep()]))
