"""Config pieces that several commands share: the items and users a run is on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class CatalogSettings:
    """Where a run's items and users come from, and where its tensors live: the fields that
    ``SimulateConfig``, ``TrainConfig``, ``LogConfig`` and ``CompareConfig`` share (keyword-only,
    after each config's own fields). The defaults are for library use: the command line defaults
    ``device`` to auto, and ``simulate`` the catalog to movielens."""

    catalog: str = "synthetic"
    """items: 'movielens' (9,061 movies encoded by all-MiniLM-L6-v2, cached after the first run),
    'courses' (3,649 university courses, same encoder), 'synthetic' (generated texts, hashing
    encoder, --items and --dim), 'synthetic-lm' (the same texts under all-MiniLM-L6-v2, --items), or
    a CSV/parquet file with 'id' and 'text' columns"""
    population: str = "auto"
    """where users' interests and the recommender's priors start: 'movielens' (real users' first 10
    rated movies), 'items' (near random items), a persona file (one persona per line, facets
    separated by ';'), or 'auto' (movielens on the MovieLens catalog, else items)"""
    transform: str = "centre"
    """the catalog's space: 'centre' (the encoder's common direction removed, so presets mean the
    same on any encoder), 'pca:D' (centred, then its D principal directions: faster), or 'none'
    (raw vectors, the model before version 2)"""
    items: int = 1000
    """items in the synthetic catalog, M"""
    dim: int = 64
    """embedding dimension of the synthetic catalog"""
    device: str = "cpu"
    """cpu, cuda, cuda:N or auto (cuda when available)"""


@dataclass(frozen=True, kw_only=True)
class EngineSettings:
    """How a run's env steps: the field that ``SimulateConfig`` and ``TrainConfig`` add."""

    engine: str = "eager"
    """'eager' or 'compiled': weights-mode steps under torch.compile, the same numbers bit for bit,
    faster per step after a 20-70 s compile (CPU only; see docs/benchmarks.md)"""
