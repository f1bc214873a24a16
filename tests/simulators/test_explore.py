import torch

from driftrec.simulators.dynamics import Stream
from driftrec.simulators.explore import stratum_shares
from driftrec.simulators.recommender import (
    TAIL_BLOCKS,
    SlateCache,
    explore,
    tail_block,
    tail_blocks_for,
    top_k,
)
from driftrec.simulators.rng import CounterRNG


def _draws(n, t=0):
    return CounterRNG.from_seeds(list(range(n))).at(torch.full((n,), t, dtype=torch.int64))


def test_explored_slates_never_repeat_and_avoid_greedy_items():
    n, m, k = 5000, 40, 6
    g = torch.Generator().manual_seed(0)
    greedy = torch.stack([torch.randperm(m, generator=g)[:k] for _ in range(n)])
    items, explored, pscore = explore(greedy, torch.full((n,), 0.7), m, _draws(n))
    srt = torch.sort(items, 1).values
    assert not bool((srt[:, 1:] == srt[:, :-1]).any())
    replaced = items[explored]
    assert not bool((items[:, :, None] == greedy[:, None, :])[explored].any())
    assert torch.equal(items[~explored], greedy[~explored])
    assert abs(float(explored.float().mean()) - 0.7) < 0.02
    assert torch.allclose(pscore[explored], torch.tensor(0.7 / (m - k)))
    assert torch.allclose(pscore[~explored], torch.tensor(0.3))
    # explored items are uniform over the non-greedy ones: rank each among the user's free items
    free_rank = replaced - (greedy[explored.nonzero()[:, 0]] < replaced[:, None]).sum(1)
    counts = torch.bincount(free_rank, minlength=m - k).float()
    assert counts.numel() == m - k
    assert float((counts / counts.mean() - 1).abs().max()) < 0.25


def test_no_exploration_keeps_the_greedy_slate():
    greedy = torch.tensor([[3, 1, 2]])
    items, explored, pscore = explore(greedy, torch.zeros(1), 10, _draws(1))
    assert torch.equal(items, greedy) and not bool(explored.any()) and bool((pscore == 1).all())


def test_chunked_top_k_matches_full_top_k():
    g = torch.Generator().manual_seed(1)
    E = torch.nn.functional.normalize(torch.randn(1000, 16, generator=g), dim=1)
    q = torch.nn.functional.normalize(torch.randn(7, 16, generator=g), dim=1)
    assert torch.equal(top_k(E, q, 10, chunk=64), top_k(E, q, 10))


def test_batched_small_catalog_scoring_and_slate_cache_give_the_same_slates():
    """Several 64-row blocks in one bmm, subsets of rows, and cached rows: the slates of scoring
    every user alone (row by row, 64-row blocks) whatever the batch."""
    g = torch.Generator().manual_seed(2)
    E = torch.nn.functional.normalize(torch.randn(500, 16, generator=g), dim=1)
    q = torch.nn.functional.normalize(torch.randn(300, 16, generator=g), dim=1)
    alone = torch.cat([top_k(E, q[i : i + 1], 10) for i in range(300)])
    assert torch.equal(top_k(E, q, 10), alone)  # 5 blocks in one bmm (500 items is small)
    assert torch.equal(top_k(E, q[:70], 10), alone[:70])
    cache = SlateCache()
    assert torch.equal(cache.top_k(E, q, 10), alone)
    q2 = q.clone()
    q2[::3] = torch.nn.functional.normalize(torch.randn(100, 16, generator=g), dim=1)
    expected = top_k(E, q2, 10)
    assert not torch.equal(expected, alone)
    assert torch.equal(cache.top_k(E, q2, 10), expected)
    assert torch.equal(cache.top_k(E, q2, 10), expected)  # nothing changed: every slate from the cache


def test_the_last_users_scored_in_smaller_blocks_get_the_bits_of_the_64_row_blocks():
    """The users beyond the last full 64-row block (one user in the single env, the few changed
    queries under fixed weights) are scored in the smallest product whose rows the BLAS gives the
    bits of a 64-row one (checked once per shape): every score and so every slate and softmax
    share is the same as with 64-row blocks, with items in one product or in chunks."""
    g = torch.Generator().manual_seed(4)
    E = torch.nn.functional.normalize(torch.randn(1500, 24, generator=g), dim=1)
    q = torch.nn.functional.normalize(torch.randn(140, 24, generator=g), dim=1)
    for chunk in (65536, 512):
        tails = tail_blocks_for(E, 64, chunk)
        assert set(tails) <= set(TAIL_BLOCKS)
        for n in (1, 3, 4, 5, 17, 33, 64, 70, 129):
            assert torch.equal(top_k(E, q[:n], 10, chunk, 64, tails), top_k(E, q[:n], 10, chunk, 64)), (chunk, n)
    tails = tail_blocks_for(E, 64, 65536)
    for n in (1, 6):
        shares = stratum_shares(E, q[:n], 10, 0.05, 0.0, tail_block(n, 64, tails))
        assert torch.equal(shares, stratum_shares(E, q[:n], 10, 0.05, 0.0, 64))
    assert tail_block(5, 64, (4, 8, 16)) == 8 and tail_block(40, 64, (4, 8, 16, 32)) == 64
    assert tail_blocks_for(E.to("meta"), 64, 65536) == ()  # off the CPU: always 64-row blocks


def test_vectorised_exploration_picks_match_the_slot_by_slot_definition():
    """Each explored slot takes the r-th item (r from the uniform) among the items neither greedy
    nor picked at an earlier slot: checked against a plain per-user loop."""
    n, m, k = 400, 25, 8
    g = torch.Generator().manual_seed(3)
    greedy = torch.stack([torch.randperm(m, generator=g)[:k] for _ in range(n)])
    eps = torch.rand(n, generator=g)
    draws = _draws(n, 5)
    items, explored, _ = explore(greedy, eps, m, draws)
    u = draws.uniform(Stream.EXPLORE_ITEM, (k,), torch.float64)
    for i in range(n):
        free = [x for x in range(m) if x not in greedy[i].tolist()]
        for j in range(k):
            if explored[i, j]:
                r = min(int(float(u[i, j]) * len(free)), len(free) - 1)
                assert int(items[i, j]) == free.pop(r), (i, j)
            else:
                assert int(items[i, j]) == int(greedy[i, j])
