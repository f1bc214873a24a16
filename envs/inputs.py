"""What a ``DriftVecEnv`` accepts: action modes, array kinds, autoreset modes, scenario overrides,
and actions as tensors (with the first out-of-range entry, for the error message)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from driftrec.simulators.scenarios import override_keys

ACTION_MODES = ("weights", "slate")
ARRAYS = ("numpy", "torch")


def check_overrides(owner: str, overrides: Mapping[str, Any]) -> None:
    """TypeError naming the first keyword that is neither an env keyword nor a scenario parameter
    (Python's convention for an unexpected keyword, which TorchRL and RLlib rely on)."""
    unknown = sorted(set(overrides) - override_keys())
    if unknown:
        raise TypeError(
            f"{owner}() got an unexpected keyword argument {unknown[0]!r}; scenario parameters allowed: "
            f"{', '.join(sorted(override_keys()))}"
        )


AUTORESET = {
    True: AutoresetMode.SAME_STEP,
    "same-step": AutoresetMode.SAME_STEP,
    "next-step": AutoresetMode.NEXT_STEP,
    False: AutoresetMode.DISABLED,
    "disabled": AutoresetMode.DISABLED,
}


def resolve_autoreset(value: Any) -> AutoresetMode:
    """The ``AutoresetMode`` that a DriftVecEnv ``autoreset`` value names (see ``AUTORESET``)."""
    if isinstance(value, AutoresetMode):
        return value
    if isinstance(value, (bool, str)) and value in AUTORESET:
        return AUTORESET[value]
    raise ValueError(
        f"autoreset={value!r} is unknown; allowed: True, False, 'same-step', 'next-step', 'disabled' "
        "or a gymnasium AutoresetMode"
    )


def to_array(x: torch.Tensor, array: str) -> Any:
    """``x`` as the env's array type: itself for 'torch', a host numpy array for 'numpy'."""
    return x if array == "torch" else x.cpu().numpy()


def as_action_tensor(actions: Any, name: str) -> torch.Tensor:
    if isinstance(actions, torch.Tensor):
        return actions
    if isinstance(actions, (np.ndarray, list, tuple, float, int)):
        arr = np.asarray(actions)
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
        return torch.from_numpy(np.ascontiguousarray(arr))
    raise TypeError(f"{name} must be a torch tensor or numpy array, got {type(actions).__name__}")


def first_outside(a: torch.Tensor, lo: float, hi: float) -> tuple[int, ...] | None:
    """Index of the first NaN or out-of-[lo, hi] entry of ``a``, or None when all are valid."""
    ok = (a >= lo) & (a <= hi)  # NaN compares false
    if bool(ok.all()):
        return None
    return tuple(int(v) for v in (~ok).nonzero()[0])
