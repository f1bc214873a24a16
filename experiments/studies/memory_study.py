"""What does keeping freed memory buy? The env step with glibc's malloc defaults and with
``envs.memory.keep_freed_memory``, timed in fresh processes, alternately, in one run.

    python -m driftrec.experiments.studies.memory_study --out runs/memory

``keep_freed_memory`` (which the ``driftrec`` command line calls) changes where a step's tensors
come from, not any number. At each size (``--sizes``, N users x M items x d dimensions, synthetic
random catalog, ``--scenario``, the bench grid's fixed weights, ``--engine``), each round steps a
fresh process with malloc's defaults and then one with the setting, so both see the same machine
state; a process times its step (the fastest of 3 timings of ``--min-time`` seconds) and counts
the page faults (minor faults: pages the system hands the process afresh) over 5 more steps.
The fastest of ``--rounds`` rounds counts. Writes OUT/memory.json.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import torch

from driftrec.experiments.diagnostics.bench import in_fresh_process, random_catalog
from driftrec.experiments.diagnostics.timing import peak_mib, timed
from driftrec.experiments.online.runner import text_table
from driftrec.experiments.studies.fused_step_study import (
    FIXED_WEIGHTS,
    check_timing,
    parse_sizes,
    timing_parser,
    timing_summary,
)

SIZES = ((1024, 1000, 384), (8192, 1000, 64), (8192, 1000, 384), (8192, 10000, 64))
"""The default sizes: large batches, where a step allocates tens to hundreds of MB."""
MODES = ("default", "kept")
FAULT_STEPS = 5


def measure(n: int, m: int, d: int, scenario: str, engine: str, min_time: float, keep: bool) -> dict[str, Any]:
    """In this process: ``keep_freed_memory`` if ``keep``, then one env's step time, page faults
    per step and peak memory."""
    from driftrec.envs import DriftVecEnv
    from driftrec.envs.memory import keep_freed_memory

    applied = keep_freed_memory() if keep else False
    env = DriftVecEnv(scenario, n, catalog=random_catalog(m, d), array="torch", engine=engine)
    env.reset(seed=0)
    w = torch.tensor(FIXED_WEIGHTS)
    for _ in range(3):  # the compile, and the allocator's first requests
        env.step(w)
    step = min(timed(lambda: env.step(w), min_time) for _ in range(3))
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(FAULT_STEPS):
        env.step(w)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / FAULT_STEPS
    return {"step_ms": step * 1e3, "faults_per_step": faults, "peak_mib": peak_mib(), "applied": applied}


def study(
    sizes: list[tuple[int, int, int]],
    scenario: str = "mixed",
    engine: str = "eager",
    min_time: float = 1.0,
    rounds: int = 2,
    out: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Both modes at every size, alternately, ``rounds`` times; writes OUT/memory.json when ``out`` is given."""
    from tqdm.auto import tqdm

    from driftrec.envs.memory import user_settings, without_kept_settings
    from driftrec.simulators.compiled import ENGINES

    check_timing(scenario, min_time, rounds)
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r} is unknown; allowed: {', '.join(ENGINES)}")
    tuned = user_settings()
    if tuned:  # the child processes would inherit them: no default side to compare with
        raise ValueError(f"the environment tunes malloc already ({', '.join(tuned)}); unset it to compare")
    start = time.perf_counter()
    rows = []
    for n, m, d in tqdm(sizes, desc="memory", unit="size", disable=not progress):
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for _ in range(rounds):
            for mode in MODES:
                with without_kept_settings():
                    runs[mode].append(in_fresh_process(measure, n, m, d, scenario, engine, min_time, mode == "kept"))
        row: dict[str, Any] = {"users": n, "items": m, "dim": d}
        for mode in MODES:
            best = min(runs[mode], key=lambda r: r["step_ms"])
            row |= {f"{mode}_{k}": v for k, v in best.items() if k != "applied"}
        row["applied"] = all(r["applied"] for r in runs["kept"])
        row["speedup"] = row["default_step_ms"] / row["kept_step_ms"]
        rows.append(row)
    settings = {"scenario": scenario, "engine": engine, "min_time": min_time, "rounds": rounds}
    return timing_summary(settings, rows, start, out, "memory.json")


def format_study(summary: dict[str, Any]) -> str:
    rows = [["N", "M", "d", "default ms", "kept ms", "speed-up", "faults/step", "kept faults/step",
             "peak MiB", "kept peak MiB"]]  # fmt: skip
    for r in summary["rows"]:
        rows.append(
            [
                f"{r['users']:,}",
                f"{r['items']:,}",
                str(r["dim"]),
                f"{r['default_step_ms']:.2f}",
                f"{r['kept_step_ms']:.2f}" if r["applied"] else "not applied",
                f"{r['speedup']:.2f}x",
                f"{r['default_faults_per_step']:,.0f}",
                f"{r['kept_faults_per_step']:,.0f}",
                f"{r['default_peak_mib']:,.0f}",
                f"{r['kept_peak_mib']:,.0f}",
            ]
        )
    return text_table(rows, left=0)


def main(argv: list[str] | None = None) -> int:
    parser = timing_parser("memory_study", __doc__, SIZES, "runs/memory")
    parser.add_argument("--engine", default="eager", help="eager or compiled [eager]")
    args = parser.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes)
        summary = study(sizes, args.scenario, args.engine, args.min_time, args.rounds, args.out, not args.no_progress)
    except (ValueError, TypeError, RuntimeError) as exc:
        parser.error(str(exc))
    print(
        f"\n{summary['scenario']}, {summary['engine']} engine: ms per step with malloc's defaults and with "
        "keep_freed_memory, page faults per step and peak memory of each process (fastest of "
        f"{summary['rounds']} rounds; {summary['machine'].get('cpu', 'cpu')}):\n"
    )
    print(format_study(summary))
    print(f"\nwrote {args.out}/memory.json ({summary['wall_s']}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
