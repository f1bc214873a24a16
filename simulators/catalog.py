"""Item catalogs: unit item vectors with their ids and texts."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from driftrec.encoders.base import TextEncoder
from driftrec.encoders.checks import check_int
from driftrec.encoders.hashing import HashingEncoder
from driftrec.simulators.geometry import DEFAULT_TRANSFORM, CatalogTransform, fit_transform

NEIGHBOUR_RANK = 10
NEIGHBOUR_SAMPLE = 500
NEIGHBOUR_COS = 0.4
"""Catalog utility units: cosines are scaled so that an item's typical 10th nearest neighbour has
similarity 0.4 (``UserParams.utility_units="catalog"``); the synthetic catalog's own value is 0.38."""


@dataclass(frozen=True)
class Catalog:
    """M items in a d-dimensional semantic space.

    Attributes:
        embeddings: (M, d) float tensor, unit rows (item vectors from a text encoder).
        ids: M unique item ids (strings).
        texts: M item texts the embeddings were computed from.
        meta: provenance (encoder name, source, seed, ...; ``meta["transform"]`` describes the
            transform), recorded in experiment outputs.
        raw: (M, D) the encoder's own vectors before the transform, or None when the embeddings
            are the raw vectors (no transform applied).
        transform: the ``CatalogTransform`` that maps raw vectors of the catalog's encoder (persona
            texts, user-supplied vectors) into this space; None: no transform.
        popularity: (M,) float64 counts >= 0 of how often real users took each item (MovieLens:
            ratings per movie; a catalog file's ``popularity`` column), or None where the source
            has none. Only the novelty metric reads it.

    ``load_catalog`` and ``synthetic_catalog`` build catalogs centred (``transform="centre"``, see
    ``simulators.geometry``); a Catalog constructed directly keeps the vectors as given.
    """

    embeddings: torch.Tensor
    ids: list[str]
    texts: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    raw: torch.Tensor | None = None
    transform: CatalogTransform | None = None
    popularity: torch.Tensor | None = None

    def __post_init__(self) -> None:
        e = self.embeddings
        if not isinstance(e, torch.Tensor) or e.ndim != 2:
            shape = tuple(e.shape) if isinstance(e, torch.Tensor) else type(e).__name__
            raise ValueError(f"catalog embeddings must be a 2-D tensor (M, d), got {shape}")
        m = e.shape[0]
        if m == 0 or e.shape[1] == 0:
            raise ValueError(f"catalog must have at least one item and one dimension, got shape {tuple(e.shape)}")
        if len(self.ids) != m or len(self.texts) != m:
            raise ValueError(
                f"catalog has {m} embeddings but {len(self.ids)} ids and {len(self.texts)} texts; they must match"
            )
        seen: set[str] = set()
        for item_id in self.ids:
            if item_id in seen:
                raise ValueError(f"catalog ids must be unique; {item_id!r} appears more than once")
            seen.add(item_id)
        finite = torch.isfinite(e).all(dim=1)
        if not bool(finite.all()):
            row = int((~finite).nonzero()[0])
            raise ValueError(f"catalog embedding row {row} (id {self.ids[row]!r}) contains NaN or inf")
        pop = self.popularity
        if pop is not None:
            if not isinstance(pop, torch.Tensor) or pop.shape != (m,):
                shape = tuple(pop.shape) if isinstance(pop, torch.Tensor) else type(pop).__name__
                raise ValueError(f"catalog popularity must be a tensor of shape ({m},), got {shape}")
            bad_pop = ~torch.isfinite(pop) | (pop < 0)
            if bool(bad_pop.any()):
                row = int(bad_pop.nonzero()[0])
                raise ValueError(
                    f"catalog popularity at row {row} (id {self.ids[row]!r}) is {float(pop[row])}; "
                    "popularity must be a finite count >= 0"
                )
        norms = e.norm(dim=1)
        bad = (norms - 1).abs() > 1e-3
        if bool(bad.any()):
            row = int(bad.nonzero()[0])
            raise ValueError(
                f"catalog embeddings must have unit rows; row {row} has norm {float(norms[row]):.4f} "
                "(normalise with torch.nn.functional.normalize(x, dim=1))"
            )

    @functools.cached_property
    def neighbour_cos(self) -> float:
        """The catalog's typical local similarity: the mean cosine between an item and its 10th
        nearest other item, over ``NEIGHBOUR_SAMPLE`` items chosen by a fixed seed (rounded to 4
        decimals; computed once, on CPU in float64, so every device gets the same number)."""
        e = self.embeddings.detach().cpu().double()
        m = e.shape[0]
        if m < 2:
            return NEIGHBOUR_COS
        rank = min(NEIGHBOUR_RANK, m - 1)
        idx = torch.randperm(m, generator=torch.Generator().manual_seed(0))[:NEIGHBOUR_SAMPLE]
        s = e[idx] @ e.T
        s[torch.arange(len(idx)), idx] = -math.inf
        return round(float(s.topk(rank, dim=1).values[:, -1].mean()), 4)

    @functools.cached_property
    def digest(self) -> str:
        """sha256 (16 hex digits) of the vectors as float32: equal digests, the same items in the
        same space (unit-store fingerprints, training records)."""
        data = self.embeddings.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        return hashlib.sha256(data).hexdigest()[:16]

    @property
    def num_items(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> Catalog:
        """A copy whose embeddings live on ``device`` with ``dtype``."""
        return dataclasses.replace(
            self, embeddings=self.embeddings.to(device=device, dtype=dtype), meta=dict(self.meta)
        )

    def transformed(self, spec: str | CatalogTransform = DEFAULT_TRANSFORM) -> Catalog:
        """This catalog in a catalog-relative space: ``spec`` ("centre", "pca:D", "none") is fitted
        on the raw vectors (``raw``, or the embeddings when there are none), or a fitted
        ``CatalogTransform`` is applied as it is. The raw vectors stay in ``raw``."""
        raw = self.raw if self.raw is not None else self.embeddings
        tf = spec if isinstance(spec, CatalogTransform) else fit_transform(raw.cpu(), spec)
        if tf.spec == "none":
            return dataclasses.replace(
                self, embeddings=raw, raw=None, transform=None, meta=self.meta | {"transform": "none"}
            )
        meta = self.meta | {"transform": tf.spec, "transform_fit": tf.describe()}
        return dataclasses.replace(self, embeddings=tf.apply(raw), raw=raw, transform=tf, meta=meta)

    def encode_vectors(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw vectors (..., D) of the catalog's encoder mapped into the catalog's space (unit rows)."""
        if self.transform is not None:
            return self.transform.apply(raw)
        if raw.shape[-1] != self.dim:
            raise ValueError(f"vectors of {raw.shape[-1]} dims do not fit the catalog's {self.dim}-dim space")
        return torch.nn.functional.normalize(raw.float(), dim=-1)

    @classmethod
    def from_texts(cls, ids: list[str], texts: list[str], encoder: TextEncoder, **meta: Any) -> Catalog:
        """Encode ``texts`` with ``encoder`` into a catalog."""
        emb = encoder.encode(list(texts)).float()
        return cls(emb, list(ids), list(texts), {"encoder": encoder.name, **meta})


_GENRES = [
    "action",
    "adventure",
    "animation",
    "comedy",
    "crime",
    "documentary",
    "drama",
    "fantasy",
    "horror",
    "musical",
    "mystery",
    "romance",
    "scifi",
    "thriller",
    "war",
    "western",
    "family",
    "biography",
    "sport",
    "history",
]
_THEMES = [
    "revenge",
    "friendship",
    "betrayal",
    "survival",
    "memory",
    "heist",
    "space",
    "robots",
    "dragons",
    "detectives",
    "spies",
    "pirates",
    "vampires",
    "aliens",
    "zombies",
    "music",
    "dance",
    "chess",
    "football",
    "boxing",
    "cooking",
    "travel",
    "ocean",
    "desert",
    "mountains",
    "city",
    "village",
    "kingdom",
    "empire",
    "prison",
    "school",
    "wedding",
    "family",
    "journey",
    "time",
    "dreams",
    "magic",
    "ghosts",
    "monsters",
    "courtroom",
    "politics",
    "war",
    "love",
    "loss",
]
_WORDS = [
    "silent",
    "golden",
    "broken",
    "hidden",
    "last",
    "first",
    "dark",
    "bright",
    "lost",
    "wild",
    "secret",
    "iron",
    "crimson",
    "frozen",
    "distant",
    "burning",
    "quiet",
    "endless",
    "northern",
    "midnight",
    "harbor",
    "river",
    "garden",
    "tower",
    "storm",
    "shadow",
    "empire",
    "road",
    "house",
    "star",
    "moon",
    "fire",
    "glass",
    "winter",
    "summer",
    "letter",
    "song",
    "crown",
    "mirror",
    "door",
]


def synthetic_catalog(
    num_items: int = 1000,
    dim: int = 64,
    seed: int = 0,
    encoder: TextEncoder | None = None,
    transform: str = DEFAULT_TRANSFORM,
    source: str = "synthetic",
) -> Catalog:
    """A synthetic movie-like catalog: generated texts encoded by a text encoder.

    Item text looks like "Hidden Harbor (1987), a crime thriller about heist and ocean";
    items that share genres and themes are close in the encoder's space. With no ``encoder`` the
    deterministic ``HashingEncoder(dim)`` is used, so this needs no model and no network. The
    same ``(num_items, dim, seed)`` gives the same catalog on every machine. ``transform``: see
    ``Catalog.transformed`` (default: centred). ``source``: the name in ``meta["source"]``
    ("synthetic" under the hashing encoder, "synthetic-lm" under a language model).

    Returns:
        Catalog with ``num_items`` items and ``encoder.dim`` dimensions.
    """
    check_int("num_items", num_items, 1)
    enc = encoder if encoder is not None else HashingEncoder(dim=dim)
    g = torch.Generator().manual_seed(int(seed))

    def pick(words: tuple[str, ...] | list[str], n: int) -> list[str]:
        idx = torch.randperm(len(words), generator=g)[:n].tolist()
        return [words[i] for i in idx]

    ids, texts = [], []
    for i in range(num_items):
        n_genres = 1 + int(torch.randint(0, 2, (1,), generator=g))
        year = 1950 + int(torch.randint(0, 70, (1,), generator=g))
        title = " ".join(w.capitalize() for w in pick(_WORDS, 2))
        genres = " ".join(pick(_GENRES, n_genres))
        themes = " and ".join(pick(_THEMES, 2))
        ids.append(f"item{i:06d}")
        texts.append(f"{title} ({year}), a {genres} film about {themes}")
    return Catalog.from_texts(ids, texts, enc, source=source, seed=int(seed)).transformed(transform)
