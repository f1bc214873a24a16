"""RandomSlate: k distinct items uniformly at random (the floor every recommender must beat)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from driftrec.envs.batched import DriftVecEnv


def distinct_items(n: int, m: int, k: int, gen: torch.Generator, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """(n, k) int64: per row, k distinct items drawn uniformly from range(m), none of them in that
    row of ``exclude`` (n, j) int64.

    Rows of k independent uniform draws are redrawn until they hold no repeat and nothing
    excluded: rejection, so each row is uniform over the allowed ordered k-tuples, at O(n k) per
    step instead of ranking m random keys per row. Small catalogs, where redraws would be common,
    rank random keys instead.
    """
    j = 0 if exclude is None else exclude.shape[1]
    if m - j < k:
        raise ValueError(f"cannot draw {k} distinct items from {m} with {j} excluded per row")
    device = gen.device
    if m < 16 * (k + j) ** 2:  # a draw is rejected with probability about (k + j)^2 / (2 m)
        keys = torch.rand(n, m, generator=gen, device=device)
        if exclude is not None:
            keys.scatter_(1, exclude, -1.0)
        return torch.topk(keys, k, dim=1).indices
    out = torch.randint(m, (n, k), generator=gen, device=device)
    rows = torch.arange(n, device=device)
    while rows.numel():
        draw = out[rows]
        srt = torch.sort(draw, dim=1).values
        bad = (srt[:, 1:] == srt[:, :-1]).any(1)
        if exclude is not None:
            bad |= (draw.unsqueeze(2) == exclude[rows].unsqueeze(1)).any(2).any(1)
        rows = rows[bad]
        out[rows] = torch.randint(m, (rows.numel(), k), generator=gen, device=device)
    return out


class RandomSlate:
    """Uniformly random slates of distinct items, from the agent's own seeded ``torch.Generator``."""

    action_mode: ClassVar[str] = "slate"
    needs_hidden: ClassVar[bool] = False

    def __init__(self, name: str = "random") -> None:
        self.name = name
        self._gen: torch.Generator | None = None

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        self._env = env
        self._gen = torch.Generator(device=env.device).manual_seed(int(seed))
        self._keys = torch.empty(env.num_users, env.num_items, device=env.device)  # reused every step

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        if self._gen is None:
            raise RuntimeError("call reset(env, seed) before act()")
        # ranks M random keys per user; distinct_items would be faster on large catalogs but draws other
        # slates, and every published random-slate number comes from these draws
        torch.rand(self._keys.shape, generator=self._gen, device=self._keys.device, out=self._keys)
        return torch.topk(self._keys, self._env.slate_size, dim=1).indices
