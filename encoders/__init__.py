"""Text encoders: texts -> unit vectors in a shared semantic space."""

from driftrec.encoders.base import TextEncoder
from driftrec.encoders.hashing import HashingEncoder

__all__ = ["HashingEncoder", "TextEncoder"]
