"""A deterministic hashing text encoder: fast, no model, no network.

Each lower-cased word token (less a short stopword list) is hashed (BLAKE2b) to a seed that
draws a fixed Gaussian vector; a text's vector is the sum of its tokens' vectors, L2-normalised.
Texts that share words get positive cosine similarity, so topic structure in the text survives. It is a stand-in for a
language model (tests, machines without the model), not a substitute for one: it knows nothing
of synonyms. The vectors depend only on ``(dim, seed, text)``, on every machine.
"""

from __future__ import annotations

import hashlib
import re

import torch

from driftrec.encoders.base import check_texts
from driftrec.encoders.checks import check_int

_TOKEN = re.compile(r"[a-z0-9]+")
# Function words carry no topic; left in, they would make every pair of texts look alike.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "about",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "by",
        "from",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "it",
        "its",
        "this",
        "that",
        "as",
        "film",
        "movie",
    ]
)


class HashingEncoder:
    """Bag-of-words random-projection encoder.

    Args:
        dim: output dimension d (positive).
        seed: changes every token's vector; the same seed gives the same vectors everywhere.
    """

    def __init__(self, dim: int = 64, seed: int = 0) -> None:
        check_int("dim", dim, 1)
        self.dim = dim
        self.seed = int(seed)
        self.name = f"hashing-bow-d{dim}-s{self.seed}"
        self._cache: dict[str, torch.Tensor] = {}

    def _token_vector(self, token: str) -> torch.Tensor:
        vec = self._cache.get(token)
        if vec is None:
            digest = hashlib.blake2b(f"{self.seed}:{token}".encode(), digest_size=8).digest()
            g = torch.Generator().manual_seed(int.from_bytes(digest, "little") & 0x7FFFFFFFFFFFFFFF)
            vec = torch.randn(self.dim, generator=g)
            self._cache[token] = vec
        return vec

    def encode(self, texts: list[str]) -> torch.Tensor:
        """Encode texts to an (n, dim) float32 tensor with unit rows.

        A text with no word characters is an error: it has no direction.
        """
        items = check_texts(texts)
        out = torch.empty(len(items), self.dim)
        for i, text in enumerate(items):
            tokens = [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]
            if not tokens:
                raise ValueError(f"texts[{i}] has no word tokens to encode: {text!r}")
            out[i] = torch.stack([self._token_vector(t) for t in tokens]).sum(0)
        return torch.nn.functional.normalize(out, dim=1)
