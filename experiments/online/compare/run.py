"""The comparison run: tuning and training units, then evaluation units, on a sweep backend."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from driftrec.agents.ppo import policy_config
from driftrec.envs import resolve_device
from driftrec.envs.device import check_memory
from driftrec.experiments.common import io
from driftrec.experiments.online.compare.config import BEST_FIXED, WEIGHTS_ORACLE, CompareConfig
from driftrec.experiments.online.compare.report import CompareResult, paired_summary
from driftrec.experiments.online.compare.units import Evaluation, EvalUnit, TrainUnit, TuneUnit, Unit, run_unit
from driftrec.experiments.online.runner import build_catalog, build_population
from driftrec.experiments.online.transfer import transfer
from driftrec.experiments.online.tuning import best_point, grid_points
from driftrec.experiments.sweeps.backends import LocalBackend, RayBackend
from driftrec.experiments.sweeps.store import UnitStore, fingerprint, run_units
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.population import Population
from driftrec.simulators.scenarios import make_scenario
from driftrec.simulators.state import WEIGHT_NAMES


def _train_config(scenario: str, cfg: CompareConfig) -> Any:
    from driftrec.experiments.online.train import TrainConfig

    return TrainConfig(
        scenario=scenario,
        users=cfg.ppo.users,
        timesteps=cfg.ppo.timesteps,
        seed=cfg.ppo.seed,
        device=cfg.device,
        catalog=cfg.ppo.catalog or cfg.catalog,
        population=cfg.population,
        transform=cfg.transform,
        items=cfg.items,
        dim=cfg.dim,
        overrides=cfg.overrides,
        hyper=cfg.ppo.hyper,
    )


def scenario_labels(scenarios: Sequence[str]) -> dict[str, str]:
    """A distinct label per scenario for unit keys and folders: a preset's name, a scenario file's
    stem, or, where two files share a stem (``sa/x.json``, ``sb/x.json``) or a stem is a preset's
    name, the file's path as given with separators as ``__``."""
    stems = [Path(s).stem for s in scenarios if s.endswith(".json")]
    taken = {s for s in scenarios if not s.endswith(".json")}
    out = {}
    for s in scenarios:
        if not s.endswith(".json"):
            out[s] = s
            continue
        stem = Path(s).stem
        unique = stems.count(stem) == 1 and stem not in taken
        out[s] = stem if unique else re.sub(r"[^A-Za-z0-9_.=-]+", "__", str(Path(s).with_suffix(""))).strip("_")
    if len(set(out.values())) != len(out):
        raise ValueError(f"scenarios {sorted(out)} cannot be told apart; give distinct scenario files")
    return out


