"""Where a sweep's independent units run: this process, a pool of local processes, or Ray.

A backend maps ``fn(shared, spec) -> result`` over a dict of unit specs and yields ``(key, result)``
as each unit finishes, so the caller can store every result the moment it exists. ``shared`` (the
catalog and population, say) is sent to each worker once, not with every unit.

Every unit runs with ``threads`` torch threads. The simulator's numbers do not depend on the
thread count, but PPO's gradient sums do (they are split across threads), so two backends give
identical results when their units use the same number of threads.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

import torch

from driftrec.encoders.checks import check_int

UnitFn = Callable[[Any, Any], Any]
"""fn(shared, spec) -> result: one unit of a sweep (a module-level function, so it pickles)."""

BACKENDS = ("local", "ray")


def default_threads(workers: int) -> int:
    """Torch threads per unit when ``workers`` units run at once: the machine's cores shared out."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _check_threads(threads: int) -> int:
    return check_int("threads", threads, 1)


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_WORKER: tuple[UnitFn, Any] | None = None


def _init_worker(fn: UnitFn, shared: Any, threads: int) -> None:
    global _WORKER
    torch.set_num_threads(threads)
    _WORKER = (fn, shared)


def _call_in_worker(spec: Any) -> Any:
    assert _WORKER is not None, "worker not initialised"
    fn, shared = _WORKER
    return fn(shared, spec)


class LocalBackend:
    """Units in ``workers`` local processes (spawned, so CUDA and threads start clean), or in this
    process when ``workers`` is 0. ``threads``: torch threads per unit (default: cores / workers)."""

    name = "local"

    def __init__(self, workers: int = 1, threads: int | None = None) -> None:
        check_int("workers", workers, 0)  # 0: in this process
        self.workers = workers
        self.threads = _check_threads(threads) if threads is not None else default_threads(workers)

    @property
    def inline_progress(self) -> bool:
        """Whether units may draw their own progress bars (one unit at a time, so bars do not mix)."""
        return self.workers <= 1

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "workers": self.workers, "threads_per_unit": self.threads}

    def map(self, fn: UnitFn, shared: Any, specs: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """Run ``fn(shared, spec)`` for every spec; yield (key, result) in order of completion."""
        if not specs:
            return
        if self.workers == 0:
            with _torch_threads(self.threads):
                for key, spec in specs.items():
                    yield key, fn(shared, spec)
            return
        ctx = multiprocessing.get_context("spawn")
        workers = min(self.workers, len(specs))
        with ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(fn, shared, self.threads)
        ) as pool:
            pending = {pool.submit(_call_in_worker, spec): key for key, spec in specs.items()}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        yield pending.pop(fut), fut.result()
            finally:
                for fut in pending:
                    fut.cancel()


def _call_on_ray(fn: UnitFn, shared: Any, spec: Any, threads: int) -> Any:
    torch.set_num_threads(threads)
    return fn(shared, spec)


_SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's switch between a multi-machine node (its Linux default: the node takes the machine's
external address, even when given 127.0.0.1) and a single-machine one (its macOS and Windows
default: the node address is loopback). Ray binds its servers (GCS, raylet, workers, object
manager, runtime-env agent) to the node address."""


def _ray_initialized() -> bool:
    ray = sys.modules.get("ray")
    return bool(ray is not None and ray.is_initialized())


def _single_machine_ray() -> Callable[[], None]:
    """Make the Ray that is about to start here a single-machine one, so that every server it starts
    listens on 127.0.0.1 only (token authentication stays on). Its processes inherit the setting at
    start; the returned function restores this process's environment afterwards."""
    before = os.environ.get(_SINGLE_MACHINE)
    os.environ[_SINGLE_MACHINE] = "0"
    constants = sys.modules.get("ray._private.ray_constants")  # ray imported already: it read the variable
    flag = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = False

    def undo() -> None:
        if before is None:
            os.environ.pop(_SINGLE_MACHINE, None)
        else:
            os.environ[_SINGLE_MACHINE] = before
        if constants is not None:
            constants.ENABLE_RAY_CLUSTER = flag

    return undo


class RayBackend:
    """Units as Ray tasks: on the cluster at ``address`` ("auto" finds a running one), or on a
    local Ray started here when ``address`` is None. Each task asks Ray for ``threads`` CPUs and
    runs with that many torch threads. Needs the extra ``pip install 'driftrec[ray]'``; on a
    multi-machine cluster every node needs driftrec installed."""

    name = "ray"

    def __init__(self, address: str | None = None, threads: int = 1, num_cpus: int | None = None) -> None:
        self.threads = _check_threads(threads)
        self.address = address
        # a Ray started here serves this machine alone: on loopback (a cluster is joined with address)
        undo = _single_machine_ray() if address is None and not _ray_initialized() else None
        try:
            try:
                import ray
            except ModuleNotFoundError as exc:
                raise ModuleNotFoundError(
                    "--backend ray needs Ray: pip install 'driftrec[ray]' (or pip install ray)"
                ) from exc
            if not ray.is_initialized():
                kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
                if address is None:
                    kw["num_cpus"] = num_cpus or os.cpu_count() or 1
                    kw["_node_ip_address"] = "127.0.0.1"
                ray.init(address=address, **kw)
        finally:
            if undo is not None:
                undo()
        self.ray = ray

    inline_progress = False
    """Ray tasks run side by side: their progress bars stay off."""

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "address": self.address or "local", "threads_per_unit": self.threads}

    def map(self, fn: UnitFn, shared: Any, specs: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """Submit every spec as a task; yield (key, result) as tasks finish."""
        if not specs:
            return
        ray = self.ray
        shared_ref = ray.put(shared)
        task = ray.remote(num_cpus=self.threads, max_retries=0)(_call_on_ray)
        pending = {task.remote(fn, shared_ref, spec, self.threads): key for key, spec in specs.items()}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    key = pending.pop(ref)
                    yield key, ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def make_backend(
    name: str = "local", *, workers: int = 1, threads: int | None = None, address: str | None = None
) -> LocalBackend | RayBackend:
    """A backend by name: "local" (``workers`` processes, 0 = this process) or "ray" (``address``)."""
    if name == "local":
        if address is not None:
            raise ValueError("--ray-address needs --backend ray")
        return LocalBackend(workers, threads)
    if name == "ray":
        return RayBackend(address, threads if threads is not None else 1)
    raise ValueError(f"unknown backend {name!r}; allowed: {', '.join(BACKENDS)}")
