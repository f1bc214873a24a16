"""Text encoders: texts -> unit vectors in a shared semantic space."""

from driftrec.encoders.base import TextEncoder
from driftrec.encoders.cache import EmbeddingCache, default_cache_dir
from driftrec.encoders.hashing import HashingEncoder
from driftrec.encoders.transformer import DEFAULT_MODEL, ModelUnavailableError, TransformerEncoder, model_available

__all__ = [
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "HashingEncoder",
    "ModelUnavailableError",
    "TextEncoder",
    "TransformerEncoder",
    "default_cache_dir",
    "model_available",
]
