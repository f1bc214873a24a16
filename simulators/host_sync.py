"""When the step may read tensor values on the host (``bool(t.any())``, ``t.nonzero()``).

On CPU the step uses such reads to skip work (draw rare events only for the users they hit, score
only the queries that changed). On a GPU each read is a device-to-host sync, and under
``torch.compile`` it would end the graph, so there every user takes the same path (but for large
rare-event draws and large slate-cache lookups, which run eagerly in a graph break). Both paths
give the same numbers; the tests compare them (``tests/simulators/test_compiled.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch

T = TypeVar("T")

RARE_IN_GRAPH = 65536
"""Under ``torch.compile``, a rare event's draws for every user (users x values per user) up to this
many values are made inside the graph; larger ones only for the users the event hits, eagerly, in
a graph break (drawing 256 users' new facets at d = 384 every step would cost more than the break)."""


def draws_for_everyone(numel: int, device: torch.device) -> bool:
    """Whether a rare event whose draws replace ``numel`` values (users x values per user) draws them
    for every user (True: no host read) or for the users it hits only (``dynamics.replace_where``)."""
    return device.type != "cpu" or (torch.compiler.is_compiling() and numel <= RARE_IN_GRAPH)


def avoid_host_sync(t: torch.Tensor) -> bool:
    """True where the step must not read ``t``'s values on the host: on any device but the CPU, and
    while ``torch.compile`` traces the step."""
    return t.device.type != "cpu" or torch.compiler.is_compiling()


def eagerly(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, and in a compiled step run eagerly, in a graph break (so it may read values
    on the host). ``torch.compiler.disable`` is applied here, at call time: as a decorator at
    import it would load torch's compiler machinery (1 s, 70 MiB) into every process."""
    if torch.compiler.is_compiling():
        return torch.compiler.disable(fn)(*args)
    return fn(*args)
