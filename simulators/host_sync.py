"""When the step may read tensor values on the host (``bool(t.any())``, ``t.nonzero()``).

On CPU the step uses such reads to skip work (draw rare events only for the users they hit, score
only the queries that changed). On a GPU each read is a device-to-host sync, and under
``torch.compile`` it would end the graph, so there every user takes the same path. Both paths give
the same numbers; the tests compare them (``tests/simulators/test_compiled.py``).
"""

from __future__ import annotations

import torch


def avoid_host_sync(t: torch.Tensor) -> bool:
    """True where the step must not read ``t``'s values on the host: on any device but the CPU, and
    while ``torch.compile`` traces the step."""
    return t.device.type != "cpu" or torch.compiler.is_compiling()
