"""distinct_items: k distinct, allowed, uniform items per row, on both of its paths."""

from __future__ import annotations

import pytest
import torch

from driftrec.agents.random import distinct_items


@pytest.mark.parametrize("m", [40, 5000])  # ranking random keys / rejection
@pytest.mark.parametrize("with_exclude", [False, True])
def test_rows_are_distinct_allowed_and_uniform(m, with_exclude):
    n, k = 4000, 10
    gen = torch.Generator().manual_seed(0)
    exclude = torch.arange(k).expand(n, k).contiguous() if with_exclude else None
    out = distinct_items(n, m, k, gen, exclude=exclude)
    assert out.shape == (n, k) and out.dtype == torch.int64
    assert bool(((out >= 0) & (out < m)).all())
    srt = torch.sort(out, 1).values
    assert not bool((srt[:, 1:] == srt[:, :-1]).any())
    if with_exclude:
        assert not bool((out < k).any())
    allowed = m - (k if with_exclude else 0)
    counts = torch.bincount(out.flatten(), minlength=m)[k if with_exclude else 0 :].double()
    expected = n * k / allowed
    # chi-square over the allowed items: mean allowed - 1, sd about sqrt(2 allowed)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert abs(chi2 - (allowed - 1)) < 6 * (2 * allowed) ** 0.5


def test_same_generator_state_same_rows_and_too_few_items_is_an_error():
    a = distinct_items(50, 9000, 10, torch.Generator().manual_seed(3))
    b = distinct_items(50, 9000, 10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="cannot draw 10 distinct items from 12 with 5 excluded"):
        distinct_items(2, 12, 10, torch.Generator(), exclude=torch.zeros(2, 5, dtype=torch.int64))
