"""Counter-based random numbers: one seed, per-user streams, same draws on any batch size.

A draw is a pure function of ``(user key, episode, step, stream, element)``: 32-bit integer
hashing turned into floats. This is the batched analogue of one ``torch.Generator`` per user, with
two properties a shared generator cannot give:

* user ``i``'s draws do not depend on how many other users are simulated beside it, so a batched
  env over N users reproduces N single-user envs exactly (``user_seeds`` gives the matching seeds);
* integer hashing is exact, so CPU and CUDA draw the same bits.

Keys, prefixes and bits are int64 tensors with values in [0, 2**32) (multipliers below 2**31, so
int64 products never overflow). Per step, ``CounterRNG.at(t)`` hashes (key, episode, t) once per
user (the (key, episode) part once per generator); each draw then costs one mixing of that prefix
with a cached per-(stream, element) constant, and ``StepDraws.prefetch`` does that for several
streams at once. Those bulk hashes (``hash_pairs``) run on int32 bit patterns in cache-sized
blocks: the same bits as ``mix32`` at half the memory traffic.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from driftrec.encoders.checks import check_int

MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9
# odd multipliers below 2**31 (so x * c < 2**63 for x < 2**32)
_M1, _M2 = 0x7FEB352D, 0x5BD1E995


def mix32(x: torch.Tensor) -> torch.Tensor:
    """Bijective 32-bit mixer (xorshift-multiply). ``x``: int64 tensor with values in [0, 2**32)."""
    x = x ^ (x >> 16)  # a new tensor: the in-place steps below never touch the caller's
    x.mul_(_M1).bitwise_and_(MASK32)
    x.bitwise_xor_(x >> 15)
    x.mul_(_M2).bitwise_and_(MASK32)
    return x.bitwise_xor_(x >> 16)


def mix32_bits(x: torch.Tensor) -> torch.Tensor:
    """``mix32`` in place on int32 bit patterns (x's low 32 bits): the same bits, as int32.

    Two's-complement products keep the low 32 bits, which is all ``mix32`` keeps; an arithmetic
    shift masked to the bits a logical shift keeps is that logical shift."""
    x.bitwise_xor_((x >> 16).bitwise_and_(0xFFFF))
    x.mul_(_M1)
    x.bitwise_xor_((x >> 15).bitwise_and_(0x1FFFF))
    x.mul_(_M2)
    return x.bitwise_xor_((x >> 16).bitwise_and_(0xFFFF))


HASH_BLOCK = 1 << 16
"""Elements ``hash_pairs`` hashes at a time on CPU: its intermediates stay in the core's cache."""
SMALL_HASH = 4096
"""Below this many elements, ``hash_pairs`` hashes in int64 on CPU (fewer, cheaper calls at small sizes)."""


def hash_pairs(prefix: torch.Tensor, consts: torch.Tensor, uniforms: bool = False) -> tuple[torch.Tensor, ...]:
    """``mix32(mix32(prefix[:, None] ^ consts[None, :]))`` for prefix (N,) and consts (C,), int64
    in [0, 2**32): the bits (N, C) (int64 values, or int32 bit patterns for large or non-CPU
    draws; ``as_bits`` makes either int64) and, with ``uniforms``, their float32 uniforms in (0, 1)
    (the top 24 bits with the lowest one set, times 2**-24: odd multiples of 2**-24, exact).

    Large draws run on int32 bit patterns, on CPU a block of ``HASH_BLOCK`` elements at a time
    (eager; compiled in one pass): half the memory traffic and native 32-bit products. Every
    element's value is the same on every path."""
    n, c = prefix.shape[0], consts.shape[0]
    cpu = prefix.device.type == "cpu"
    if cpu and n * c < SMALL_HASH:
        x = mix32(mix32(prefix[:, None] ^ consts[None, :]))
        return (x, _uniforms(x)) if uniforms else (x,)
    p, k = prefix.to(torch.int32), consts.to(torch.int32)  # the low 32 bits
    # compiled, the hash is one fused loop already; blocks written in place into slices of one
    # buffer would chain slice updates that inductor inlines into each other (minutes per compile)
    blocked = cpu and not torch.compiler.is_compiling()
    rows = max(1, HASH_BLOCK // max(c, 1)) if blocked else max(n, 1)
    if n <= rows:  # one block: no output buffers to fill
        x = mix32_bits(mix32_bits(p[:, None] ^ k[None, :]))
        return (x, _uniforms(x)) if uniforms else (x,)
    bits = torch.empty(n, c, dtype=torch.int32, device=prefix.device)
    unif = torch.empty(n, c, dtype=torch.float32, device=prefix.device) if uniforms else None
    for lo in range(0, n, rows):
        x = mix32_bits(mix32_bits(torch.bitwise_xor(p[lo : lo + rows, None], k, out=bits[lo : lo + rows])))
        if unif is not None:
            _uniforms(x, out=unif[lo : lo + rows])
    return (bits, unif) if uniforms else (bits,)


def _uniforms(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``hash_pairs`` bits (either kind) -> their float32 uniforms; ``x`` is left as it is."""
    return torch.mul((x >> 8).bitwise_and_(0xFFFFFF).bitwise_or_(1), 2.0**-24, out=out)


def as_bits(x: torch.Tensor) -> torch.Tensor:
    """``hash_pairs`` bits (int64 values, or int32 bit patterns) as int64 values in [0, 2**32)."""
    return x if x.dtype == torch.int64 else x.to(torch.int64).bitwise_and_(MASK32)


def seed_to_key(seed: torch.Tensor) -> torch.Tensor:
    """Map int64 seeds (any value) to 32-bit user keys. Shape preserved."""
    lo = seed & MASK32
    hi = (seed >> 32) & MASK32
    return mix32(mix32(lo) ^ mix32(hi ^ _GOLDEN))


MAX_SEED = 2**63 - 1
"""Seeds in run configs are integers in [0, MAX_SEED]: each one its own users (no two values alias).
Env resets take any non-negative int (``seed_bits``), as Gymnasium's seeding does."""


def seed_bits(seed: object) -> int:
    """A non-negative int seed of any size as the int64 that ``seed_to_key`` hashes.

    Seeds below 2**63 are themselves (so every existing seed keeps its users); seeds in
    [2**63, 2**64) keep their 64 bits as a negative int64 (no two seeds below 2**64 alias); larger
    ones are folded to 64 bits by BLAKE2b. A bool, float, str or negative value is a clear error.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative integer, got {type(seed).__name__}: {seed!r}")
    s = int(seed)
    if s < 0:
        raise ValueError(f"seed={s} is negative; seeds are non-negative integers")
    if s >= 2**64:
        digest = hashlib.blake2b(s.to_bytes((s.bit_length() + 7) // 8, "little"), digest_size=8).digest()
        s = int.from_bytes(digest, "little")
    return s - 2**64 if s >= 2**63 else s


def seeds_to_keys(seeds: Sequence[object], device: torch.device | str = "cpu") -> torch.Tensor:
    """User keys (N,) of N seeds of any size (``seed_bits``, then ``seed_to_key``)."""
    return seed_to_key(torch.tensor([seed_bits(s) for s in seeds], dtype=torch.int64, device=device))


def check_seed(name: str, seed: object) -> int:
    """``seed`` if it is an int in [0, MAX_SEED] (not a bool, float or str), else a clear error."""
    return check_int(name, seed, 0, MAX_SEED)


def check_seeds(name: str, seeds: object, min_count: int = 1) -> list[int]:
    """``seeds`` as a list after checking that it is a list of at least ``min_count`` distinct
    seeds (``check_seed``) whose users are distinct too (distinct user keys)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple)):
        raise TypeError(f"{name} must be a list of integer seeds, got {type(seeds).__name__}: {seeds!r}")
    out = [check_seed(f"{name}[{i}]", s) for i, s in enumerate(seeds)]
    if len(out) < min_count:
        raise ValueError(f"{name} needs at least {min_count} seed(s), got {out}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct, got {out}")
    same = shared_users(out, out)
    if same:
        raise ValueError(f"{name}: seeds {same[0][0]} and {same[0][1]} give the same users; use other seeds")
    return out


def shared_users(a: list[int], b: list[int]) -> list[tuple[int, int]]:
    """Pairs (x, y), x in ``a``, y in ``b``, x != y, whose users coincide (the same 32-bit user key;
    ``seed_to_key``), so that a held-out check on the seeds alone would miss them."""
    ka = seeds_to_keys(a).tolist() if a else []
    kb = seeds_to_keys(b).tolist() if b else []
    where = {}
    for y, k in zip(b, kb, strict=True):
        where.setdefault(k, []).append(y)
    return [(x, y) for x, k in zip(a, ka, strict=True) for y in where.get(k, []) if y != x]


def user_seeds(seed: int, num_users: int) -> list[int]:
    """The per-user seeds that a batched env's ``reset(seed=seed)`` gives its ``num_users`` users.

    A single-user env reset with ``user_seeds(seed, n)[i]`` reproduces user ``i`` of the batch.
    Unlike ``seed + i``, the users of different batch seeds do not overlap.
    """
    check_int("num_users", num_users, 1)
    base = seeds_to_keys([seed])[0]
    i = torch.arange(num_users, dtype=torch.int64)
    return mix32(mix32(i ^ base) ^ _GOLDEN).tolist()


def mix32_int(x: int) -> int:
    """``mix32`` of one Python int in [0, 2**32)."""
    x ^= x >> 16
    x = (x * _M1) & MASK32
    x ^= x >> 15
    x = (x * _M2) & MASK32
    return x ^ (x >> 16)


def _element_hashes(stream: int, count: int, device: torch.device) -> torch.Tensor:
    """The per-element constants (count,) of ``stream``'s draws (cached; computed in the graph
    while ``torch.compile`` traces, which does not go through caches)."""
    if torch.compiler.is_compiling():
        return _element_hashes_of(stream, count, device)
    return _cached_element_hashes(stream, count, device)


def _element_hashes_of(stream: int, count: int, device: torch.device) -> torch.Tensor:
    idx = torch.arange(count, dtype=torch.int64, device=device)
    return mix32(idx ^ (mix32_int(stream & MASK32) ^ _GOLDEN))


_cached_element_hashes = lru_cache(maxsize=512)(_element_hashes_of)


def normal_uniforms(count: int) -> int:
    """Uniforms a ``StepDraws.normal`` draw of ``count`` values uses (Box-Muller pairs)."""
    return 2 * ((count + 1) // 2)


def _bank_hashes(
    requests: tuple[tuple[int, int], ...], device: torch.device
) -> tuple[torch.Tensor, dict[int, tuple[int, int]]]:
    """The element hashes of several (stream, count) draws side by side, and each stream's
    (offset, count) in them (cached, as ``_element_hashes``)."""
    if torch.compiler.is_compiling():
        return _bank_hashes_of(requests, device)
    return _cached_bank_hashes(requests, device)


def _bank_hashes_of(
    requests: tuple[tuple[int, int], ...], device: torch.device
) -> tuple[torch.Tensor, dict[int, tuple[int, int]]]:
    where, off = {}, 0
    for stream, count in requests:
        where[stream] = (off, count)
        off += count
    return torch.cat([_element_hashes(s, c, device) for s, c in requests]), where


_cached_bank_hashes = lru_cache(maxsize=64)(_bank_hashes_of)


class StepDraws:
    """Draws for one step of N users. Every method returns a tensor with N leading rows.

    ``prefetch`` hashes the draws a step will surely make in one batched call (the same bits as
    one call per stream): a step then costs a few tensor operations per draw instead of two
    dozen, which is what dominates at small N.
    """

    def __init__(
        self,
        prefix: torch.Tensor,
        bank: torch.Tensor | None = None,
        where: dict[int, tuple[int, int]] | None = None,
        ubank: torch.Tensor | None = None,
    ) -> None:
        self.prefix = prefix
        self._bank = bank  # (N, total) bits of the prefetched streams (see ``hash_pairs``)
        self._where = where or {}
        self._ubank = ubank  # the same as float32 uniforms (exact, see ``uniform``)

    def prefetch(self, requests: tuple[tuple[int, int], ...]) -> StepDraws:
        """These draws with the bits of ``requests`` ((stream, element count) pairs, distinct
        streams) computed at once. A later draw of such a stream with at most that many elements
        reads them; any other draw is hashed as usual. Values never change, only speed. Returns
        ``self`` when every request is banked already."""
        if all(s in self._where and c <= self._where[s][1] for s, c in requests):
            return self
        c, where = _bank_hashes(requests, self.prefix.device)
        bank, ubank = hash_pairs(self.prefix, c, uniforms=True)
        return StepDraws(self.prefix, bank, where, ubank)

    def take(self, rows: torch.Tensor) -> StepDraws:
        """The draws of users ``rows`` only: the same values they get in the full batch."""
        if self._bank is None:
            return StepDraws(self.prefix[rows])
        return StepDraws(self.prefix[rows], self._bank[rows], self._where, self._ubank[rows])  # type: ignore[index]

    def _banked(self, bank: torch.Tensor | None, stream: int, shape: tuple[int, ...]) -> torch.Tensor | None:
        """``stream``'s first prod(shape) prefetched values from ``bank`` (bits or uniforms) as
        (N, *shape), or None when the stream was not prefetched with that many."""
        hit = self._where.get(stream)
        count = math.prod(shape)
        if bank is None or hit is None or count > hit[1]:
            return None
        return bank[:, hit[0] : hit[0] + count].reshape((self.prefix.shape[0], *shape))

    def bits(self, stream: int, shape: tuple[int, ...] = ()) -> torch.Tensor:
        """Uniform 32-bit integers in int64, shape (N, *shape)."""
        banked = self._banked(self._bank, stream, shape)
        if banked is not None:
            return as_bits(banked)
        c = _element_hashes(stream, math.prod(shape), self.prefix.device)
        return as_bits(hash_pairs(self.prefix, c)[0]).reshape((self.prefix.shape[0], *shape))

    def uniform(self, stream: int, shape: tuple[int, ...] = (), dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Uniform floats in the open interval (0, 1): odd multiples of 2**-24, exact in float32
        (so a float64 draw holds the same values)."""
        banked = self._banked(self._ubank, stream, shape)
        if banked is None:
            c = _element_hashes(stream, math.prod(shape), self.prefix.device)
            banked = hash_pairs(self.prefix, c, uniforms=True)[1].reshape((self.prefix.shape[0], *shape))
        return banked.to(dtype)

    def normal(self, stream: int, shape: tuple[int, ...] = (), dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Standard normal draws (Box-Muller, both outputs of each pair used), shape (N, *shape), in a
        new tensor (callers may update it in place)."""
        count, half = math.prod(shape), normal_uniforms(math.prod(shape)) // 2
        u = self.uniform(stream, (2, half), torch.float32)
        r = torch.log(u[:, 0]).mul_(-2.0).sqrt_()
        theta = u[:, 1] * (2.0 * math.pi)
        if torch.compiler.is_compiling():  # no out= into views in a graph (the same values)
            z = torch.cat([r * torch.cos(theta), r * torch.sin(theta)], 1)
        else:
            z = torch.empty(u.shape[0], 2 * half, dtype=torch.float32, device=u.device)
            torch.mul(r, torch.cos(theta), out=z[:, :half])
            torch.mul(r, torch.sin(theta), out=z[:, half:])
        return z[:, :count].reshape((self.prefix.shape[0], *shape)).to(dtype)

    def fine_uniform(self, stream: int, shape: tuple[int, ...] = ()) -> torch.Tensor:
        """Uniform float64 in (0, 1) with 48 random bits (odd multiples of 2**-49), for inverse-CDF
        choices among many small probabilities (24 bits would never pick an item below 2**-24)."""
        b = self.bits(stream, (*shape, 2))
        hi, lo = (b[..., 0] >> 8).to(torch.float64), (b[..., 1] >> 8).to(torch.float64)
        return (hi * 2.0**24 + lo + 0.5) * 2.0**-48

    def integers(self, stream: int, high: int, shape: tuple[int, ...] = ()) -> torch.Tensor:
        """Integers uniform in [0, high) (high < 2**24 is exact; larger is near-uniform)."""
        u = self.uniform(stream, shape, torch.float64)
        return torch.clamp((u * high).to(torch.int64), max=high - 1)


class CounterRNG:
    """Per-user counter-based generator.

    ``keys``: (N,) int64 user keys (from ``seed_to_key``); ``episode``: (N,) int64 episode counters.
    ``at(t)`` gives the draws of step ``t`` (N,); draws of different (episode, t, stream) are
    independent. ``keys`` and ``episode`` must not be changed in place after the first ``at``
    (their hash is kept).
    """

    def __init__(self, keys: torch.Tensor, episode: torch.Tensor | None = None) -> None:
        self.keys = keys.to(torch.int64)
        self.episode = torch.zeros_like(self.keys) if episode is None else episode.to(torch.int64)
        self._base: torch.Tensor | None = None

    @classmethod
    def from_seeds(cls, seeds: list[int] | torch.Tensor, device: torch.device | str = "cpu") -> CounterRNG:
        s = torch.as_tensor(seeds, dtype=torch.int64, device=device).reshape(-1)
        return cls(seed_to_key(s))

    def at(self, t: torch.Tensor) -> StepDraws:
        if self._base is None:  # the (key, episode) hash, shared by every step of the episode
            self._base = mix32(self.keys ^ mix32(self.episode & MASK32))
        return StepDraws(mix32(self._base ^ mix32(t.to(torch.int64) & MASK32)))
