"""What would a fused step gain? The env step with inductor's own kernels for every operation, timed.

    python -m driftrec.experiments.studies.fused_step_study --out runs/fused_step

The compiled engine keeps ATen's kernels for every reduction, matrix product and transcendental
function, so that its numbers are the eager step's bit for bit (``simulators/compiled.py``).
Letting inductor generate those too changes the last bits: that would be a new model version,
every published number regenerated (docs/benchmarks.md). This study measures what it would buy
before anyone pays for it. At each size (``--sizes``, N users x M items x d dimensions, synthetic
random catalog, ``--scenario``), the same env is stepped three ways in one process:

- ``eager``: the default engine;
- ``compiled``: the exact compiled engine;
- ``fused``: the same step under a plain inductor compile (C++ wrapper, the compiled engine's
  realize threshold), whose numbers are NOT the model's.

Each step time is divided by the bare scoring kernel, as ``driftrec bench`` does (the (N, d) x
(d, M) product plus top-k), and the table says whether the first steps of a fresh episode give
the eager numbers (observations, rewards and slates). Every time is the fastest of ``--rounds``
rounds, each timing the three engines one after another (``--min-time`` seconds each).
Weights are the bench grid's fixed ``[0.3, 0.7, 0.05]`` or, with ``--weights random``, new
random weights for every user at every step (as a PPO policy gives them: every query changes,
so every user is scored). Writes OUT/fused_step.json.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import torch

from driftrec.encoders.checks import check_int
from driftrec.experiments.common import io
from driftrec.experiments.diagnostics.bench import random_catalog
from driftrec.experiments.diagnostics.timing import bare_kernel, machine_info, timed
from driftrec.experiments.online.runner import text_table
from driftrec.simulators.compiled import REALIZE_OPCOUNT, CompiledAdvance
from driftrec.simulators.scenarios import make_scenario

ENGINES = ("eager", "compiled", "fused")
SIZES = ((1, 1000, 64), (256, 1000, 64), (64, 10000, 64), (1024, 10000, 64), (8192, 1000, 384))
"""The default sizes: one user, the headline's PPO batch, and issue 16's three step/kernel targets."""
FIXED_WEIGHTS = (0.3, 0.7, 0.05)
CHECK_STEPS = 10


def fused_backend(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
    """A ``torch.compile`` backend: inductor generating every operation (a plain compile), with the
    compiled engine's C++ wrapper and realize threshold. Not the model's numbers."""
    from torch._inductor.compile_fx import compile_fx

    return compile_fx(
        gm, example_inputs, config_patches={"cpp_wrapper": True, "realize_opcount_threshold": REALIZE_OPCOUNT}
    )


def parse_sizes(text: str) -> list[tuple[int, int, int]]:
    """``"NxMxd,NxMxd,..."`` as (N, M, d) triples of positive ints; a one-line error otherwise."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        fields = part.split("x")
        if len(fields) != 3 or not all(f.isdigit() and int(f) > 0 for f in fields):
            raise ValueError(f"size {part!r} is not NxMxd with positive integers (e.g. 64x10000x64)")
        out.append((int(fields[0]), int(fields[1]), int(fields[2])))
    if not out:
        raise ValueError("no sizes given; e.g. --sizes 1x1000x64,64x10000x64")
    return out


def check_timing(scenario: str, min_time: float, rounds: int) -> None:
    """One-line errors for an unknown preset, a non-positive ``min_time`` or ``rounds`` below 1."""
    make_scenario(scenario)
    check_int("rounds", rounds, 1)
    if not min_time > 0:
        raise ValueError(f"min_time={min_time!r} must be a positive number of seconds")


def timing_parser(
    module: str, doc: str | None, sizes: tuple[tuple[int, int, int], ...], out: str
) -> argparse.ArgumentParser:
    """The command line of a step-timing study (``python -m driftrec.experiments.studies.MODULE``):
    --sizes (default ``sizes``), --scenario, --min-time, --rounds, --out (default ``out``), --no-progress."""
    parser = argparse.ArgumentParser(
        prog=f"python -m driftrec.experiments.studies.{module}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default_sizes = ",".join("x".join(map(str, s)) for s in sizes)
    parser.add_argument("--sizes", default=default_sizes, help=f"comma-separated NxMxd [{default_sizes}]")
    parser.add_argument("--scenario", default="mixed", help="a preset [mixed]")
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds each timing runs at least [1.0]")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of timings; the fastest counts [2]")
    parser.add_argument("--out", type=Path, default=Path(out), help=f"output folder [{out}]")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _env(engine: str, scenario: str, n: int, catalog: Any) -> Any:
    from driftrec.envs import DriftVecEnv

    env = DriftVecEnv(scenario, n, catalog=catalog, array="torch", engine="eager" if engine == "eager" else "compiled")
    if engine == "fused":
        env._compiled = CompiledAdvance(env.sim, backend=fused_backend)
    return env


def _trajectory(env: Any, actions: list[torch.Tensor]) -> list[torch.Tensor]:
    out = [env.reset(seed=1)[0]]
    for a in actions:
        obs, reward, _, _, info = env.step(a)
        out += [obs, reward, info["items"]]
    return out


