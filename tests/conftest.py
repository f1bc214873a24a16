"""Shared fixtures: small catalogs so tests run in seconds on 2 CPU cores."""

from __future__ import annotations

import pytest
import torch

from driftrec.envs import default_catalog
from driftrec.simulators import Catalog


@pytest.fixture(scope="session")
def small_catalog() -> Catalog:
    """200 synthetic items in 32 dimensions (hashing encoder)."""
    return default_catalog(200, 32)


def cuda_or_skip() -> torch.device:
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    return torch.device("cuda")
