"""The sweep that chose the slate bandits' defaults (docs/compare.md).

    python -m driftrec.experiments.studies.bandit_sweep        # about 2 minutes on 2 CPU cores

Every setting runs on the same users of the tuning seeds (9001, 9002; 128 users each, 200 steps)
of ``abrupt`` on the synthetic catalog, through ``compare.evaluate``; it prints clicks per step.
"""

from __future__ import annotations

from typing import Any

from driftrec.agents import LinearBandit
from driftrec.envs import default_catalog
from driftrec.experiments.online.compare import evaluate
from driftrec.experiments.online.runner import text_table
from driftrec.experiments.online.tuning import TUNING_SEEDS

SETTINGS: list[dict[str, Any]] = [
    *({"kind": "d-linucb", "width": w, "gamma": g} for w in (0.03, 0.1, 0.3) for g in (0.7, 0.9)),
    *({"kind": "d-linucb", "width": 0.03, "gamma": 0.7, "dims": r} for r in (16, None)),
    *({"kind": "linucb", "width": w} for w in (0.1, 0.3, 1.0)),
    *({"kind": "linucb-restart", "width": w} for w in (0.1, 0.3)),
    *({"kind": "eps-greedy", "epsilon": e} for e in (0.02, 0.05, 0.1)),
]


def sweep(scenario: str = "abrupt", users: int = 128, steps: int = 200) -> list[tuple[str, str, str]]:
    """(bandit, setting, clicks per step) for every entry of ``SETTINGS``."""
    catalog = default_catalog()
    rows = []
    for kw in SETTINGS:
        ev = evaluate(scenario, LinearBandit(**kw), list(TUNING_SEEDS), users, steps, catalog)
        score = sum(ev.per_seed.values()) / len(ev.per_seed)
        setting = ", ".join(f"{k} {v}" for k, v in kw.items() if k != "kind")
        rows.append((kw["kind"], setting, f"{score:.4f}"))
    return rows


if __name__ == "__main__":
    print(text_table([("bandit", "setting", "clicks/step"), *sweep()]))
