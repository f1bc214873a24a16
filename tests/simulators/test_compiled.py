"""The compiled engine gives the eager engine's numbers bit for bit.

``engine="compiled"`` runs a weights-mode step under ``torch.compile`` and takes the paths that
avoid host reads (``simulators.host_sync``); eager on the CPU takes the shortcuts (rare events drawn
for the users they hit, unchanged queries not rescored). Every compared tensor must be equal, not
close: the engine is a choice of speed, never of model. Each batch size compiles once (20-40 s on
2 cores when inductor's cache is cold), so the default set compiles one size and the slow set the
rest (a few presets and modes).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

import driftrec
from driftrec.simulators import compiled
from driftrec.simulators.compiled import ENGINES, check_engine, exact_ops
from driftrec.simulators.scenarios import PRESETS


def _tensors(x, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in a (nested) dataclass or dict, by path."""
    if isinstance(x, torch.Tensor):
        return {prefix: x}
    items = x.items() if isinstance(x, dict) else ((f.name, getattr(x, f.name)) for f in dataclasses.fields(x))
    out: dict[str, torch.Tensor] = {}
    for name, v in items:
        if isinstance(v, (torch.Tensor, dict)) or dataclasses.is_dataclass(v):
            out.update(_tensors(v, f"{prefix}.{name}"))
    return out


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], where: str) -> None:
    assert a.keys() == b.keys(), where
    for name in a:
        assert torch.equal(a[name], b[name]), f"{where}: {name} differs between the engines"


def _compare(scenario: str, n: int, steps: int, autoreset="same-step", fixed_weights=False, **overrides) -> int:
    """Step an eager and a compiled env side by side on the same seed and random weights (or the
    same weights at every step: unchanged queries, the slate cache's case); returns how many
    episodes ended (so a test can check it covered resets)."""
    envs = [
        driftrec.make_vec_env(
            scenario, n, num_items=200, dim=16, seed=5, array="torch", autoreset=autoreset, engine=e, **overrides
        )
        for e in ENGINES
    ]
    assert envs[0].compile() == 0.0 and envs[1].compile() > 0.0  # compiled ahead, on a throwaway state
    gen = torch.Generator().manual_seed(2)
    ended = 0
    with torch._dynamo.config.patch(error_on_recompile=True):  # the warm-up's graph serves every step
        for t in range(steps):
            w = torch.rand(n, 3, generator=gen) if not fixed_weights else torch.tensor([[0.3, 0.7, 0.1]]).expand(n, 3)
            (obs_e, r_e, te_e, tr_e, info_e), (obs_c, r_c, te_c, tr_c, info_c) = (env.step(w) for env in envs)
            where = f"{scenario} N={n} {overrides} step {t}"
            _assert_same(
                {"obs": obs_e, "reward": r_e, "term": te_e, "trunc": tr_e},
                {"obs": obs_c, "reward": r_c, "term": te_c, "trunc": tr_c},
                where,
            )
            _assert_same(_tensors(info_e), _tensors(info_c), where)
            ended += int((te_e | tr_e).sum())
    _assert_same(_tensors(envs[0].state), _tensors(envs[1].state), f"{scenario} N={n} final state")
    _assert_same(_tensors(envs[0].last_step), _tensors(envs[1].last_step), f"{scenario} N={n} last step")
    return ended


def test_compiled_engine_gives_the_eager_numbers_bit_for_bit():
    # every dynamic (drift, shifts, missions, boredom, organic events, churn) with short episodes,
    # so users end and restart in both autoreset modes (one compiled graph serves both)
    assert _compare("mixed", 5, 30, horizon=12, churn_rate=0.05) >= 5
    assert _compare("mixed", 5, 30, autoreset="next-step", horizon=12, churn_rate=0.05) >= 5


# every other preset's dynamics are a subset of mixed's (the default set's case); these differ in
# their parameters (the headline's abrupt, boredom's strength, movielens's fast drift). Each compiles once.
OTHER_PRESETS = ["abrupt", "boredom", "movielens"]


@pytest.mark.slow
@pytest.mark.parametrize("scenario", OTHER_PRESETS)
def test_compiled_engine_matches_eager_in_other_presets(scenario):
    _compare(scenario, 3, 25, horizon=10)


def test_other_presets_are_presets():
    assert set(OTHER_PRESETS) <= set(PRESETS)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["slate", "softmax"])
def test_compiled_engine_matches_eager_in_every_exploration_mode(mode):
    _compare("mixed", 2, 25, explore_mode=mode, horizon=10)


