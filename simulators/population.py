"""LLM-derived user populations: where users' interests and the recommender's priors start.

Without a population, a new user's facets are drawn near random catalog items and the
recommender's prior is a noisy copy of the user's intent. With one, each new user is drawn from
its P members (uniformly, from the user's own random stream): the user's facets are drawn near
that member's anchor vectors and the recommender starts from the member's prior vector. Members
come from persona texts encoded by the catalog's language model ("a viewer who loves 1990s sci-fi
thrillers") or from real users' early histories (the items they rated first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from driftrec.encoders.base import TextEncoder
from driftrec.encoders.checks import check_int
from driftrec.simulators.catalog import Catalog


@dataclass(frozen=True)
class Population:
    """P population members in a d-dimensional semantic space.

    Attributes:
        anchors: (P, A, d) float, unit rows where valid; member p's valid anchors are the first
            ``counts[p]`` rows (the rest is zero padding).
        counts: (P,) int64 in [1, A], number of anchors per member.
        prior: (P, d) float, unit rows: the recommender's initial profile for the member's users
            (the normalised mean of the member's anchors).
        names: P labels (persona texts or real user ids).
        meta: provenance (encoder, source), recorded in experiment outputs.
    """

    anchors: torch.Tensor
    counts: torch.Tensor
    prior: torch.Tensor
    names: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        a, c = self.anchors, self.counts
        if not isinstance(a, torch.Tensor) or a.ndim != 3 or a.shape[0] == 0 or a.shape[1] == 0:
            shape = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
            raise ValueError(f"population anchors must be a (P, A, d) tensor with P, A >= 1, got {shape}")
        p = a.shape[0]
        if tuple(c.shape) != (p,) or tuple(self.prior.shape) != (p, a.shape[2]) or len(self.names) != p:
            raise ValueError(
                f"population has {p} members but counts {tuple(c.shape)}, prior {tuple(self.prior.shape)} "
                f"and {len(self.names)} names"
            )
        if bool((c < 1).any()) or bool((c > a.shape[1]).any()):
            raise ValueError(f"population counts must lie in [1, {a.shape[1]}], got {c.tolist()[:10]}")
        if not bool(torch.isfinite(a).all()) or not bool(torch.isfinite(self.prior).all()):
            raise ValueError("population vectors contain NaN or inf")

    @property
    def num_members(self) -> int:
        return int(self.anchors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.anchors.shape[2])

    def to(self, device: torch.device | str) -> Population:
        """A float32 copy on ``device``."""
        f32 = torch.float32
        return Population(
            self.anchors.to(device, f32), self.counts.to(device), self.prior.to(device, f32), self.names, self.meta
        )

    @classmethod
    def from_vectors(cls, groups: Sequence[torch.Tensor], names: Sequence[str], **meta: Any) -> Population:
        """One member per (A_p, d) tensor of anchor vectors (normalised here)."""
        if len(groups) == 0:
            raise ValueError("a population needs at least one member")
        if len(names) != len(groups):
            raise ValueError(f"{len(groups)} members but {len(names)} names")
        width = max(int(g.shape[0]) for g in groups)
        d = int(groups[0].shape[-1])
        anchors = torch.zeros(len(groups), width, d)
        for i, g in enumerate(groups):
            if g.ndim != 2 or g.shape[0] == 0 or g.shape[1] != d:
                raise ValueError(f"member {i} ({names[i]!r}) has anchors of shape {tuple(g.shape)}; expected (A, {d})")
            anchors[i, : g.shape[0]] = F.normalize(g.float(), dim=-1)
        counts = torch.tensor([int(g.shape[0]) for g in groups], dtype=torch.int64)
        prior = F.normalize(anchors.sum(1), dim=-1)
        return cls(anchors, counts, prior, [str(n) for n in names], dict(meta))

    @classmethod
    def from_personas(
        cls, personas: Sequence[str | Sequence[str]], encoder: TextEncoder, catalog: Catalog | None = None
    ) -> Population:
        """Members from persona texts; a persona given as several texts gets one anchor per text
        (one interest facet each), e.g. ``["loves 1990s sci-fi thrillers", "watches cooking shows"]``.
        With ``catalog``, the vectors go through its transform into its space (always pass the
        catalog the population is for: a centred catalog's space is not the encoder's raw one)."""
        if isinstance(personas, str) or len(personas) == 0:
            raise ValueError("personas must be a non-empty list of texts (or of lists of texts)")
        parts = [[p] if isinstance(p, str) else list(p) for p in personas]
        flat = [t for group in parts for t in group]
        for i, group in enumerate(parts):
            if not group or any(not isinstance(t, str) or not t.strip() for t in group):
                raise ValueError(f"persona {i} must be a non-empty text or a list of them, got {personas[i]!r}")
        vecs = encoder.encode(flat).float()
        if catalog is not None:
            vecs = catalog.encode_vectors(vecs)
        groups, start = [], 0
        for group in parts:
            groups.append(vecs[start : start + len(group)])
            start += len(group)
        names = [" | ".join(g) for g in parts]
        space = catalog.meta.get("transform", "none") if catalog is not None else "none"
        return cls.from_vectors(groups, names, source="personas", encoder=encoder.name, transform=space)

    @classmethod
    def from_histories(cls, catalog: Catalog, histories: Mapping[Any, Sequence[str]], first_n: int = 10) -> Population:
        """Members from real users' early histories: the catalog vectors of each user's first
        ``first_n`` items (ids in ``catalog.ids``; unknown ids are skipped, users left with none
        are dropped). The prior is their normalised mean."""
        check_int("first_n", first_n, 1)
        row = {item_id: i for i, item_id in enumerate(catalog.ids)}
        groups, names = [], []
        for user, items in histories.items():
            idx = [row[str(i)] for i in items if str(i) in row][:first_n]
            if idx:
                groups.append(catalog.embeddings[torch.tensor(idx)].cpu())
                names.append(str(user))
        if not groups:
            raise ValueError("no history has an item of the catalog; check that the ids match the catalog's ids")
        return cls.from_vectors(groups, names, source="histories", first_n=first_n, encoder=catalog.meta.get("encoder"))
