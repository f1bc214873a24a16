import pytest
import torch

from driftrec.encoders import HashingEncoder, TextEncoder
from driftrec.simulators import synthetic_catalog


def test_vectors_are_unit_deterministic_and_share_words():
    enc = HashingEncoder(dim=64)
    assert isinstance(enc, TextEncoder)
    v = enc.encode(["space aliens invade", "aliens in space", "a quiet cooking show"])
    assert v.shape == (3, 64) and v.dtype == torch.float32
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-6)
    assert torch.equal(
        v, HashingEncoder(dim=64).encode(["space aliens invade", "aliens in space", "a quiet cooking show"])
    )
    assert float(v[0] @ v[1]) > 0.5 > float(v[0] @ v[2])


@pytest.mark.parametrize(
    "texts, exc, match",
    [
        ("one string", TypeError, "single str"),
        ([1, "x"], TypeError, r"texts\[0\] must be a str, got int"),
        (["ok", "the of and"], ValueError, r"texts\[1\] has no word tokens"),
    ],
)
def test_bad_texts_raise_clear_errors(texts, exc, match):
    with pytest.raises(exc, match=match):
        HashingEncoder(16).encode(texts)


def test_synthetic_catalog_is_reproducible_and_topical():
    a, b = synthetic_catalog(300, 32, seed=1), synthetic_catalog(300, 32, seed=1)
    assert a.ids == b.ids and a.texts == b.texts and torch.equal(a.embeddings, b.embeddings)
    assert a.meta["encoder"] == "hashing-bow-d32-s0" and a.meta["source"] == "synthetic"
    # items that share a genre word are closer on average than items that do not
    has_scifi = torch.tensor(["scifi" in t for t in a.texts])
    sims = a.embeddings @ a.embeddings.T
    same = sims[has_scifi][:, has_scifi].mean()
    cross = sims[has_scifi][:, ~has_scifi].mean()
    assert float(same) > float(cross) + 0.05