@pytest.mark.slow
def test_compiled_engine_matches_eager_with_rare_events_and_the_slate_cache_in_graph_breaks(monkeypatch):
    # large batches draw rare events eagerly, for the users they hit, and large products score only
    # the changed queries, eagerly (graph breaks both): force both here (one compile), with fixed
    # weights so that most queries repeat, and resets in the middle
    from driftrec.simulators import host_sync, recommender

    monkeypatch.setattr(host_sync, "RARE_IN_GRAPH", 0)
    monkeypatch.setattr(recommender, "CACHE_IN_GRAPH_SCORES", 0)
    frequent = {"shift_hazard": 0.2, "mission_start": 0.2, "organic_rate": 0.3}
    assert _compare("mixed", 4, 30, fixed_weights=True, horizon=12, churn_rate=0.05, **frequent) >= 3


@pytest.mark.slow
def test_compiled_single_user_env_matches_eager():
    import gymnasium
    import numpy as np

    envs = [gymnasium.make("driftrec/DriftingInterests-v0", scenario="abrupt", engine=e, horizon=15) for e in ENGINES]
    for env in envs:
        env.reset(seed=11)
    actions = np.random.default_rng(0).uniform(-1, 1, (40, 3)).astype(np.float32)
    for a in actions:
        out = [env.step(a) for env in envs]
        assert np.array_equal(out[0][0], out[1][0]) and out[0][1:4] == out[1][1:4]
        assert all(np.array_equal(out[0][4][k], out[1][4][k]) for k in ("items", "clicks"))
        if out[0][2] or out[0][3]:
            for env in envs:
                env.reset()


def test_exact_ops_cover_the_reductions_and_transcendentals():
    names = {op.name().split("::")[1].split(".")[0] for op in exact_ops()}
    assert {"sum", "linalg_vector_norm", "bmm", "mm", "exp", "log", "sin", "cos", "sqrt", "sigmoid"} <= names


def test_engine_errors_name_the_value():
    with pytest.raises(ValueError, match=r"engine 'jit' is unknown; allowed: eager, compiled"):
        driftrec.make_vec_env("stable", 2, engine="jit")
    with pytest.raises(ValueError, match=r"engine 'compiled' runs on the CPU only \(got device 'cuda'\)"):
        check_engine("compiled", torch.device("cuda"))
    check_engine("eager", torch.device("cuda"))  # eager runs anywhere


def test_large_draws_trace_without_chained_slice_updates():
    """Eager hashes large draws a cache-sized block at a time, in place into slices of one buffer;
    traced, each in-place block becomes a slice update of the whole buffer, and inductor inlined
    the chain into itself (a 256-user ``mixed`` step at d = 384 compiled for over 10 minutes).
    Traced, the hash is one pass: the same bits, no slice updates."""
    from torch._dynamo.backends.common import aot_autograd

    from driftrec.simulators.rng import HASH_BLOCK, hash_pairs

    graphs: list[torch.fx.GraphModule] = []

    def keep(gm: torch.fx.GraphModule, _inputs: list) -> torch.fx.GraphModule:
        graphs.append(gm)
        return gm

    prefix = torch.randint(0, 2**32, (300,), dtype=torch.int64)
    consts = torch.randint(0, 2**32, (1000,), dtype=torch.int64)
    assert prefix.numel() * consts.numel() > 4 * HASH_BLOCK  # eager takes several blocks
    traced = torch.compile(lambda p, c: hash_pairs(p, c, uniforms=True), backend=aot_autograd(fw_compiler=keep))
    bits, unif = traced(prefix, consts)
    want_bits, want_unif = hash_pairs(prefix, consts, uniforms=True)
    assert torch.equal(bits, want_bits) and torch.equal(unif, want_unif)
    ops = [str(n.target) for g in graphs for n in g.graph.nodes if n.op == "call_function"]
    assert ops and not [o for o in ops if "slice_scatter" in o]


@pytest.mark.slow
def test_every_batch_size_compiles_past_dynamos_default_limit(monkeypatch):
    """Dynamo keeps 8 graphs per function by default and then runs it eagerly, so a ninth batch
    size in a process would have stepped at the eager speed; the engine raises the limit. Here,
    with the limit at 1, a second size still gets its own graph."""
    from torch._dynamo.utils import counters

    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 1)
    for n in (2, 3):
        env = driftrec.make_vec_env("stable", n, num_items=50, dim=8, seed=0, array="torch", engine="compiled")
        before = counters["stats"]["unique_graphs"]
        env.compile()
        assert counters["stats"]["unique_graphs"] > before, f"no graph compiled for {n} users"
    assert torch._dynamo.config.recompile_limit == compiled.MAX_GRAPHS
