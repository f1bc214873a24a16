"""Train a PPO weight policy on one scenario: progress bar, TensorBoard logs, atomic checkpoints,
resume from a checkpoint.

Training users are seeded by SB3 (user i of a run with seed s gets the seed s + i); evaluation
resets with an integer seed, whose per-user seeds come from ``user_seeds`` (a hash), so training
and evaluation users do not overlap.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftrec.agents.ppo import (
    PPO_DEFAULTS,
    PPOWeights,
    apply_resume_settings,
    check_ppo_settings,
    checkpoint_settings,
    load_ppo,
    make_ppo,
)
from driftrec.encoders.checks import check_int
from driftrec.envs import DriftVecEnv, resolve_device
from driftrec.experiments.common import io
from driftrec.experiments.common.settings import CatalogSettings, EngineSettings
from driftrec.experiments.online.runner import build_catalog, build_population
from driftrec.experiments.online.train_callback import make_callback
from driftrec.experiments.online.transfer import describe_catalog
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.population import Population
from driftrec.simulators.scenarios import make_scenario


@dataclass(frozen=True)
class TrainConfig(EngineSettings, CatalogSettings):
    """What ``train`` does: PPO on ``scenario`` with ``users`` parallel users for ``timesteps``
    user-steps. ``hyper`` overrides ``PPO_DEFAULTS``; ``checkpoint_every`` (user-steps, 0 = never)
    sets how often a checkpoint is written; ``eval_every`` (user-steps, 0 = never) how often the
    policy and the fixed weights run on the same held-out users (``EVAL_USERS`` users of seed
    ``EVAL_SEED`` for ``EVAL_STEPS`` steps, the first component), logged to TensorBoard and
    train.json; catalog/population/items/dim as in ``SimulateConfig``.

    A training mixture: ``scenario`` and ``catalog`` may each list several, comma-separated
    ("abrupt,stable,missions", "synthetic,movielens"). Every (scenario, catalog) pair is a
    component; the users are split between the components in that order (catalog-major), as
    evenly as they go, and one policy learns on all of them at once."""

    scenario: str = "abrupt"
    """preset or scenario .json file, or several comma-separated (a mixture)"""
    users: int = 256
    """parallel users (SB3 envs)"""
    timesteps: int = 2_000_000
    """user-steps to train in all"""
    seed: int = 0
    """training seed (policy init and training users)"""
    overrides: dict[str, Any] = field(default_factory=dict)
    hyper: dict[str, Any] = field(default_factory=dict)
    checkpoint_every: int = 0
    """user-steps between checkpoints, 0 = none"""
    eval_every: int = 0
    """user-steps between evaluations of the policy against the fixed weights (128 held-out users, 200 steps;
    TensorBoard and train.json), 0 = none"""

    def __post_init__(self) -> None:
        for key in ("users", "timesteps", "items", "dim"):
            check_int(key, getattr(self, key), 1)
        for key in ("checkpoint_every", "eval_every"):
            check_int(key, getattr(self, key), 0)
        check_ppo_settings(self.hyper)
        for name in self.scenarios:
            make_scenario(name, **self.overrides)
        if len(self.components) > self.users:
            raise ValueError(
                f"a mixture of {len(self.components)} (scenario, catalog) components needs at least that many "
                f"users, got users={self.users}"
            )

    @property
    def scenarios(self) -> list[str]:
        """The scenarios trained on (one, or a mixture's)."""
        return comma_names(self.scenario, "scenario")

    @property
    def catalogs(self) -> list[str]:
        """The catalogs trained on (one, or a mixture's)."""
        return comma_names(self.catalog, "catalog")

    @property
    def components(self) -> list[tuple[str, str, int]]:
        """(scenario, catalog, users) of every component, catalog-major; users split evenly."""
        pairs = [(s, c) for c in self.catalogs for s in self.scenarios]
        n = len(pairs)
        return [(s, c, self.users // n + (i < self.users % n)) for i, (s, c) in enumerate(pairs)]

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ppo": {**PPO_DEFAULTS, **self.hyper}}


def comma_names(value: str, what: str) -> list[str]:
    """The names in ``value`` (one, or several comma-separated: stripped, non-empty, distinct)."""
    names = [v.strip() for v in str(value).split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise ValueError(f"{what} {value!r} must be one name or distinct comma-separated names")
    return names


CHECKPOINT_NAME = re.compile(r"step_(\d{10})\.zip")


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint with the most steps among ``folder``'s ``step_NNNNNNNNNN.zip`` files (the
    names ``train`` writes; other files are ignored), or None."""
    found = [(int(m.group(1)), p) for p in folder.glob("step_*.zip") if (m := CHECKPOINT_NAME.fullmatch(p.name))]
    return max(found)[1] if found else None


EVAL_SEED, EVAL_USERS, EVAL_STEPS = 777, 128, 200
"""The held-out users of the evaluations during training (``eval_every``)."""


def _evaluator(cfg: TrainConfig, catalog: Catalog, population: Population | None) -> Any:
    """``evaluate(model)``: the policy and the fixed weights on the same held-out users of the
    first component; clicks per step of each and the policy's relative difference."""
    from driftrec.agents.registry import make_agent
    from driftrec.experiments.online.runner import SimulateConfig, run_one

    scenario = cfg.components[0][0]
    sim = SimulateConfig(
        [scenario], ["fixed"], users=EVAL_USERS, steps=EVAL_STEPS, seeds=[EVAL_SEED],
        device=str(resolve_device(cfg.device)), overrides=cfg.overrides,
    )  # fmt: skip
    fixed = make_agent("fixed", sim.fixed_weights)

    def evaluate(model: Any) -> dict[str, float]:
        ppo = run_one(scenario, PPOWeights(model, cfg.to_dict()), EVAL_SEED, sim, catalog, population).clicks_per_step
        base = run_one(scenario, fixed, EVAL_SEED, sim, catalog, population).clicks_per_step
        return {"ppo": ppo, "fixed": base, "diff_vs_fixed": (ppo - base) / base if base else float("nan")}

    return evaluate


def train(
    cfg: TrainConfig,
    out: str | Path | None = None,
    *,
    resume: str | Path | None = None,
    progress: bool = True,
    tensorboard: bool = True,
    catalog: Catalog | None = None,
    population: Population | None = None,
) -> PPOWeights:
    """Train (or resume) a PPO weight policy; with ``out``, write ``policy.zip``, ``train.json``,
    checkpoints under ``checkpoints/`` and TensorBoard logs under ``tb/``.

    Resuming loads the checkpoint's weights and optimiser and trains until ``cfg.timesteps`` in
    all; the environment restarts from fresh users, so a resumed run is close to, not identical
    with, an uninterrupted one.
    """

    device = str(resolve_device(cfg.device))
    mixture = len(cfg.components) > 1
    if catalog is not None and len(cfg.catalogs) > 1:
        raise ValueError("a given catalog trains one catalog; a mixture of catalogs loads each by name")
    catalogs: dict[str, tuple[Catalog, Population | None]] = {}
    for name in cfg.catalogs:
        if catalog is None:
            cat = build_catalog(name, cfg.items, cfg.dim, progress, cfg.transform)
            catalogs[name] = (cat, build_population(cfg.population, cat))
        else:
            catalogs[name] = (catalog, population)
    env_kw = {"device": device, "array": "torch", "engine": cfg.engine, **cfg.overrides}
    envs = [
        DriftVecEnv(s, n, catalog=catalogs[c][0], population=catalogs[c][1], **env_kw) for s, c, n in cfg.components
    ]
    compile_s = 0.0  # the compiled engine compiles now, not silently inside the first rollout
    for env in envs if cfg.engine == "compiled" else []:
        if progress:
            print(f"compiling the env step for {env.num_users} users (20-70 s; seconds once cached)", file=sys.stderr)
        compile_s += env.compile()
    from stable_baselines3.common.vec_env import VecMonitor

    from driftrec.envs.sb3 import SB3VecEnv

    venv = VecMonitor(SB3VecEnv(envs))
    out_path = Path(out) if out is not None else None
    tb = str(out_path / "tb") if (tensorboard and out_path is not None) else None
    if resume is not None:
        if not Path(resume).is_file():
            raise FileNotFoundError(f"no such checkpoint: {str(resume)!r}")
        try:
            model = load_ppo(Path(resume).read_bytes(), "cpu", env=venv, tensorboard_log=tb)
        except ValueError as exc:
            raise ValueError(f"checkpoint {str(resume)!r} cannot be resumed: {exc}") from exc
        settings = apply_resume_settings(model, checkpoint_settings(model), cfg.hyper)
        start = int(model.num_timesteps)
        if start >= cfg.timesteps:
            raise ValueError(
                f"checkpoint {str(resume)!r} has {start} steps, not fewer than --timesteps {cfg.timesteps}"
            )
    else:
        model = make_ppo(venv, cfg.hyper, seed=cfg.seed, device="cpu", tensorboard_log=tb)
        settings = check_ppo_settings(cfg.hyper)
        start = 0
    if tb is None:
        # SB3 otherwise leaves an empty tempdir/SB3-<date> folder behind on every learn()
        from stable_baselines3.common.logger import Logger

        model.set_logger(Logger(folder=None, output_formats=[]))
    evaluations: list[dict[str, Any]] = []
    first_cat, first_pop = catalogs[cfg.components[0][1]]
    evaluate = _evaluator(cfg, first_cat, first_pop) if cfg.eval_every else None
    callback = make_callback(cfg, out_path, progress, start, evaluate, lambda: venv.venv.env_seconds, evaluations)
    began = time.perf_counter()
    model.learn(
        cfg.timesteps - start,
        callback=callback,
        reset_num_timesteps=resume is None,
        tb_log_name="ppo",
    )
    wall = time.perf_counter() - began
    env_s = venv.venv.env_seconds
    first = catalogs[cfg.catalogs[0]][0]
    config = {
        **cfg.to_dict(),
        "ppo": settings,
        "scenario_params": make_scenario(cfg.scenarios[0], **cfg.overrides).to_dict(),
        "catalog_meta": {**first.meta, **describe_catalog(first)},
    }
    if mixture:
        config["components"] = [
            {
                "scenario": s,
                "catalog": c,
                "users": n,
                "scenario_params": make_scenario(s, **cfg.overrides).to_dict(),
                "catalog_meta": describe_catalog(catalogs[c][0]),
            }
            for s, c, n in cfg.components
        ]
    update_s = callback.update_seconds
    config["timing"] = {
        "learn_wall_s": round(wall, 2),
        "env_s": round(env_s, 2),
        "env_share": round(env_s / wall, 4),
        "update_s": round(update_s, 2),
        "update_share": round(update_s / wall, 4),
    }
    if evaluations:
        config["timing"] |= {
            "eval_s": round(callback.eval_seconds, 2),
            "eval_share": round(callback.eval_seconds / wall, 4),
        }
    config["timing"] |= {"compile_s": round(compile_s, 2)} if cfg.engine == "compiled" else {}
    if resume is not None:
        config["resumed_from"] = str(resume)
    if evaluations:
        config["evaluations"] = evaluations
    agent = PPOWeights(model, config)
    if out_path is not None:
        agent.save(out_path / "policy.zip")
        io.write_json(out_path / "train.json", {**config, "num_timesteps": int(model.num_timesteps)})
    return agent


def run_train_unit(shared: tuple[Catalog, Population | None, bool], spec: dict[str, Any]) -> dict[str, Any]:
    """One training run of a sweep (as a backend runs it): trains ``spec["config"]`` into
    ``spec["_out"]`` (checkpoints, TensorBoard) and returns {"policy": the policy file's bytes,
    "train": the train.json record} for the driver to store."""
    catalog, population, progress = shared
    cfg = TrainConfig(**spec["config"])
    agent = train(
        cfg, spec["_out"], progress=progress, tensorboard=spec["_tensorboard"], catalog=catalog, population=population
    )
    record = {**agent.config, "num_timesteps": int(agent.model.num_timesteps)}
    return {"policy": agent.to_bytes(), "train": record}


def policy_digest(agent: PPOWeights) -> str:
    """sha256 (16 hex digits) of the policy network's parameters: equal digests, equal policies."""
    import hashlib

    h = hashlib.sha256()
    for p in agent.model.policy.state_dict().values():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def train_sweep(
    cfg: TrainConfig,
    seeds: list[int],
    out: str | Path,
    backend: Any,
    *,
    progress: bool = True,
    tensorboard: bool = True,
    log: Any = None,
) -> dict[str, Any]:
    """Train ``cfg`` once per seed, each run a unit on ``backend``, into OUT/seed_S/ (policy.zip,
    train.json, checkpoints/, tb/). Finished runs are stored under OUT/units/ and reused by a
    re-run. Writes and returns OUT/sweep.json: per seed the policy's path, its parameter digest
    (``policy_digest``) and timing."""
    from driftrec.experiments.sweeps.store import UnitStore, fingerprint, run_units

    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"a training sweep needs distinct seeds, got {seeds}")
    out = Path(out)
    catalog = build_catalog(cfg.catalog, cfg.items, cfg.dim, progress, cfg.transform)
    population = build_population(cfg.population, catalog)
    context = fingerprint(catalog, population)
    specs = {
        f"train/seed_{s}": {
            "config": dataclasses.asdict(dataclasses.replace(cfg, seed=s)),
            "_out": str(out / f"seed_{s}"),
            "_tensorboard": tensorboard,
            "threads": backend.threads,
            "context": context,
        }
        for s in seeds
    }
    shared = (catalog, population, progress and backend.inline_progress)
    results, reused = run_units(
        backend, UnitStore(out / "units"), run_train_unit, shared, specs, say=log or (lambda _m: None),
        progress=progress, desc="train sweep",
    )  # fmt: skip
    runs = {}
    for s in seeds:
        res = results[f"train/seed_{s}"]
        where = out / f"seed_{s}"
        io.write_bytes(where / "policy.zip", res["policy"])
        io.write_json(where / "train.json", res["train"])
        runs[str(s)] = {
            "path": str(where / "policy.zip"),
            "policy_digest": policy_digest(PPOWeights.from_bytes(res["policy"])),
            "num_timesteps": res["train"]["num_timesteps"],
            "timing": res["train"]["timing"],
            "reused": f"train/seed_{s}" in reused,
        }
    summary = {"config": cfg.to_dict(), "seeds": seeds, "backend": backend.describe(), "runs": runs}
    io.write_json(out / "sweep.json", summary)
    return summary
