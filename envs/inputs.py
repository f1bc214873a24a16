"""What a ``DriftVecEnv`` accepts and returns: action modes, array kinds, autoreset modes, scenario
overrides, actions checked and as tensors (``weights_action``, ``slate_action``: one-line errors that
name the first bad entry), and outputs as the env's array type (``to_array``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from driftrec.simulators.scenarios import override_keys
from driftrec.simulators.state import WEIGHT_NAMES

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
    """``x`` as the env's array type: a tensor for 'torch', a host numpy array for 'numpy'.

    The env steps under ``torch.inference_mode``, so its tensors are inference tensors; a 'torch'
    output is a copy that is an ordinary tensor (usable with autograd, updatable in place)."""
    if array == "torch":
        return x.clone() if x.is_inference() else x
    return x.cpu().numpy()


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


def weights_action(actions: Any, n: int, device: torch.device) -> torch.Tensor:
    """A weights-mode action for ``n`` users ((n, 3) or (3,), in [0, 1]) as (n, 3) float32 on ``device``."""
    a = as_action_tensor(actions, "weights action")
    if a.dtype == torch.bool or not (a.is_floating_point() or a.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"weights action must be floating point, got dtype {a.dtype}")
    if tuple(a.shape) == (3,):
        a = a.unsqueeze(0).expand(n, 3)
    if tuple(a.shape) != (n, 3):
        raise ValueError(
            f"weights action has shape {tuple(a.shape)}; expected ({n}, 3) or (3,) with columns "
            f"{', '.join(WEIGHT_NAMES)} in [0, 1]"
        )
    a = a.to(device, torch.float32)
    where = first_outside(a, 0.0, 1.0)
    if where is not None:
        row, col = where
        raise ValueError(
            f"{WEIGHT_NAMES[col]}={float(a[row, col])!r} for user {row} is outside the allowed range [0, 1]"
        )
    return a


def slate_action(actions: Any, n: int, k: int, m: int, device: torch.device) -> torch.Tensor:
    """A slate-mode action ((n, k) distinct item indices in [0, m)) as int64 on ``device``."""
    a = as_action_tensor(actions, "slate action")
    if a.is_floating_point() or a.dtype == torch.bool:
        raise TypeError(f"slate action must hold integer item indices, got dtype {a.dtype}")
    if tuple(a.shape) != (n, k):
        raise ValueError(f"slate action has shape {tuple(a.shape)}; expected ({n}, {k}) item indices in [0, {m})")
    a = a.to(device, torch.int64)
    out = (a < 0) | (a >= m)
    if bool(out.any()):
        row, col = (int(v) for v in out.nonzero()[0])
        raise ValueError(f"item index {int(a[row, col])} for user {row} is outside the allowed range [0, {m})")
    srt = torch.sort(a, dim=1).values
    dup = srt[:, 1:] == srt[:, :-1]
    if bool(dup.any()):
        row, col = (int(v) for v in dup.nonzero()[0])
        raise ValueError(f"slate for user {row} repeats item {int(srt[row, col])}; a slate must not repeat items")
    return a
