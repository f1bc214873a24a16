"""A catalog's geometry under each transform, and what a reduced dimension costs and gains.

For one catalog: the raw vectors' mean norm and random-pair cosines, the same after centring, the
catalog's local similarity (``Catalog.neighbour_cos``); then for each ``pca:D``: the variance kept,
the share of every item's top-10 neighbours it keeps (``neighbour_overlap`` against the centred
full-dimension space), and env throughput (user-steps per second of a preset, in one process)
against the full dimension.

    driftrec geometry --catalog movielens --dims 32,64,128 --out runs/geometry
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from driftrec.encoders.checks import check_int
from driftrec.envs import DriftVecEnv
from driftrec.experiments.online.runner import text_table
from driftrec.simulators.catalog import Catalog
from driftrec.simulators.geometry import neighbour_overlap
from driftrec.simulators.scenarios import make_scenario


@dataclass(frozen=True)
class GeometryConfig:
    """What ``driftrec geometry`` measures."""

    catalog: str = "movielens"
    """movielens, courses, synthetic or a file"""
    dims: list[int] = field(default_factory=lambda: [32, 64, 128])
    """reduced dimensions"""
    scenario: str = "mixed"
    """preset timed"""
    users: int = 1024
    """users of the throughput runs"""
    steps: int = 20
    """steps timed per run"""

    def __post_init__(self) -> None:
        if not self.dims:
            raise ValueError("dims is empty; give at least one reduced dimension")
        for d in self.dims:
            check_int("each of dims", d, 1)
        check_int("users", self.users, 1)
        check_int("steps", self.steps, 1)
        make_scenario(self.scenario)


def pair_cosines(e: torch.Tensor, pairs: int = 20_000, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of the cosine between random item pairs (distinct items)."""
    m = e.shape[0]
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(0, m, (pairs,), generator=g)
    j = (i + torch.randint(1, m, (pairs,), generator=g)) % m
    c = (e[i].double() * e[j].double()).sum(1)
    return float(c.mean()), float(c.std())


def throughput(catalog: Catalog, scenario: str, users: int, steps: int, seed: int = 0) -> float:
    """User-steps per second of ``scenario`` with fixed weights, after one warm-up step."""
    env = DriftVecEnv(scenario, users, catalog=catalog, array="torch")
    env.reset(seed=seed)
    w = torch.tensor([0.3, 0.7, 0.1])
    env.step(w)
    start = time.perf_counter()
    for _ in range(steps):
        env.step(w)
    return users * steps / (time.perf_counter() - start)


def geometry_report(
    catalog: Catalog, dims: Sequence[int] = (32, 64, 128), scenario: str = "mixed", users: int = 1024, steps: int = 20
) -> dict[str, Any]:
    """Everything the module docstring lists, for ``catalog`` (built with any transform: its raw
    vectors are used)."""
    raw = catalog.raw if catalog.raw is not None else catalog.embeddings
    base = Catalog(raw, catalog.ids, catalog.texts, {k: v for k, v in catalog.meta.items() if "transform" not in k})
    full = base.transformed("centre")
    raw_mean, raw_std = pair_cosines(raw)
    c_mean, c_std = pair_cosines(full.embeddings)
    full_speed = throughput(full, scenario, users, steps)
    rows = [
        {
            "transform": "centre",
            "dim": full.dim,
            "explained_variance": 1.0,
            "top10_overlap": 1.0,
            "neighbour_cos": full.neighbour_cos,
            "user_steps_per_s": full_speed,
            "speedup": 1.0,
        }
    ]
    for d in dims:
        red = base.transformed(f"pca:{d}")
        speed = throughput(red, scenario, users, steps)
        rows.append(
            {
                "transform": f"pca:{d}",
                "dim": d,
                "explained_variance": red.transform.explained if red.transform else 1.0,
                "top10_overlap": neighbour_overlap(full.embeddings, red.embeddings),
                "neighbour_cos": red.neighbour_cos,
                "user_steps_per_s": speed,
                "speedup": speed / full_speed,
            }
        )
    return {
        "catalog": {k: v for k, v in catalog.meta.items() if "transform" not in k},
        "num_items": catalog.num_items,
        "raw_dim": int(raw.shape[1]),
        "raw": {"mean_norm": float(torch.nn.functional.normalize(raw.double(), dim=1).mean(0).norm()),
                "pair_cos_mean": raw_mean, "pair_cos_std": raw_std,
                "neighbour_cos": base.neighbour_cos},
        "centred": {"pair_cos_mean": c_mean, "pair_cos_std": c_std, "neighbour_cos": full.neighbour_cos},
        "throughput": {"scenario": scenario, "users": users, "steps": steps},
        "reduced": rows,
    }  # fmt: skip


def format_geometry(rep: dict[str, Any]) -> str:
    r, c = rep["raw"], rep["centred"]
    head = [
        f"{rep['num_items']} items, {rep['raw_dim']} raw dims; raw: mean vector norm {r['mean_norm']:.2f}, "
        f"random pairs cosine {r['pair_cos_mean']:.3f} +- {r['pair_cos_std']:.3f}, "
        f"10th-neighbour cosine {r['neighbour_cos']:.3f}",
        f"centred: random pairs cosine {c['pair_cos_mean']:.3f} +- {c['pair_cos_std']:.3f}, 10th-neighbour cosine "
        f"{c['neighbour_cos']:.3f}",
        "",
    ]
    t = rep["throughput"]
    rows = [["transform", "dim", "variance kept", "top-10 overlap", "10th-nb cosine", "user-steps/s", "speed-up"]]
    for x in rep["reduced"]:
        rows.append(
            [
                x["transform"],
                str(x["dim"]),
                f"{x['explained_variance']:.1%}",
                f"{x['top10_overlap']:.1%}",
                f"{x['neighbour_cos']:.3f}",
                f"{x['user_steps_per_s']:,.0f}",
                f"{x['speedup']:.2f}x",
            ]
        )
    note = f"\n(throughput: {t['scenario']}, {t['users']} users, {t['steps']} steps, one process, this machine)"
    return "\n".join(head) + text_table(rows) + note
