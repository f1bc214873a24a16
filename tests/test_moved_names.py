"""Names that moved keep working, with a DeprecationWarning that says where they went
(docs/api.md, "Names that moved")."""

import pytest

import driftrec
from driftrec.encoders import HashingEncoder


@pytest.mark.parametrize(
    "module, old, new",
    [
        ("driftrec.simulators", "movielens_timelines", "movielens_histories"),
        ("driftrec.simulators.data", "movielens_timelines", "movielens_histories"),
        ("driftrec.experiments.offline.replay", "movielens_timelines", "padded_timelines"),
    ],
)
def test_renamed_functions_warn_and_are_the_new_ones(module, old, new):
    import importlib

    mod = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"{module}.{old} is deprecated; use .*{new}"):
        assert getattr(mod, old) is getattr(mod, new)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        mod.nope  # noqa: B018


def test_load_catalog_synthetic_is_now_synthetic_lm():
    enc = HashingEncoder(16)
    with pytest.warns(DeprecationWarning, match="name it 'synthetic-lm'"):
        old = driftrec.load_catalog("synthetic", enc, num_items=30)
    new = driftrec.load_catalog("synthetic-lm", enc, num_items=30)
    assert old.meta["source"] == new.meta["source"] == "synthetic-lm"
    assert old.ids == new.ids and bool((old.embeddings == new.embeddings).all())
    assert driftrec.synthetic_catalog(30).meta["source"] == "synthetic"  # the hashing catalog keeps its name
