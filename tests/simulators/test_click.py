import pytest
import torch

from driftrec.envs import DriftVecEnv, default_catalog
from driftrec.simulators import ClickParams
from driftrec.simulators.click import click_probabilities, examination, sample_clicks
from driftrec.simulators.rng import CounterRNG


@pytest.mark.parametrize("model", ["position", "cascade"])
def test_sampled_clicks_match_the_stated_probabilities(model):
    p = ClickParams(model=model, beta=6.0, threshold=0.3, exam_decay=0.7, accidental=0.01)
    n, k = 40_000, 6
    util = torch.linspace(0.9, -0.2, k).expand(n, k)
    exam = examination(k, p)
    u = CounterRNG.from_seeds(list(range(n))).at(torch.zeros(n, dtype=torch.int64)).uniform(0, (k,))
    clicks = sample_clicks(util, p, exam, u)
    expected = click_probabilities(util[:1], p, exam)[0]
    assert torch.allclose(clicks.float().mean(0), expected, atol=0.01)
    assert bool(((expected >= 0) & (expected <= 1)).all())
    if model == "cascade":
        assert int(clicks.sum(1).max()) <= 1
    else:
        assert torch.all(expected[1:] <= expected[:-1])  # utility and examination both fall down the slate


def test_cascade_env_gives_at_most_one_click_per_slate():
    env = DriftVecEnv("stable", 64, catalog=default_catalog(200, 32), model="cascade", array="torch")
    env.reset(seed=0)
    for _ in range(20):
        _, reward, *_ = env.step(torch.tensor([0.3, 0.7, 0.1]))
        assert float(reward.max()) <= 1.0
