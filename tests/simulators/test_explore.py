import torch

from driftrec.simulators.recommender import explore, top_k
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
