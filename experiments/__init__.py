"""Experiments on the driftrec env: the ``driftrec`` command and the code behind it, room by room.

- ``cli``: the ``driftrec`` command line (``main``), one module per group of subcommands, flags from configs.
- ``online``: runs in the simulator: simulate (``runner``), tuning, train, compare, calibrate,
  portability, transfer.
- ``offline``: trajectory logs and log files, logged-feedback loaders, off-policy estimators (``ope``,
  obp's interface; ``recent``, the drift-aware ones), evaluation of logs (``offpolicy``) and its
  check in the simulator (``validation``), weight policies over whole episodes (``sequential``,
  with ``fqe``, ``episodes`` and its check ``sequential_check``), replay on real timelines, Minari
  export.
- ``sweeps``: where a sweep's independent units run (local processes or Ray), the resumable unit
  store, one run per output folder.
- ``studies``: the research scripts behind tables in docs/compare.md and docs/benchmarks.md
  (``python -m ...``).
- ``diagnostics``: bench (and how it times, ``timing``), soak and catalog geometry.
- ``common``: the one rollout loop (``rollout``), the config pieces commands share (``settings``),
  atomic files (``io``), confidence intervals, plots, metrics beyond clicks.
- ``configs``: the shipped YAML configs (data only).

Dependencies run one way: experiments -> agents -> envs -> simulators -> encoders. The modules that
lived flat in this package before the rooms (``driftrec.experiments.compare`` and so on) still
import, with a DeprecationWarning naming the new place.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED = {
    "cli_bench": "cli.diagnostics", "cli_offline": "cli.offline", "cliargs": "cli.args",
    "runner": "online.runner", "compare": "online.compare", "tuning": "online.tuning", "train": "online.train",
    "calibrate": "online.calibrate", "transfer": "online.transfer", "portability": "online.portability",
    "ope": "offline.ope", "feedback": "offline.feedback", "offpolicy": "offline.offpolicy",
    "trajectories": "offline.trajectories", "replay": "offline.replay", "interactions": "offline.interactions",
    "minari_export": "offline.minari_export",
    "backends": "sweeps.backends", "store": "sweeps.store", "outlock": "sweeps.outlock",
    "bandit_sweep": "studies.bandit_sweep", "weights_oracle_sweep": "studies.weights_oracle_sweep",
    "transfer_study": "studies.transfer_study",
    "bench": "diagnostics.bench", "soak": "diagnostics.soak", "peer_recogym": "diagnostics.peer_recogym",
    "catalog_geometry": "diagnostics.catalog_geometry",
    "io": "common.io", "stats": "common.stats", "plots": "common.plots", "metrics": "common.metrics",
}  # fmt: skip
"""Old module name (directly in this package) -> its room and name now."""


class _Moved(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``driftrec.experiments.OLD`` as the module it moved to, with a DeprecationWarning."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        old = fullname.removeprefix(__name__ + ".")
        if old == fullname or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = f"{__name__}.{MOVED[spec.name.removeprefix(__name__ + '.')]}"
        warnings.warn(f"{spec.name} moved to {new}; import it from there", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        pass  # the module it moved to is already executed


if not any(isinstance(f, _Moved) for f in sys.meta_path):
    sys.meta_path.append(_Moved())
