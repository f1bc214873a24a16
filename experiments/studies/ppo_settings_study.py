"""Faster PPO settings, checked: are they faster, and is their policy not worse? (docs/benchmarks.md)

    python -m driftrec.experiments.studies.ppo_settings_study --users 1024 --ppo n_steps=8 --out runs/ppo_settings

Trains two PPO policies on the headline's ``abrupt`` (experiments/configs/headline.yaml: its
catalog, training budget and seed), back to back in this process: one with the headline's PPO
settings (its users and the default PPO settings), one with the candidate settings (``--users``
and ``--ppo KEY=VALUE``, on top of the same defaults). Each training's wall time, user-steps per
second and share in the env are ``train``'s own ``timing``, so their ratio comes from one run.
Then both policies run on the same users of the headline's held-out seeds (``compare``, which
also tunes best-fixed on the headline's tuning seeds), and the table gives the paired per-seed
difference of the candidate against the headline's policy with its 95% interval. The candidate
is worse where that whole interval lies below zero.

Each of ``--train-seeds`` (5 by default; about 7 minutes in all on 2 CPU cores) trains both
settings, the headline's first on every other seed so that neither pays the process's warm-up
every time. A policy's variation across training seeds is the larger noise: one seed says little
about a small difference, and the last row gives the difference over training seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from driftrec.agents.ppo import check_ppo_settings
from driftrec.encoders.checks import check_int
from driftrec.experiments.cli.args import UserError, parse_ppo
from driftrec.experiments.common import io
from driftrec.experiments.common.stats import mean_ci95, paired_difference
from driftrec.experiments.online.compare import CompareConfig, PPOSource, compare
from driftrec.experiments.online.runner import text_table
from driftrec.experiments.online.train import TrainConfig, train
from driftrec.simulators.rng import check_seeds

SCENARIO = "abrupt"
HEADLINE = Path(__file__).resolve().parents[1] / "configs" / "headline.yaml"


def headline_base(path: Path = HEADLINE) -> dict[str, Any]:
    """The headline config restricted to ``SCENARIO`` and agent ``ppo`` (best-fixed comes with it)."""
    raw = io.read_mapping(path)
    return {**raw, "scenarios": [SCENARIO], "agents": ["ppo"]}


def study(
    out: Path,
    users: int,
    hyper: dict[str, Any],
    train_seeds: list[int] | None = None,
    base: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the headline's and the candidate's policy per training seed, evaluate both on the
    same held-out users, write OUT/ppo_settings.json and return it.

    ``base``: a compare config (``headline_base()`` by default); its ``ppo`` section gives the
    headline's training budget, users, seed and settings. ``users`` and ``hyper``: the candidate's
    users and PPO settings (``hyper`` updates the headline's). Returns {"scenario", "timesteps",
    "headline": settings, "candidate": settings, "runs": [per training seed: "seed", "headline"
    and "candidate" (each "timing": train's, "user_steps_per_s", "mean": clicks per step,
    "per_seed"), "speedup", "diff": the candidate less the headline's policy, relative to the
    latter's mean, with "ci95", "abs_mean", "abs_ci95", and "worse": the interval is below 0], and
    with several training seeds "overall": the mean "speedup" and the "diff" over training seeds
    (their per-seed relative differences, with a 95% interval over training seeds, and "worse")}.
    """
    base = headline_base() if base is None else base
    ppo = base.get("ppo", {})
    timesteps = int(ppo.get("timesteps", TrainConfig.timesteps))
    seeds = train_seeds or [int(ppo.get("seed", 0))]
    catalog = {k: base[k] for k in ("catalog", "items", "dim", "transform", "population") if k in base}
    if ppo.get("catalog"):  # the policy trains on its own catalog(s), as compare's PPOSource says
        catalog["catalog"] = ppo["catalog"]
    settings = {
        "headline": {"users": int(ppo.get("users", TrainConfig.users)), "hyper": dict(ppo.get("hyper", {}))},
        "candidate": {"users": users, "hyper": {**ppo.get("hyper", {}), **hyper}},
    }
    check_int("users", users, 1)
    check_ppo_settings(settings["candidate"]["hyper"])
    evaluation = CompareConfig.from_dict({**{k: v for k, v in base.items() if k != "ppo"}, "device": "cpu"})
    runs = []
    for i, seed in enumerate(seeds):
        run: dict[str, Any] = {"seed": seed}
        order = list(settings) if i % 2 == 0 else list(settings)[::-1]  # neither always trains first
        for name in order:
            s = settings[name]
            cfg = TrainConfig(
                scenario=SCENARIO, users=s["users"], timesteps=timesteps, seed=seed, hyper=s["hyper"], device="cpu",
                **catalog,
            )  # fmt: skip
            folder = out / f"seed_{seed}" / name
            agent = train(cfg, folder, progress=progress, tensorboard=False)
            timing = agent.config["timing"]
            res = compare(
                dataclasses.replace(evaluation, ppo=PPOSource(policy=str(folder / "policy.zip"))),
                out / "eval",
                progress=progress,
            )
            e = res.results[SCENARIO]["ppo"]
            run[name] = {
                "timing": timing,
                "user_steps_per_s": timesteps / timing["learn_wall_s"],
                "mean": e["mean"],
                "per_seed": e["per_seed"],
            }
        old, new = run["headline"], run["candidate"]
        run["speedup"] = new["user_steps_per_s"] / old["user_steps_per_s"]
        run["diff"] = paired_difference(new["per_seed"], old["per_seed"])
        run["diff"]["worse"] = run["diff"]["abs_ci95"][1] < 0
        runs.append(run)
    summary = {"scenario": SCENARIO, "timesteps": timesteps, **settings, "runs": runs}
    if len(runs) > 1:  # training seeds are the independent units here
        m, lo, hi = mean_ci95([r["diff"]["mean"] for r in runs])
        speedup = sum(r["speedup"] for r in runs) / len(runs)
        summary["overall"] = {"diff": {"mean": m, "ci95": [lo, hi], "worse": hi < 0}, "speedup": speedup}
    io.write_json(out / "ppo_settings.json", summary)
    return summary


