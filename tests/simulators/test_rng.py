import torch

from driftrec.simulators.rng import CounterRNG, mix32, seed_to_key, user_seeds


def _draws(seeds, t=0, episode=0):
    rng = CounterRNG.from_seeds(seeds)
    rng.episode += episode
    return rng.at(torch.full((len(seeds),), t, dtype=torch.int64))


def test_same_inputs_same_draws_and_streams_differ():
    a = _draws([1, 2, 3]).uniform(7, (5,))
    b = _draws([1, 2, 3]).uniform(7, (5,))
    assert torch.equal(a, b)
    assert not torch.equal(a, _draws([1, 2, 3]).uniform(8, (5,)))
    assert not torch.equal(a, _draws([1, 2, 3], t=1).uniform(7, (5,)))
    assert not torch.equal(a, _draws([1, 2, 3], episode=1).uniform(7, (5,)))


def test_a_users_draws_do_not_depend_on_the_batch():
    batch = _draws([11, 22, 33]).normal(3, (4, 6))
    alone = _draws([22]).normal(3, (4, 6))
    assert torch.equal(batch[1], alone[0])


def test_uniform_and_normal_moments():
    d = _draws(list(range(2000)))
    u = d.uniform(1, (100,))
    assert float(u.min()) > 0.0 and float(u.max()) < 1.0
    assert abs(float(u.mean()) - 0.5) < 0.005
    assert abs(float(u.var()) - 1 / 12) < 0.002
    z = d.normal(2, (100,))
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1.0) < 0.01
    # neighbouring elements and neighbouring users are uncorrelated
    assert abs(float(torch.corrcoef(torch.stack([z[:, 0], z[:, 1]]))[0, 1])) < 0.06
    assert abs(float(torch.corrcoef(torch.stack([z[:-1, 0], z[1:, 0]]))[0, 1])) < 0.06


def test_integers_cover_the_range_uniformly():
    x = _draws(list(range(5000))).integers(4, 7, (20,))
    counts = torch.bincount(x.flatten(), minlength=7).float()
    assert int(x.min()) == 0 and int(x.max()) == 6
    assert float((counts / counts.mean() - 1).abs().max()) < 0.05


def test_mix32_is_a_bijection_on_a_sample_and_stays_32_bit():
    x = torch.arange(0, 1 << 16, dtype=torch.int64) * 65537
    y = mix32(x)
    assert int(y.min()) >= 0 and int(y.max()) < 2**32
    assert y.unique().numel() == x.numel()


def test_user_seeds_are_distinct_across_batch_seeds():
    a, b = user_seeds(1, 1000), user_seeds(2, 1000)
    assert len(set(a)) == 1000 and not set(a) & set(b)
    assert user_seeds(1, 3) == a[:3]
    assert seed_to_key(torch.tensor([-5, 2**62])).min() >= 0


def test_prefetched_draws_are_the_draws_themselves():
    seeds = list(range(40))
    plain = _draws(seeds, t=3)
    requests = ((5, 6), (9, 2 * 14), (11, 4))
    fast = _draws(seeds, t=3).prefetch(requests)
    rows = torch.tensor([3, 17, 29])
    for d, p in ((plain, fast), (plain.take(rows), fast.take(rows))):
        assert torch.equal(d.bits(5, (2, 3)), p.bits(5, (2, 3)))
        assert torch.equal(d.uniform(5, (4,)), p.uniform(5, (4,)))  # fewer than prefetched
        assert torch.equal(d.uniform(5, (6,), torch.float64), p.uniform(5, (6,), torch.float64))
        assert torch.equal(d.normal(9, (2, 7)), p.normal(9, (2, 7)))
        assert torch.equal(d.integers(11, 1000, (4,)), p.integers(11, 1000, (4,)))
        assert torch.equal(d.fine_uniform(11, (2,)), p.fine_uniform(11, (2,)))
        assert torch.equal(d.uniform(11, (9,)), p.uniform(11, (9,)))  # more than prefetched: hashed
        assert torch.equal(d.uniform(12, (3,)), p.uniform(12, (3,)))  # not prefetched


def test_seeds_are_strict_and_never_alias():
    import pytest

    from driftrec.experiments.online.compare import CompareConfig, TuningConfig
    from driftrec.simulators.rng import check_seeds, shared_users

    with pytest.raises(ValueError, match=r"seed=-1 is negative"):
        user_seeds(-1, 2)
    with pytest.raises(ValueError, match=r"seeds\[0\]=9223372036854775808 is not allowed"):
        check_seeds("seeds", [2**63])
    # seeds below 2**32 map to distinct users one to one; larger ones can meet smaller ones
    a, b = 66963, 4294993244
    assert int(seed_to_key(torch.tensor(a))) == int(seed_to_key(torch.tensor(b)))
    assert shared_users([a], [b, 5]) == [(a, b)]
    with pytest.raises(ValueError, match=f"seeds {a} and {b} give the same users"):
        check_seeds("seeds", [a, b])
    with pytest.raises(ValueError, match=f"evaluation seed {b} gives the same users as tuning seed {a}"):
        CompareConfig(["abrupt"], ["fixed"], seeds=[b, 7], tuning=TuningConfig(seeds=[a]))


def test_hash_pairs_gives_mix32s_bits_on_every_path(monkeypatch):
    """The int64 path (small draws), the int32 path in one block and in several blocks all give
    ``mix32(mix32(prefix ^ const))`` and its uniforms, at the edges of the 32-bit range too."""
    from driftrec.simulators import rng

    edges = torch.tensor([0, 1, 2**31 - 1, 2**31, 2**32 - 1], dtype=torch.int64)
    prefix = torch.cat([edges, torch.randint(0, 2**32, (60,), generator=torch.Generator().manual_seed(0))])
    consts = torch.cat([edges, torch.randint(0, 2**32, (95,), generator=torch.Generator().manual_seed(1))])
    want = mix32(mix32(prefix[:, None] ^ consts[None, :]))
    want_u = ((want >> 8) | 1).to(torch.float64) * 2.0**-24
    for small, block in ((10**9, 1 << 16), (0, 1 << 16), (0, 700)):  # int64; int32 one block; int32 blocks
        monkeypatch.setattr(rng, "SMALL_HASH", small)
        monkeypatch.setattr(rng, "HASH_BLOCK", block)
        bits, unif = rng.hash_pairs(prefix, consts, uniforms=True)
        assert torch.equal(rng.as_bits(bits), want)
        assert unif.dtype == torch.float32 and torch.equal(unif.double(), want_u)