def compare(
    cfg: CompareConfig,
    out: str | Path | None = None,
    *,
    progress: bool = True,
    catalog: Catalog | None = None,
    population: Population | None = None,
    log: Any = None,
    backend: LocalBackend | RayBackend | None = None,
) -> CompareResult:
    """Run the comparison (see module docstring) as units on ``backend`` (default: this process).

    Units: ``tune`` (scenario x tuning seed) and ``train`` (scenario, when PPO is trained here) run
    first, then ``eval`` (scenario x agent, every evaluation seed side by side in one batched env).
    With ``out``, each finished unit is stored under OUT/units/ at once (atomically) and a re-run
    with the same settings reuses it; trained policies are written to OUT/policies/SCENARIO/.
    Call ``write`` for the rest. ``log`` (a callable taking one string) reports each stage.
    """
    say = log or (lambda _msg: None)
    backend = backend or LocalBackend(workers=0, threads=torch.get_num_threads())
    start = time.perf_counter()
    device = str(resolve_device(cfg.device))
    cfg = dataclasses.replace(cfg, device=device)
    load_start = time.perf_counter()
    if catalog is None:
        catalog = build_catalog(cfg.catalog, cfg.items, cfg.dim, progress, cfg.transform)
        population = build_population(cfg.population, catalog)
    meta = {
        **catalog.meta,
        "num_items": catalog.num_items,
        "dim": catalog.dim,
        "load_s": round(time.perf_counter() - load_start, 2),
    }
    if population is not None:
        meta["population"] = {**population.meta, "members": population.num_members}
    out_path = Path(out) if out is not None else None
    store = UnitStore(out_path / "units" if out_path is not None else None)
    shared = (catalog, population, progress and backend.inline_progress)
    context = fingerprint(catalog, population)
    tc = cfg.tuning
    points = grid_points(tc.grid)
    # the largest envs, before any progress is shown: a tuning seed's grid, every evaluation seed
    for users in (tc.users * len(points), cfg.users * len(cfg.seeds)):
        check_memory(users, catalog.num_items, catalog.dim, torch.device(device))
    label = scenario_labels(cfg.scenarios)
    # the resolved parameters (a scenario file's content, the overrides applied) are part of every
    # unit's spec, so editing a file recomputes its units
    resolved = {s: make_scenario(s, **cfg.overrides).to_dict() for s in cfg.scenarios}

    # stage 1: tuning grids and PPO training
    specs: dict[str, Unit] = {}
    for scenario in cfg.scenarios:
        for seed in tc.seeds:
            specs[f"tune/{label[scenario]}/{seed}"] = TuneUnit(
                scenario, seed, tuple(points), tc.users, tc.steps, device, cfg.overrides, context, resolved[scenario]
            )
    policies: dict[str, dict[str, Any]] = {}
    policy_bytes: dict[str, bytes] = {}
    if "ppo" in cfg.agents:
        for scenario in cfg.scenarios:
            saved = cfg.ppo.saved(scenario)
            if saved is not None:
                policy_bytes[scenario] = Path(saved).read_bytes()
                policies[scenario] = {"source": "file", "path": str(saved)}
            else:
                specs[f"train/{label[scenario]}"] = TrainUnit(
                    dataclasses.asdict(_train_config(scenario, cfg)),
                    backend.threads,
                    context,
                    resolved[scenario],
                    own_catalog=cfg.ppo.catalog not in (None, cfg.catalog),
                )
    results, reused = run_units(backend, store, run_unit, shared, specs, say=say, progress=progress, desc="tune+train")
    tuned: dict[str, dict[str, Any]] = {}
    tables: dict[str, pd.DataFrame] = {}
    for scenario in cfg.scenarios:
        keys = [f"tune/{label[scenario]}/{seed}" for seed in tc.seeds]
        scores = torch.tensor([results[k] for k in keys])
        best, table = best_point(points, tc.seeds, scores)
        tables[scenario] = table
        tuned[scenario] = {
            **dict(zip(WEIGHT_NAMES, best, strict=True)),
            "tuning_clicks_per_step": float(table.clicks_per_step.iloc[0]),
            "grid_points": len(table),
            "tuning_seeds": list(tc.seeds),
        }
        say(f"{scenario}: best fixed weights alpha={best[0]}, mix={best[1]}, explore={best[2]} (tuning seeds)")
        key = f"train/{label[scenario]}"
        if key in results:
            policy_bytes[scenario] = results[key]["policy"]
            info = {"source": "reused" if key in reused else "trained", "timesteps": cfg.ppo.timesteps}
            info["train_s"] = results[key]["train_s"]
            if out_path is not None:
                where = out_path / "policies" / label[scenario] / "policy.zip"
                io.write_bytes(where, policy_bytes[scenario])
                info["path"] = str(where)
            policies[scenario] = info
        if scenario in policies:
            info = policies[scenario]
            say(f"{scenario}: PPO policy {info['source']}" + (f" ({info['path']})" if "path" in info else ""))

    # stage 2: every agent on every scenario
    specs = {}
    for scenario in cfg.scenarios:
        best = tuple(tuned[scenario][k] for k in WEIGHT_NAMES)
        for name in cfg.all_agents:
            specs[f"eval/{label[scenario]}/{name}"] = EvalUnit(
                scenario,
                name,
                list(cfg.seeds),
                cfg.users,
                cfg.steps,
                device,
                cfg.overrides,
                context,
                list(best if name in (BEST_FIXED, WEIGHTS_ORACLE) else cfg.fixed_weights),
                resolved[scenario],
                policy=policy_bytes[scenario] if name == "ppo" else None,
            )
    results, _ = run_units(backend, store, run_unit, shared, specs, say=say, progress=progress, desc="evaluate")
    evals: list[Evaluation] = list(results.values())
    summary = paired_summary(evals)
    for scenario, data in policy_bytes.items():
        moved = transfer(policy_config(data), scenario, catalog, cfg.overrides)
        summary[scenario]["ppo"]["transfer"] = policies[scenario]["transfer"] = moved
    return CompareResult(cfg, summary, evals, tuned, tables, policies, meta, time.perf_counter() - start)
