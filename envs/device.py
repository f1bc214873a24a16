"""Where an env's tensors live: the device from a name, and the memory check before allocating."""

from __future__ import annotations

import os

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' -> cuda when available, else cpu; anything else must be a valid, present device."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N' or 'auto'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here; use 'cpu' or 'auto'")
    return dev


def available_memory(device: torch.device) -> int | None:
    """Bytes free for new tensors on ``device``: CUDA's free memory, or the OS's MemAvailable;
    None where it cannot be read."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def check_memory(num_users: int, num_items: int, dim: int, device: torch.device, score_chunk: int = 65536) -> None:
    """Refuse, before allocating, a size whose smallest working set cannot fit on ``device``.

    The estimate is a lower bound in float32 bytes: the catalog (M, d) three times over (its raw,
    centred and transformed copies), four (N, min(M, score_chunk)) score blocks per step, and about
    32 (N, d) state tensors. ``num_users`` 0 checks the catalog alone (before generating it).
    """
    need = 4 * (3 * num_items * dim + 4 * num_users * min(num_items, score_chunk) + 32 * num_users * dim)
    free = available_memory(device)
    if free is None or need <= free:
        return
    if num_users == 0:
        what, advice = f"a catalog of {num_items:,} items x {dim} dims needs", "use fewer items"
    else:
        what = f"{num_users:,} users x {num_items:,} items ({dim} dims) need"
        advice = "use fewer users or a smaller catalog"
    raise MemoryError(f"{what} at least {_size(need)} of memory, more than the {_size(free)} available; {advice}")
