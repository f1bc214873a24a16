"""The transfer table (docs/compare.md): do weight policies carry over to other catalogs?

    python -m driftrec.experiments.studies.transfer_study --out runs/transfer     # about 5 minutes on 2 CPU cores

Three PPO policies are trained on ``abrupt`` (1M user-steps each, the default settings): on the
synthetic catalog, on MovieLens, and on a mixture of the two (half of the users on each). Each is
evaluated on the synthetic catalog, MovieLens and the UCLA courses (a catalog none of them saw):
per target, ``compare`` tunes best-fixed on the target's tuning seeds and runs the policy on the
same users of 10 held-out seeds. A cell is the paired difference of the policy against that
best-fixed, relative to it, with its 95% interval. Every catalog is under all-MiniLM-L6-v2 but the
synthetic one (hashing encoder), all reduced to 64 dimensions (``pca:64``). Policies and evaluation
units are stored under ``--out``; a re-run reuses them only when they were made by the same
settings and the same driftrec source (``store.code_digest``), and retrains or recomputes otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from driftrec.experiments.common import io
from driftrec.experiments.online.compare import CompareConfig, PPOSource, compare
from driftrec.experiments.online.runner import text_table
from driftrec.experiments.online.train import TrainConfig, train
from driftrec.experiments.sweeps.store import code_digest

SCENARIO = "abrupt"
TRANSFORM = "pca:64"
TRAINED_ON = {"synthetic": "synthetic", "movielens": "movielens", "mixture": "synthetic,movielens"}
TARGETS = ("synthetic", "movielens", "courses")


def study(out: Path, timesteps: int = 1_000_000, progress: bool = True) -> dict[str, Any]:
    """Train the policies (reusing OUT/train_NAME/policy.zip when its ``made_by.json`` names the same
    settings and source), evaluate each on every target, write OUT/transfer.json and return it."""
    policies = {}
    for name, catalogs in TRAINED_ON.items():
        cfg = TrainConfig(scenario=SCENARIO, catalog=catalogs, transform=TRANSFORM, timesteps=timesteps)
        path = out / f"train_{name}" / "policy.zip"
        made_by = json.loads(json.dumps({"config": dataclasses.asdict(cfg), "code": code_digest()}))
        key = path.parent / "made_by.json"
        if not (path.is_file() and _recorded(key) == made_by):
            train(cfg, path.parent, progress=progress, tensorboard=False)
            io.write_json(key, made_by)
        policies[name] = path
    cells: dict[str, dict[str, Any]] = {}
    base = CompareConfig(scenarios=[SCENARIO], agents=["ppo"], transform=TRANSFORM, device="cpu")
    for target in TARGETS:
        for name, path in policies.items():
            cfg = dataclasses.replace(base, catalog=target, ppo=PPOSource(policy=str(path)))
            res = compare(cfg, out / f"eval_{target}", progress=progress)
            e = res.results[SCENARIO]["ppo"]
            d = e["diff_vs_best_fixed"]
            cells.setdefault(name, {})[target] = {
                "diff_vs_best_fixed": d["mean"],
                "ci95": d["ci95"],
                "ppo": e["mean"],
                "best_fixed": res.results[SCENARIO]["best-fixed"]["mean"],
                "transfer": e.get("transfer"),
            }
    summary = {"scenario": SCENARIO, "transform": TRANSFORM, "timesteps": timesteps, "cells": cells}
    io.write_json(out / "transfer.json", summary)
    return summary


def _recorded(path: Path) -> dict[str, Any] | None:
    """What ``made_by.json`` says made a stored policy; None when it is missing or unreadable."""
    try:
        return io.read_mapping(path)
    except (OSError, ValueError):
        return None


def format_study(summary: dict[str, Any]) -> str:
    """Rows: trained on; columns: evaluated on; cells: PPO vs best-fixed tuned on the target."""
    head = ("trained on \\ evaluated on", *TARGETS)
    rows = []
    for name, by_target in summary["cells"].items():
        cells = []
        for target in TARGETS:
            c = by_target[target]
            lo, hi = c["ci95"]
            cells.append(f"{c['diff_vs_best_fixed']:+.1%} [{lo:+.1%}, {hi:+.1%}]")
        rows.append((name, *cells))
    return text_table([head, *rows], left=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m driftrec.experiments.studies.transfer_study", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/transfer"), help="output folder [runs/transfer]")
    parser.add_argument("--timesteps", type=int, default=1_000_000, help="PPO user-steps per policy [1000000]")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)
    summary = study(args.out, args.timesteps, progress=not args.no_progress)
    print(f"PPO vs best-fixed tuned on the target, {SCENARIO}, 10 held-out seeds (paired, 95% CI):\n")
    print(format_study(summary))
    print(f"\nwrote {args.out}/transfer.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
