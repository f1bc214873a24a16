"""The compiled engine: one env step under ``torch.compile``, bit for bit the eager step's numbers.

``CompiledAdvance(sim)`` compiles ``Simulator.advance`` (draws, slate, clicks, dynamics, profiles
and features of one weights-mode step) with inductor into one graph. Inductor's own kernels would
change the last bits: its reductions sum in another order, it decomposes small matrix products
into sums, and its vectorised ``exp``, ``log``, ``sin``, ``cos``, ``sqrt`` differ from ATen's on
0.6-27% of inputs (docs/benchmarks.md). Here every such operation (``exact_ops()``) runs ATen's own kernel, as in
eager mode, and inductor fuses what is left: the integer hashing of the draws, the elementwise
arithmetic, selections and comparisons, which are exact in any order of evaluation. So a user's
numbers are the same in both engines, the tests compare whole trajectories
(``tests/simulators/test_compiled.py``), and the engine is a choice of speed, not of model.

The step takes the paths that avoid host reads (``host_sync``), as on a GPU, with the same values.
One graph is compiled per batch size (``dynamic=False``), up to ``MAX_GRAPHS`` sizes in a process;
inductor's on-disk caches make later processes start faster. CPU only: on CUDA inductor emits
Triton kernels whose arithmetic has not been checked against eager CUDA (no GPU was available), so
the engine refuses other devices.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import torch

from driftrec.simulators.recommender import SlateCache
from driftrec.simulators.rng import seeds_to_keys, user_seeds
from driftrec.simulators.simulation import Simulator
from driftrec.simulators.state import SimState, graph_ready, ready_tensor

ENGINES = ("eager", "compiled")
"""``DriftVecEnv(engine=...)``: "eager" runs torch operation by operation (no start-up cost);
"compiled" runs the step compiled (see the module docstring): the same numbers, faster per step,
after a compile of tens of seconds per batch size."""

_EXACT_NAMES = (
    # reductions and products: ATen's summation order
    "sum", "mean", "prod", "var", "std", "var_mean", "norm", "linalg_vector_norm", "logsumexp",
    "_softmax", "_log_softmax", "cumsum", "cumprod", "amax", "amin", "max", "min", "argmax", "argmin",
    "dot", "mv", "mm", "addmm", "bmm", "baddbmm", "matmul",
    # transcendental functions: ATen's implementations (MKL / SLEEF / libm, as eager picks them)
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "sinh", "cosh", "tanh",
    "asin", "acos", "atan", "atan2", "sqrt", "rsqrt", "reciprocal", "pow", "sigmoid", "logit", "erf",
    "softplus", "xlogy", "logaddexp",
)  # fmt: skip


MAX_GRAPHS = 64
"""Graphs per compiled function that dynamo keeps in a process: ``CompiledAdvance`` raises dynamo's
``recompile_limit`` (8 by default, process-wide) to at least this. Every batch size is one more
graph of ``Simulator.advance`` (and of the functions it resumes after a graph break), so at the
default a ninth batch size in one process would have run eagerly: the same numbers, silently as
slow as the eager engine."""

REALIZE_OPCOUNT = 16
"""Inductor stores an elementwise result in a buffer, rather than recomputing it inside each kernel
that reads it, once it takes more than this many operations (inductor's CPU default is 50). The
step's draws are hashes of about 30 operations read by several kernels; recomputed, they made the
generated C++ about a third slower to compile, for no faster step. Exact either way: an
elementwise result has the same bits stored or recomputed."""


@lru_cache(maxsize=1)
def exact_ops() -> tuple[Any, ...]:
    """The ATen overloads that run their eager kernels inside the compiled step."""
    out = []
    for name in _EXACT_NAMES:
        packet = getattr(torch.ops.aten, name)
        out += [getattr(packet, o) for o in packet.overloads()]
    return tuple(out)


def _cache_tag() -> Any:
    """An inductor post-grad pass that changes nothing but names this backend in inductor's cache
    keys, so its graphs never share cache entries with a plain ``torch.compile``'s."""
    from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files

    class ExactEngineTag(CustomGraphPass):
        def __call__(self, graph: torch.fx.graph.Graph) -> None:
            return None

        def uuid(self) -> Any:
            return ("driftrec-exact", get_hash_for_files((__file__,)))

    return ExactEngineTag()


def exact_backend(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Callable[..., Any]:
    """A ``torch.compile`` backend: inductor, with the operations of ``exact_ops`` neither
    decomposed nor generated but called as ATen kernels (the same bits as eager)."""
    from torch._inductor import lowering
    from torch._inductor.compile_fx import compile_fx
    from torch._inductor.decomposition import select_decomp_table

    ops = set(exact_ops())
    table = select_decomp_table()  # inductor's own (cached) table: edited for this compile only
    removed = {op: table.pop(op) for op in ops if op in table}
    saved = {op: lowering.lowerings.get(op) for op in ops}
    # inductor warns once per ATen kernel that its C++ wrapper calls through the generic executor
    ir_log = logging.getLogger("torch._inductor.ir")
    level = ir_log.level
    ir_log.setLevel(logging.ERROR)
    try:  # inductor reads both while this graph compiles, so they are swapped for that time only
        for op in ops:
            lowering.lowerings[op] = lowering.fallback_handler(op, add_to_fallback_set=False)
        # cpp_wrapper: the kernels are called from C++, not Python (a third of a one-user step's time)
        patches = {
            "post_grad_custom_pre_pass": _cache_tag(),
            "cpp_wrapper": True,
            "realize_opcount_threshold": REALIZE_OPCOUNT,
        }
        return compile_fx(gm, example_inputs, config_patches=patches)
    finally:
        ir_log.setLevel(level)
        table.update(removed)
        for op, handler in saved.items():
            if handler is None:
                lowering.lowerings.pop(op, None)
            else:
                lowering.lowerings[op] = handler


def check_engine(engine: str, device: torch.device) -> None:
    """One-line errors for an unknown engine, the compiled engine off the CPU, or no C++ compiler."""
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r} is unknown; allowed: {', '.join(ENGINES)}")
    if engine == "compiled":
        if device.type != "cpu":
            raise ValueError(
                f"engine 'compiled' runs on the CPU only (got device {device.type!r}); use engine='eager' there"
            )
        from torch._inductor import config

        cxx = config.cpp.cxx[1] or "g++"
        if shutil.which(cxx) is None:
            raise RuntimeError(
                f"engine 'compiled' needs a C++ compiler ({cxx!r}, for torch.compile on the CPU) and none is on "
                "PATH; install one or use engine='eager'"
            )


class CompiledAdvance:
    """``sim.advance`` compiled with ``exact_backend``, called with (state, weights (N, 3), the
    caller's ``SlateCache``) for ``advance``'s results. One graph per batch size: inputs are made
    ``graph_ready`` first, so states of any layout or origin (fresh, stepped, partly reset) share it. The first
    call of each size compiles (20-70 s on 2 cores; seconds when inductor's on-disk cache has it);
    ``warm_up`` does it ahead."""

    def __init__(self, sim: Simulator, backend: Callable[..., Any] | None = None) -> None:
        """``backend``: ``exact_backend`` (the default; anything else gives other numbers, for
        timing studies only: ``experiments/studies/fused_step_study.py``)."""
        self.sim = sim
        limits = torch._dynamo.config
        limits.recompile_limit = max(limits.recompile_limit, MAX_GRAPHS)
        self._compiled = torch.compile(sim.advance, backend=backend or exact_backend, dynamic=False)
        self._last: SimState | None = None  # the state the last call returned (graph-ready already)

    def __call__(self, state: SimState, weights: torch.Tensor, cache: SlateCache) -> Any:
        """``sim.advance(state, weights, cache)``; ``cache`` is the caller's ``SlateCache``. Runs in
        inference mode, as the env's step does, on inputs made ``graph_ready`` (so a warm-up on a
        fresh state and the env's steps share one graph)."""
        with torch.inference_mode():
            out = self._compiled(state if state is self._last else graph_ready(state), ready_tensor(weights), cache)
        self._last = out[0]
        return out

    def warm_up(self, num_users: int) -> float:
        """Compile for ``num_users`` users now, on a throwaway fresh state; the seconds it took."""
        start = time.perf_counter()
        keys = seeds_to_keys(user_seeds(0, num_users), self.sim.device)
        self(self.sim.init(keys), torch.full((num_users, 3), 0.5, device=self.sim.device), SlateCache())
        return time.perf_counter() - start