def measure(
    n: int, m: int, d: int, scenario: str = "mixed", weights: str = "fixed", min_time: float = 1.0, rounds: int = 2
) -> dict[str, Any]:
    """The three engines' step times at one size, the bare kernel's, compile times and whether each
    engine gives the eager numbers (see the module docstring)."""
    catalog = random_catalog(m, d)
    gen = torch.Generator().manual_seed(0)
    if weights == "fixed":
        batches = [torch.tensor(FIXED_WEIGHTS).expand(n, 3).contiguous()]
    else:
        batches = [torch.rand(n, 3, generator=gen) for _ in range(16)]
    envs = {e: _env(e, scenario, n, catalog) for e in ENGINES}
    row: dict[str, Any] = {"users": n, "items": m, "dim": d}
    for e, env in envs.items():
        row[f"{e}_compile_s"] = env.compile()
    check = [batches[i % len(batches)] for i in range(CHECK_STEPS)]
    eager = _trajectory(envs["eager"], check)
    for e in ENGINES[1:]:
        mine = _trajectory(envs[e], check)
        row[f"{e}_same_numbers"] = all(torch.equal(a, b) for a, b in zip(eager, mine, strict=True))
    q = torch.nn.functional.normalize(torch.randn(n, d, generator=gen), dim=1)
    kernel, steps = [], {e: [] for e in ENGINES}
    for env in envs.values():
        env.reset(seed=0)
    for _ in range(rounds):
        kernel.append(timed(lambda: bare_kernel(q, envs["eager"].sim.E, envs["eager"].slate_size), min_time))
        for e, env in envs.items():
            cycle = itertools.cycle(batches)
            steps[e].append(timed(lambda env=env, cycle=cycle: env.step(next(cycle)), min_time))
    row["kernel_ms"] = min(kernel) * 1e3
    for e in ENGINES:
        row[f"{e}_ms"] = min(steps[e]) * 1e3
        row[f"{e}_over_kernel"] = min(steps[e]) / min(kernel)
    row["fused_speedup"] = row["compiled_ms"] / row["fused_ms"]
    return row


def study(
    sizes: list[tuple[int, int, int]],
    scenario: str = "mixed",
    weights: str = "fixed",
    min_time: float = 1.0,
    rounds: int = 2,
    out: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """``measure`` at every size; writes OUT/fused_step.json when ``out`` is given."""
    from tqdm.auto import tqdm

    check_timing(scenario, min_time, rounds)
    if weights not in ("fixed", "random"):
        raise ValueError(f"weights {weights!r} is unknown; allowed: fixed, random")
    start = time.perf_counter()
    rows = [
        measure(n, m, d, scenario, weights, min_time, rounds)
        for n, m, d in tqdm(sizes, desc="fused step", unit="size", disable=not progress)
    ]
    settings = {"scenario": scenario, "weights": weights, "min_time": min_time, "rounds": rounds}
    return timing_summary(settings, rows, start, out, "fused_step.json")


def timing_summary(
    settings: dict[str, Any], rows: list[dict[str, Any]], start: float, out: Path | None, name: str
) -> dict[str, Any]:
    """A step-timing study's summary: its ``settings``, the machine, its ``rows`` and the seconds
    since ``start`` (``time.perf_counter``); written to OUT/``name`` when ``out`` is given."""
    summary = {**settings, "machine": machine_info("cpu"), "rows": rows}
    summary["wall_s"] = round(time.perf_counter() - start, 1)
    if out is not None:
        io.write_json(Path(out) / name, summary)
    return summary


def format_study(summary: dict[str, Any]) -> str:
    rows = [["N", "M", "d", "eager ms", "compiled ms", "fused ms", "kernel ms", "eager", "compiled", "fused",
             "fused/compiled", "same numbers"]]  # fmt: skip
    for r in summary["rows"]:
        same = "/".join("yes" if r[f"{e}_same_numbers"] else "no" for e in ENGINES[1:])
        rows.append(
            [
                f"{r['users']:,}",
                f"{r['items']:,}",
                str(r["dim"]),
                *(f"{r[f'{e}_ms']:.3f}" for e in ENGINES),
                f"{r['kernel_ms']:.3f}",
                *(f"{r[f'{e}_over_kernel']:.2f}" for e in ENGINES),
                f"{r['fused_speedup']:.2f}x",
                same,
            ]
        )
    return text_table(rows, left=0)


def main(argv: list[str] | None = None) -> int:
    parser = timing_parser("fused_step_study", __doc__, SIZES, "runs/fused_step")
    parser.add_argument("--weights", default="fixed", help="fixed (the bench grid's) or random (every step) [fixed]")
    args = parser.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes)
        summary = study(sizes, args.scenario, args.weights, args.min_time, args.rounds, args.out, not args.no_progress)
    except (ValueError, TypeError, RuntimeError) as exc:  # RuntimeError: no C++ compiler for the compiled engines
        parser.error(str(exc))
    print(
        f"\n{summary['scenario']}, {summary['weights']} weights: ms per step on each engine and the bare "
        "scoring kernel, each step over the kernel, the fused step's speed-up over the compiled engine, and "
        "whether the compiled and fused steps give the eager numbers (compiled/fused; fastest of "
        f"{summary['rounds']} rounds; {summary['machine'].get('cpu', 'cpu')}):\n"
    )
    print(format_study(summary))
    print(f"\nwrote {args.out}/fused_step.json ({summary['wall_s']}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
