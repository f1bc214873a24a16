"""``driftrec bench``: how fast the batched env is, measured against what it must do and against
stepping users one at a time. Every figure of a run comes from that run.

- **Throughput**: user-steps per second of ``DriftVecEnv`` (scenario ``mixed``: every dynamic on,
  weights actions) for N users and a catalog of M items in d dimensions. Each point runs in a fresh
  process, so its peak memory (RSS; on CUDA, the largest allocation) is its own.
- **Step / kernel**: one env step divided by the bare scoring kernel at the same size, the
  (N, d) x (d, M) product plus top-k (users 1,024 at a time, as the env does on GPUs). Each point
  runs on every engine of ``engines`` (eager always; the compiled engine on CPU, each point in its
  own process after its compile, which is timed apart).
- **References** at one point (N = 1,024, M = 10k, d = 64 by default): the same dynamics stepped
  one user at a time in a Python loop (``DriftVecEnv`` of one user, scored without padding, the
  way RecSim, RecoGym and SARDINE step users), and gymnasium's ``SyncVectorEnv`` of single-user
  ``DriftEnv``s; both as ratios of the batched env's throughput.
- **One user**: steps per second of the standard single env, ``gymnasium.make`` of
  ``driftrec/DriftingInterests-v0`` on the default catalog (1,000 items, d = 64), with random
  actions; with ``recogym_python`` (a Python that has RecoGym 0.1.3.0), RecoGym's single-user env
  timed in the same run (``experiments/diagnostics/peer_recogym.py``) beside it; and the torch operations one
  such step dispatches (a count, the same on every machine: what a fused step must cut).
- **PPO**: the shares of a stable-baselines3 training run's wall time spent in the env (reset and
  step, including the numpy conversion the SB3 adapter makes) and in SB3's updates between
  rollouts, with the headline's settings; the rest is SB3's rollout loop (its policy's passes).

With ``baseline`` (another driftrec checkout, ``diagnostics.baseline``), every throughput point, the
one-user figure and the PPO runs are timed with it too, right after this code's, and reported as
speed-ups: a before/after from one run.

Catalogs are random unit vectors (speed does not depend on what the items are).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from driftrec.encoders import ModelUnavailableError
from driftrec.encoders.checks import check_int
from driftrec.experiments.diagnostics.baseline import Baseline
from driftrec.experiments.diagnostics.timing import (  # noqa: F401  (defined here before)
    bare_kernel,
    count_torch_ops,
    machine_info,
    peak_mib,
    synchronizer,
    timed,
)
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.compiled import ENGINES

FULL_GRID = {"users": [1, 64, 1024, 8192], "items": [1000, 10_000, 100_000], "dims": [64, 384]}
QUICK_GRID = {"users": [1, 64], "items": [1000], "dims": [64]}


@dataclass(frozen=True)
class BenchConfig:
    """users, items, dims: the grid. reference: (N, M, d) of the per-user comparisons.
    ref_users: users the per-user loop and SyncVectorEnv step (their rate is per user-step).
    min_time: seconds each timing runs at least (after one warm-up step). ppo_steps: user-steps of
    the PPO timing (0: skip). ppo_catalogs: the catalogs it trains on (``NAME[:TRANSFORM]``; the
    first is the reference of the others' speed). engines: the engines the grid, the one-user figure
    and the PPO timings run on (the grid runs eager at every point, the references run eager, and
    the compiled engine runs on CPU only). scenario: the env's dynamics.
    recogym_python: a Python interpreter with RecoGym installed, to time its single-user env beside
    driftrec's (None: skip). baseline: the root of another driftrec checkout to time beside this one
    (None: skip)."""

    users: list[int] = field(default_factory=lambda: list(FULL_GRID["users"]))
    items: list[int] = field(default_factory=lambda: list(FULL_GRID["items"]))
    dims: list[int] = field(default_factory=lambda: list(FULL_GRID["dims"]))
    reference: tuple[int, int, int] = (1024, 10_000, 64)
    ref_users: int = 32
    min_time: float = 1.0
    ppo_steps: int = 262_144
    ppo_catalogs: list[str] = field(default_factory=lambda: ["synthetic", "movielens", "movielens:pca:64"])
    engines: list[str] = field(default_factory=lambda: list(ENGINES))
    scenario: str = "mixed"
    device: str = "cpu"
    recogym_python: str | None = None
    baseline: str | None = None

    def __post_init__(self) -> None:
        for key in ("users", "items", "dims"):
            vals = getattr(self, key)
            if not vals:
                raise ValueError(f"{key} must be a non-empty list of positive integers, got {vals!r}")
            for v in vals:
                check_int(f"each of {key}", v, 1)
        if any(m < 20 for m in self.items):
            raise ValueError(f"items must be at least 20 (twice the slate), got {self.items}")
        if not self.min_time > 0:
            raise ValueError(f"min_time={self.min_time!r} must be > 0")
        if self.ppo_steps < 0:
            raise ValueError(f"ppo_steps={self.ppo_steps!r} must be >= 0")
        if not self.engines or any(e not in ENGINES for e in self.engines):
            raise ValueError(f"engines {self.engines!r}: give one or more of {', '.join(ENGINES)}")
        if self.ppo_steps and not self.ppo_catalogs:
            raise ValueError("ppo_catalogs must name at least one catalog when ppo_steps > 0")
        if self.baseline is not None:
            Baseline(self.baseline)  # a clear error now rather than after the first point

    @classmethod
    def quick(cls, **kw: Any) -> BenchConfig:
        """A few small points, short timings and a short PPO run (seconds; what the test runs)."""
        base = dict(
            QUICK_GRID, reference=(64, 1000, 64), ref_users=4, min_time=0.05, ppo_steps=4096,
            ppo_catalogs=["synthetic"], engines=["eager"],
        )  # fmt: skip
        return cls(**{**base, **kw})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def random_catalog(num_items: int, dim: int, seed: int = 0) -> Catalog:
    """M random unit vectors (for timing only: the env's speed does not depend on the items)."""
    gen = torch.Generator().manual_seed(seed)
    emb = torch.nn.functional.normalize(torch.randn(num_items, dim, generator=gen), dim=1)
    ids = [str(i) for i in range(num_items)]
    return Catalog(emb, ids, [f"item {i}" for i in ids], {"source": f"random-{num_items}x{dim}", "encoder": "none"})


def measure_point(
    n: int, m: int, d: int, scenario: str, device: str, min_time: float, engine: str = "eager"
) -> dict[str, Any]:
    """Env step and bare-kernel timings at one size on ``engine``, and this process's memory. The
    compiled engine's first step (its compile) is timed apart (``compile_s``)."""
    from driftrec.envs import DriftVecEnv, resolve_device

    dev = resolve_device(device)
    sync = synchronizer(dev)
    base = peak_mib()
    env = DriftVecEnv(scenario, n, catalog=random_catalog(m, d), device=dev, array="torch", engine=engine)
    env.reset(seed=0)
    w = torch.tensor([0.3, 0.7, 0.05], device=dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    start = time.perf_counter()
    env.step(w)
    sync()
    first_step_s = time.perf_counter() - start
    step = timed(lambda: env.step(w), min_time, sync)
    gpu_peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
    q = torch.nn.functional.normalize(torch.randn(n, d, device=dev), dim=1)
    E = env.sim.E
    kernel = timed(lambda: bare_kernel(q, E, env.slate_size), min_time, sync)
    return {
        "users": n,
        "items": m,
        "dim": d,
        "engine": engine,
        **({"compile_s": first_step_s} if engine != "eager" else {}),
        "step_ms": step * 1e3,
        "user_steps_per_s": n / step,
        "kernel_ms": kernel * 1e3,
        "step_over_kernel": step / kernel,
        "rss_start_mib": base,
        "rss_peak_mib": peak_mib(),
        "gpu_peak_mib": gpu_peak,
    }


def in_fresh_process(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``fn(*args)`` in a new process (so its peak memory is its own)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(fn, args)


def measure_references(n: int, m: int, d: int, scenario: str, ref_users: int, min_time: float) -> dict[str, Any]:
    """User-steps per second of the per-user loop and of SyncVectorEnv at (n, m, d), CPU."""
    import gymnasium

    from driftrec.envs import DriftVecEnv
    from driftrec.envs.single import DriftEnv

    catalog = random_catalog(m, d)
    envs = [DriftVecEnv(scenario, 1, catalog=catalog, array="torch") for _ in range(ref_users)]
    for i, e in enumerate(envs):
        e.reset(seed=i)
        e.sim.row_block, e.sim.tail_blocks = 1, ()  # no padding: a plain one-user product, as a loop would do it
    w = torch.tensor([0.3, 0.7, 0.05])

    def loop() -> None:
        for e in envs:
            e.step(w)

    per_user = timed(loop, min_time) / ref_users
    sync_env = gymnasium.vector.SyncVectorEnv(
        [lambda: DriftEnv(scenario, catalog=catalog) for _ in range(ref_users)], autoreset_mode="SameStep"
    )
    sync_env.reset(seed=0)
    action = sync_env.action_space.sample() * 0.0
    sync = timed(lambda: sync_env.step(action), min_time) / ref_users
    return {"loop_user_steps_per_s": 1 / per_user, "sync_vector_user_steps_per_s": 1 / sync, "ref_users": ref_users}


def measure_single(scenario: str, min_time: float, engine: str = "eager") -> dict[str, Any]:
    """Steps per second of one ``gymnasium.make`` env (default catalog), random actions, CPU; the
    compiled engine's first step (its compile) is timed apart."""
    import gymnasium
    import numpy as np

    import driftrec  # noqa: F401  (registers the env id)
    from driftrec.envs import ENV_ID

    env = gymnasium.make(ENV_ID, scenario=scenario, engine=engine)
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1.0, 1.0, (4096, 3)).astype(np.float32)
    count = [0]

    def step() -> None:
        i = count[0] = count[0] + 1
        _, _, terminated, truncated, _ = env.step(actions[i & 4095])
        if terminated or truncated:
            env.reset()

    start = time.perf_counter()
    step()
    first_step_s = time.perf_counter() - start
    steps_per_s = 1 / timed(step, min_time)
    if engine != "eager":
        return {"scenario": scenario, "engine": engine, "steps_per_s": steps_per_s, "first_step_s": first_step_s}
    # the same 200 steps of a fresh env twice, the second count kept: the first pass fills the
    # caches (element hashes, ...) these steps use, so the count does not depend on what ran before
    for _ in range(2):
        env = gymnasium.make(ENV_ID, scenario=scenario)
        env.reset(seed=0)
        count[0] = 0
        ops = count_torch_ops(step, 200)
    return {"scenario": scenario, "steps_per_s": steps_per_s, "torch_ops_per_step": ops}


def measure_recogym(python: str, min_time: float) -> dict[str, Any]:
    """RecoGym's single-user steps per second, timed by ``peer_recogym.py`` under ``python``."""
    import json
    import subprocess
    from pathlib import Path

    script = Path(__file__).with_name("peer_recogym.py")
    try:
        done = subprocess.run(
            [python, str(script), "--min-time", str(min_time)], capture_output=True, text=True, timeout=600
        )
    except OSError as exc:
        raise ValueError(f"recogym_python {python!r} could not be run: {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ValueError(f"recogym_python {python!r} failed to time RecoGym (is recogym 0.1.3.0 installed?): {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_ppo(
    steps: int, scenario: str = "abrupt", catalog: str = "synthetic", engine: str = "eager"
) -> dict[str, Any]:
    """A PPO training run with the headline's settings (256 users, defaults) on ``catalog``
    (``NAME`` or ``NAME:TRANSFORM``, e.g. ``movielens:pca:64``): wall time, the shares of the env
    and of SB3's updates, and user-steps per second. The compiled engine compiles before training
    starts (``train``), and that time is reported apart (``compile_s``, in the timing)."""
    from driftrec.experiments.online.train import TrainConfig, train

    name, _, transform = catalog.partition(":")
    cfg = TrainConfig(
        scenario=scenario, users=256, timesteps=steps, catalog=name, transform=transform or "centre", engine=engine
    )
    agent = train(cfg, progress=False, tensorboard=False)
    timing = agent.config["timing"]
    meta = agent.config.get("catalog_meta", {})
    return {
        "timesteps": steps,
        "scenario": scenario,
        "catalog": catalog,
        "items": meta.get("num_items"),
        "dim": meta.get("transform_fit", {}).get("dim"),
        "user_steps_per_s": int(agent.model.num_timesteps) / timing["learn_wall_s"],
        **timing,
        **({"engine": engine} if engine != "eager" else {}),
    }


@dataclass
class BenchResult:
    config: dict[str, Any]
    points: list[dict[str, Any]]
    reference: dict[str, Any]
    ppo: list[dict[str, Any]]
    machine: dict[str, Any]
    single: dict[str, Any]
    wall_s: float


def run_bench(cfg: BenchConfig, progress: bool = True, fresh_processes: bool = True) -> BenchResult:
    """Every measurement of ``cfg`` (see the module docstring)."""
    from tqdm.auto import tqdm

    from driftrec.envs import resolve_device

    device = str(resolve_device(cfg.device))
    start = time.perf_counter()
    grid = [(n, m, d) for d in cfg.dims for m in cfg.items for n in cfg.users]
    if cfg.reference not in grid:
        grid.append(cfg.reference)
    base = Baseline(cfg.baseline) if cfg.baseline else None
    # every point runs eager (the references' and the other engines' measure); the compiled engine
    # is CPU only (simulators.compiled), so on a GPU the grid runs eager alone
    engines = ["eager", *(e for e in cfg.engines if e != "eager" and device == "cpu")]
    points: list[dict[str, Any]] = []
    runs = [(n, m, d, e) for n, m, d in grid for e in engines]
    for n, m, d, engine in tqdm(runs, desc="bench", unit="point", disable=not progress):
        args = (n, m, d, cfg.scenario, device, cfg.min_time, *([engine] if engine != "eager" else []))
        point = in_fresh_process(measure_point, *args) if fresh_processes else measure_point(*args)
        if engine != "eager":  # the eager point of this size was measured just before
            point["over_eager"] = point["user_steps_per_s"] / points[-1]["user_steps_per_s"]
        points.append(point)
        _against(base, point, "user_steps_per_s", "measure_point", *args)
    ref = in_fresh_process(measure_references, *cfg.reference, cfg.scenario, cfg.ref_users, cfg.min_time)
    at = next(p for p in points if (p["users"], p["items"], p["dim"], p["engine"]) == (*cfg.reference, "eager"))
    ref.update(
        {
            "users": cfg.reference[0],
            "items": cfg.reference[1],
            "dim": cfg.reference[2],
            "batched_user_steps_per_s": at["user_steps_per_s"],
            "batched_over_loop": at["user_steps_per_s"] / ref["loop_user_steps_per_s"],
            "batched_over_sync_vector": at["user_steps_per_s"] / ref["sync_vector_user_steps_per_s"],
        }
    )
    single = in_fresh_process(measure_single, cfg.scenario, cfg.min_time)
    _against(base, single, "steps_per_s", "measure_single", cfg.scenario, cfg.min_time)
    single["engines"] = {}
    for e in cfg.engines:
        if e != "eager":
            single["engines"][e] = in_fresh_process(measure_single, cfg.scenario, cfg.min_time, e)
            _against(base, single["engines"][e], "steps_per_s", "measure_single", cfg.scenario, cfg.min_time, e)
    if cfg.recogym_python:
        single["recogym"] = measure_recogym(cfg.recogym_python, cfg.min_time)
        single["driftrec_over_recogym"] = single["steps_per_s"] / single["recogym"]["steps_per_s"]
    ppo: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None  # the first timed catalog: the others' speed reference
    for cat in cfg.ppo_catalogs if cfg.ppo_steps else []:
        eager: dict[str, Any] | None = None
        for engine in cfg.engines:
            try:
                row = in_fresh_process(measure_ppo, cfg.ppo_steps, "abrupt", cat, engine)
            except ModelUnavailableError as exc:  # a language-model catalog on a machine without the model
                ppo.append({"catalog": cat, "skipped": str(exc).splitlines()[0]})
                break
            row["engine"] = engine
            engine_arg = [engine] if engine != "eager" else []  # checkouts older than the engines take none
            _against(base, row, "user_steps_per_s", "measure_ppo", cfg.ppo_steps, "abrupt", cat, *engine_arg)
            if engine == "eager":
                eager = row
            elif eager is not None:
                row["over_eager"] = row["user_steps_per_s"] / eager["user_steps_per_s"]
            first = first or row
            row["reference"] = first["catalog"] + ("" if first["engine"] == "eager" else f" ({first['engine']})")
            row["over_first"] = row["user_steps_per_s"] / first["user_steps_per_s"]
            ppo.append(row)
    machine = machine_info(device) | ({"baseline": base.describe()} if base else {})
    return BenchResult(cfg.to_dict(), points, ref, ppo, machine, single, time.perf_counter() - start)


def _against(base: Baseline | None, row: dict[str, Any], key: str, fn: str, *args: Any) -> None:
    """Time ``fn(*args)`` with the baseline too: ``row`` gains ``baseline`` (its result) and
    ``speedup`` (this code's ``key`` over the baseline's), or ``baseline_error`` where the baseline
    cannot time it (an older checkout without the compiled engine, say): the run goes on."""
    if base is None:
        return
    try:
        row["baseline"] = base.run(fn, *args)
    except ValueError as exc:
        row["baseline_error"] = str(exc)
        return
    row["speedup"] = row[key] / row["baseline"][key]