def _describe(s: dict[str, Any]) -> str:
    extra = "".join(f", {k}={v}" for k, v in sorted(s["hyper"].items()))
    return f"{s['users']} users{extra}"


def format_study(summary: dict[str, Any]) -> str:
    """One row per training seed: each policy's speed, env share and clicks, and the paired difference."""
    head = ("seed", "headline/s", "env", "candidate/s", "env", "speed-up", "headline", "candidate", "paired diff", "")
    rows = []
    for r in summary["runs"]:
        old, new, d = r["headline"], r["candidate"], r["diff"]
        lo, hi = d["ci95"]
        rows.append((
            str(r["seed"]),
            f"{old['user_steps_per_s']:,.0f}", f"{old['timing']['env_share']:.0%}",
            f"{new['user_steps_per_s']:,.0f}", f"{new['timing']['env_share']:.0%}",
            f"{r['speedup']:.2f}x", f"{old['mean']:.4f}", f"{new['mean']:.4f}",
            f"{d['mean']:+.1%} [{lo:+.1%}, {hi:+.1%}]", "worse" if d["worse"] else "not worse",
        ))  # fmt: skip
    if "overall" in summary:
        o = summary["overall"]
        lo, hi = o["diff"]["ci95"]
        rows.append((
            "all", "", "", "", "", f"{o['speedup']:.2f}x", "", "",
            f"{o['diff']['mean']:+.1%} [{lo:+.1%}, {hi:+.1%}]", "worse" if o["diff"]["worse"] else "not worse",
        ))  # fmt: skip
    return text_table([head, *rows], left=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m driftrec.experiments.studies.ppo_settings_study",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=1024, help="the candidate's parallel users [1024]")
    parser.add_argument(
        "--ppo", action="append", default=[], metavar="KEY=VALUE",
        help="a candidate PPO setting (repeatable; keys of agents.ppo.PPO_DEFAULTS) [none: the defaults]",
    )  # fmt: skip
    parser.add_argument("--train-seeds", default="0,1,2,3,4", help="comma-separated training seeds [0,1,2,3,4]")
    parser.add_argument("--out", type=Path, default=Path("runs/ppo_settings"), help="output folder [runs/ppo_settings]")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)
    seeds = [s for s in args.train_seeds.split(",") if s.strip()]
    if not seeds:
        parser.error("--train-seeds '': give at least one training seed")
    try:
        seeds = check_seeds("--train-seeds", [int(s) for s in seeds])  # distinct seeds, distinct users
        hyper = parse_ppo(args.ppo)
        check_ppo_settings(hyper)
        check_int("--users", args.users, 1)
    except (ValueError, UserError) as exc:
        parser.error(f"{exc} (--users {args.users}, --train-seeds {args.train_seeds!r}, --ppo {args.ppo})")
    summary = study(args.out, args.users, hyper, seeds, progress=not args.no_progress)
    print(
        f"\nPPO on {SCENARIO}, {summary['timesteps']:,} user-steps per policy: the headline's settings "
        f"({_describe(summary['headline'])}) against the candidate ({_describe(summary['candidate'])}); "
        "user-steps/s end to end and the share in the env, then clicks per step on the headline's held-out "
        "seeds, paired (95% CI; row all: over the training seeds):\n"
    )
    print(format_study(summary))
    print(f"\nwrote {args.out}/ppo_settings.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
