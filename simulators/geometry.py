"""Catalog-relative geometry: the transform every vector of a catalog's space goes through.

Text encoders are anisotropic: all-MiniLM-L6-v2's movie vectors share a common direction (their
mean has norm 0.66, two random movies have cosine 0.44), while the hashing encoder's are near
orthogonal. A click threshold on raw cosines therefore means different things per encoder. A
``CatalogTransform`` is fitted on a catalog's raw item vectors when the catalog is built and maps
any raw vector ``x`` (D,) of that encoder to the catalog's working space (d,):

    centre:   y = normalize(normalize(x) - mu)            mu: (D,) mean of the raw item vectors
    pca:D':   y = normalize(P^T (normalize(x) - mu))      P: (D, D') top principal directions

``none`` keeps the raw vectors. Items, persona and history anchors and user-supplied vectors all
go through the same transform (``apply``), so they share one space; organic queries and new
topics are drawn in that space. The spec string (``"centre"``, ``"pca:64"``, ``"none"``) and a
description of the fit are recorded in the catalog's metadata and every run's config.json.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F

TRANSFORMS = ("centre", "none", "pca:D")
"""Transform specs: centre (the default), none (raw vectors), pca:D (centre, then D principal dims)."""
DEFAULT_TRANSFORM = "centre"


def parse_transform(spec: str) -> tuple[bool, int | None]:
    """(centre, pca_dim) of a spec string; raises ValueError naming the spec and the allowed ones."""
    if not isinstance(spec, str):
        raise TypeError(f"transform must be a string ({', '.join(TRANSFORMS)}), got {type(spec).__name__}")
    s = spec.strip().lower()
    if s in ("centre", "center"):
        return True, None
    if s == "none":
        return False, None
    m = re.fullmatch(r"pca:(\d+)", s)
    if m and int(m.group(1)) >= 1:
        return True, int(m.group(1))
    raise ValueError(f"transform {spec!r} is unknown; allowed: centre, none, pca:D with D a positive integer (pca:64)")


@dataclass(frozen=True)
class CatalogTransform:
    """A fitted transform from an encoder's raw space (D dims) to a catalog's space (d dims).

    Attributes:
        spec: "centre", "none" or "pca:D".
        mean: (D,) float32, subtracted after normalising (zeros for "none").
        components: (D, d) float32 orthonormal principal directions, or None (d = D).
        explained: share of the centred variance the kept directions carry (1.0 without pca).
    """

    spec: str
    mean: torch.Tensor
    components: torch.Tensor | None = None
    explained: float = 1.0

    @property
    def raw_dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def dim(self) -> int:
        return self.raw_dim if self.components is None else int(self.components.shape[1])

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Map raw vectors (..., D) of the catalog's encoder to unit vectors (..., d) of its space."""
        if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[-1] != self.raw_dim:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"the catalog's transform {self.spec!r} maps {self.raw_dim}-dim vectors of its encoder; "
                f"got shape {got} (encode with the catalog's own encoder)"
            )
        y = F.normalize(x.float(), dim=-1) - self.mean.to(x.device)
        if self.components is not None:
            y = y @ self.components.to(x.device)
        out = F.normalize(y, dim=-1)
        if not bool((y.norm(dim=-1) > 1e-6).all()):
            raise ValueError(
                f"a vector lies at the catalog's mean direction, so transform {self.spec!r} leaves it no direction"
            )
        return out

    def describe(self) -> dict[str, object]:
        """What the metadata records: spec, dimensions, the mean's norm, explained variance, digest."""
        h = hashlib.sha256(self.mean.numpy().tobytes())
        if self.components is not None:
            h.update(self.components.numpy().tobytes())
        return {
            "spec": self.spec,
            "raw_dim": self.raw_dim,
            "dim": self.dim,
            "mean_norm": round(float(self.mean.norm()), 4),
            "explained_variance": round(self.explained, 4),
            "digest": h.hexdigest()[:16],
        }


def fit_transform(raw: torch.Tensor, spec: str = DEFAULT_TRANSFORM) -> CatalogTransform:
    """Fit ``spec`` on raw item vectors (M, D) (normalised here). PCA keeps the top directions of
    the centred vectors (SVD, signs fixed so the largest entry of each direction is positive)."""
    centre, pca_dim = parse_transform(spec)
    if not isinstance(raw, torch.Tensor) or raw.ndim != 2 or raw.shape[0] == 0:
        got = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
        raise ValueError(f"a transform is fitted on item vectors of shape (M, D), got {got}")
    m, d = raw.shape
    x = F.normalize(raw.double(), dim=1)
    if not centre:
        return CatalogTransform("none", torch.zeros(d))
    mu = x.mean(0)
    if pca_dim is None:
        return CatalogTransform("centre", mu.float())
    if pca_dim > d:
        raise ValueError(
            f"transform pca:{pca_dim} asks for more dimensions than the catalog's {d}; use pca:D with D <= {d}"
        )
    if pca_dim > m - 1:
        raise ValueError(
            f"transform pca:{pca_dim} needs more than {pca_dim} items; the catalog has {m} (use D <= {m - 1})"
        )
    _, s, vh = torch.linalg.svd(x - mu, full_matrices=False)
    comps = vh[:pca_dim].T  # (D, d')
    sign = torch.sign(comps.gather(0, comps.abs().argmax(0, keepdim=True)))
    comps = comps * sign
    explained = float((s[:pca_dim] ** 2).sum() / (s**2).sum())
    return CatalogTransform(f"pca:{pca_dim}", mu.float(), comps.float().contiguous(), explained)


def neighbour_overlap(a: torch.Tensor, b: torch.Tensor, k: int = 10, sample: int = 1000, seed: int = 0) -> float:
    """Mean share of each item's top-``k`` neighbours (itself excluded) under vectors ``a`` (M, d)
    that are also its top-``k`` under ``b`` (M, d'), over ``sample`` random items: the fidelity
    of a reduced space ``b`` to the full one ``a``."""
    m = a.shape[0]
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(m, generator=g)[: min(sample, m)]

    def top(v: torch.Tensor) -> torch.Tensor:
        s = v[idx] @ v.T
        s[torch.arange(len(idx)), idx] = -float("inf")
        return s.topk(k, dim=1).indices

    ta, tb = top(a.float()), top(b.float())
    hits = (ta.unsqueeze(2) == tb.unsqueeze(1)).any(2).float().sum(1)
    return float(hits.mean() / k)
