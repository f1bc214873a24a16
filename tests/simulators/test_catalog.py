import pytest
import torch

from driftrec.simulators import Catalog


def _unit(m, d=4):
    return torch.nn.functional.normalize(torch.randn(m, d, generator=torch.Generator().manual_seed(0)), dim=1)


BAD_CATALOGS = [
    ("empty", lambda: Catalog(torch.zeros(0, 4), [], []), "at least one item"),
    ("1-D embeddings", lambda: Catalog(torch.ones(4), ["a"], ["t"]), r"2-D tensor \(M, d\), got \(4,\)"),
    ("duplicate ids", lambda: Catalog(_unit(3), ["a", "b", "a"], ["x", "y", "z"]), "'a' appears more than once"),
    ("missing text", lambda: Catalog(_unit(3), ["a", "b", "c"], ["x", "y"]), "3 embeddings but 3 ids and 2 texts"),
    (
        "NaN vector",
        lambda: Catalog(torch.cat([_unit(2), torch.full((1, 4), float("nan"))]), ["a", "b", "c"], ["x", "y", "z"]),
        r"row 2 \(id 'c'\) contains NaN",
    ),
    ("not unit", lambda: Catalog(2 * _unit(2), ["a", "b"], ["x", "y"]), "unit rows; row 0 has norm 2.0000"),
]


@pytest.mark.parametrize("what, build, match", BAD_CATALOGS, ids=[b[0] for b in BAD_CATALOGS])
def test_bad_catalogs_raise_clear_errors(what, build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_catalog_moves_to_a_device_and_keeps_provenance():
    c = Catalog(_unit(3), ["a", "b", "c"], ["x", "y", "z"], {"encoder": "e"})
    d = c.to("cpu", torch.float64)
    assert d.embeddings.dtype == torch.float64 and d.meta == {"encoder": "e"} and d.num_items == 3 and d.dim == 4
