"""The text ``driftrec bench`` prints: the throughput table and one line per other figure."""

from __future__ import annotations

from typing import Any

from driftrec.experiments.diagnostics.bench import BenchResult


def format_bench(res: BenchResult) -> str:
    from driftrec.experiments.online.runner import text_table

    based = res.config.get("baseline") is not None
    engines = len({p.get("engine", "eager") for p in res.points}) > 1
    head = ["N", "M", "d", *(["engine", "x eager", "compile s"] if engines else [])]
    head += ["user-steps/s", "step ms", "kernel ms", "step/kernel", "peak MiB"]
    head += ["baseline/s", "speed-up"] if based else []
    rows = [
        [
            f"{p['users']:,}",
            f"{p['items']:,}",
            str(p["dim"]),
            *(_engine_cells(p) if engines else []),
            f"{p['user_steps_per_s']:,.0f}",
            f"{p['step_ms']:.2f}",
            f"{p['kernel_ms']:.2f}",
            f"{p['step_over_kernel']:.2f}",
            f"{p['gpu_peak_mib'] if p['gpu_peak_mib'] is not None else p['rss_peak_mib']:,.0f}",
        ]
        + _baseline_cells(p, based)
        for p in res.points
    ]
    r = res.reference
    lines = [
        f"machine: {res.machine['cpu']}, {res.machine['cores']} cores, torch {res.machine['torch']} "
        f"({res.machine['torch_threads']} threads){', ' + res.machine['gpu'] if 'gpu' in res.machine else ''}; "
        f"scenario {res.config['scenario']}, device {res.config['device']}",
        *([f"baseline (timed right after each figure): {res.machine['baseline']}"] if based else []),
        "",
        text_table([head, *rows]),
        "",
        f"at N={r['users']:,}, M={r['items']:,}, d={r['dim']}: "
        f"batched {r['batched_user_steps_per_s']:,.0f} user-steps/s; "
        f"per-user loop {r['loop_user_steps_per_s']:,.0f} ({r['batched_over_loop']:.0f}x slower); "
        f"SyncVectorEnv {r['sync_vector_user_steps_per_s']:,.0f} ({r['batched_over_sync_vector']:.0f}x slower)",
    ]
    one = res.single
    line = (
        f"one user (gymnasium.make, {one['scenario']}, 1,000 items, d=64): {one['steps_per_s']:,.0f} steps/s, "
        f"{one['torch_ops_per_step']:.0f} torch operations per step"
    )
    if "recogym" in one:
        line += (
            f"; RecoGym {one['recogym']['recogym']} RecoEnv1: {one['recogym']['steps_per_s']:,.0f} steps/s "
            f"(driftrec at {one['driftrec_over_recogym']:.2f}x)"
        )
    lines.append(line + _baseline(one, "steps_per_s", "steps/s"))
    for engine, e in one.get("engines", {}).items():
        line = (
            f"one user, {engine} engine: {e['steps_per_s']:,.0f} steps/s ({e['steps_per_s'] / one['steps_per_s']:.2f}x "
            f"eager; its first step, the compile, took {e['first_step_s']:.1f}s)"
        )
        if "recogym" in one:
            line += f"; driftrec at {e['steps_per_s'] / one['recogym']['steps_per_s']:.2f}x RecoGym"
        lines.append(line + _baseline(e, "steps_per_s", "steps/s"))
    for p in res.ppo:
        if "skipped" in p:
            lines.append(f"PPO on {p['catalog']}: skipped ({p['skipped']})")
            continue
        dims = f", {p['items']:,} items, d={p['dim']}" if p.get("items") else ""
        engine = "" if p.get("engine", "eager") == "eager" else f", {p['engine']} engine"
        extra = f"; {p['over_eager']:.2f}x eager, after a compile of {p['compile_s']:.1f}s" if "over_eager" in p else ""
        lines.append(
            f"PPO ({p['timesteps']:,} user-steps, {p['scenario']}, 256 users, {p['catalog']}{dims}{engine}): "
            f"{p['learn_wall_s']:.1f}s, {p['user_steps_per_s']:,.0f} user-steps/s "
            f"({p['over_first']:.2f}x {p['reference']}), {p['env_share']:.0%} of it in the env"
            f"{_updates(p)}{extra}" + _baseline(p, "user_steps_per_s", "user-steps/s")
        )
    return "\n".join(lines)


def _updates(row: dict[str, Any]) -> str:
    """The text ", X% in SB3's updates" for a PPO row that has the figure (rows of older runs do not)."""
    return f", {row['update_share']:.0%} in SB3's updates" if "update_share" in row else ""


def _baseline(row: dict[str, Any], key: str, unit: str) -> str:
    """The baseline's figure and the speed-up, as "; baseline X unit (Yx)", for a row that was timed
    with ``--baseline`` too; else ""."""
    if "baseline_error" in row:
        return f"; baseline not timed ({row['baseline_error']})"
    if "baseline" not in row:
        return ""
    b = row["baseline"]
    share = f", {b['env_share']:.0%} in the env" if "env_share" in b else ""
    return f"; baseline {b[key]:,.0f} {unit}{share} ({row['speedup']:.2f}x)"


def _engine_cells(p: dict[str, Any]) -> list[str]:
    """A grid row's engine, its speed over the eager row of its size and its compile time ("-" for eager)."""
    if p.get("engine", "eager") == "eager":
        return ["eager", "-", "-"]
    return [p["engine"], f"{p['over_eager']:.2f}x", f"{p['compile_s']:.1f}"]


def _baseline_cells(p: dict[str, Any], based: bool) -> list[str]:
    """A grid row's baseline columns: its figure and speed-up, "-" where it has none, nothing without ``--baseline``."""
    if "baseline" in p:
        return [f"{p['baseline']['user_steps_per_s']:,.0f}", f"{p['speedup']:.2f}x"]
    return ["-", "-"] if based else []
