"""How ``driftrec bench`` measures: a timer that runs until enough time has passed, torch operation
counts, the bare scoring kernel, peak memory and the machine's description."""

from __future__ import annotations

import multiprocessing
import platform
import resource
import time
from collections.abc import Callable
from typing import Any

import torch


def timed(fn: Callable[[], Any], min_time: float, sync: Callable[[], None] = lambda: None) -> float:
    """Seconds per call of ``fn``: one warm-up call, then calls until ``min_time`` has passed (at least 2)."""
    fn()
    sync()
    calls, start = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < min_time:
        fn()
        calls += 1
    sync()
    return (time.perf_counter() - start) / calls


def count_torch_ops(fn: Callable[[], Any], calls: int) -> float:
    """Mean number of torch operations (aten calls, views included) that one call of ``fn``
    dispatches, over ``calls`` calls."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            self.ops += 1
            return func(*args, **(kwargs or {}))

    mode = Count()
    mode.ops = 0
    with mode:
        for _ in range(calls):
            fn()
    return mode.ops / calls


def bare_kernel(q: torch.Tensor, E: torch.Tensor, k: int, block: int = 1024) -> torch.Tensor:
    """Top-k item indices (N, k) of ``q @ E.T``, 1,024 users at a time (the product plus top-k)."""
    return torch.cat([torch.topk(q[i : i + block] @ E.T, k, dim=1).indices for i in range(0, q.shape[0], block)])


def synchronizer(device: torch.device) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def peak_mib() -> float:
    """This process's peak resident memory, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_info(device: str) -> dict[str, Any]:
    info = {
        "cpu": platform.processor() or platform.machine(),
        "cores": multiprocessing.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        if names:
            info["cpu"] = names[0]
    except OSError:
        pass
    if device != "cpu" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info
