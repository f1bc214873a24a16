"""Real data: MovieLens texts and catalog, file catalogs, populations (personas and histories)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

import driftrec
from driftrec.encoders import HashingEncoder
from driftrec.simulators import Population, load_catalog, load_population
from driftrec.simulators.data import load_movielens, movie_text, movielens_histories, movielens_movies


def test_movielens_ratings_and_texts():
    df = load_movielens()
    assert len(df) == 100_004 and df["user"].nunique() == 671
    assert df["timestamp"].is_monotonic_increasing
    movies = movielens_movies(df)
    assert len(movies) == 9_061 and movies["item"].is_unique  # 9,066 movies less 5 without a title
    assert movie_text("Toy Story", 1995.0, "Adventure|Animation|Children") == (
        "Toy Story (1995). Genres: Adventure, Animation, Children"
    )
    assert movie_text("Untitled", float("nan"), "(no genres listed)") == "Untitled"
    timelines = movielens_histories(df)
    assert len(timelines) == 671 and min(len(v) for v in timelines.values()) >= 20


QUERIES = [
    ("a space adventure with aliens and starships", "Sci-Fi"),
    ("a scary horror film with ghosts and haunted houses", "Horror"),
    ("an animated cartoon for young children", "Animation"),
    ("a romantic comedy about falling in love", "Romance"),
    ("a western with cowboys, outlaws and gunfights", "Western"),
    ("a documentary about real events", "Documentary"),
]


@pytest.mark.parametrize("query, genre", QUERIES, ids=[g for _, g in QUERIES])
def test_nearest_movies_share_the_query_genre(movielens_catalog, minilm, query, genre):
    genres = movielens_movies().set_index("item")["genres"]
    q = movielens_catalog.encode_vectors(minilm.encode([query]))[0]  # into the catalog's (centred) space
    top = (movielens_catalog.embeddings @ q).topk(10).indices.tolist()
    hits = sum(genre in genres[movielens_catalog.ids[i]] for i in top)
    assert hits >= 7, [movielens_catalog.texts[i] for i in top]


def test_movielens_catalog_is_usable_by_the_env(movielens_catalog):
    c = movielens_catalog
    assert c.embeddings.shape == (9_061, 384) and c.meta["encoder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert torch.allclose(c.embeddings.norm(dim=1), torch.ones(c.num_items), atol=1e-4)
    env = driftrec.make_vec_env("abrupt", 4, catalog=c, seed=0, array="torch")
    obs, *_ = env.step(torch.full((4, 3), 0.5))
    assert obs.shape == (4, 11)


def _write(path, frame):
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_catalog_from_a_file(tmp_path, suffix):
    frame = pd.DataFrame({"id": ["a", "b", "c"], "text": ["space opera", "haunted house", "space station"]})
    enc = HashingEncoder(dim=32)
    cat = load_catalog(_write(tmp_path / f"items{suffix}", frame), enc)
    assert cat.ids == ["a", "b", "c"] and cat.texts[1] == "haunted house" and cat.meta["encoder"] == enc.name
    raw = enc.encode(frame["text"].tolist())
    assert torch.allclose(cat.raw, raw) and cat.meta["transform"] == "centre"
    centred = torch.nn.functional.normalize(raw - raw.mean(0), dim=1)
    assert torch.allclose(cat.embeddings, centred, atol=1e-6)
    assert torch.allclose(cat.encode_vectors(raw), cat.embeddings, atol=1e-6)
    same = load_catalog(_write(tmp_path / f"raw{suffix}", frame), enc, transform="none")
    assert torch.allclose(same.embeddings, raw) and same.raw is None and same.meta["transform"] == "none"
    renamed = frame.rename(columns={"id": "movie", "text": "title"})
    cat2 = load_catalog(_write(tmp_path / f"r{suffix}", renamed), enc, id_column="movie", text_column="title")
    assert torch.equal(cat2.embeddings, cat.embeddings)


BAD_FILES = [
    ("missing.csv", None, "no such file"),
    ("items.json", pd.DataFrame({"id": [1]}), "unknown file type '.json'"),
    ("nocol.csv", pd.DataFrame({"id": ["a"], "name": ["x"]}), r"no column 'text'; its columns are \['id', 'name'\]"),
    ("empty.csv", pd.DataFrame({"id": [], "text": []}), "catalog table is empty"),
    ("nan.csv", pd.DataFrame({"id": ["a", "b"], "text": ["x", None]}), "column 'text' is missing or empty at row 1"),
    ("blank.csv", pd.DataFrame({"id": ["a", "b"], "text": ["x", "  "]}), "missing or empty at row 1"),
    ("dup.csv", pd.DataFrame({"id": ["a", "a"], "text": ["x", "y"]}), "'a' appears more than once"),
]


@pytest.mark.parametrize("name, frame, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_catalog_files(tmp_path, name, frame, message):
    path = tmp_path / name
    if frame is not None:
        path.write_text(frame.to_csv(index=False))
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_catalog(path, HashingEncoder(dim=16))
    with pytest.raises(ValueError, match="unknown catalog 'netflix'"):
        load_catalog("netflix", HashingEncoder(dim=16))


def test_personas_give_facets_near_them_and_the_prior(small_catalog, tmp_path):
    enc = HashingEncoder(dim=32)
    personas = tmp_path / "personas.txt"
    personas.write_text("# comment\nloves space robots and aliens\nhorror ghosts ; comedy wedding family\n\n")
    pop = load_population(personas, small_catalog, enc)
    assert pop.num_members == 2 and pop.counts.tolist() == [1, 2] and pop.meta["source"] == "personas"
    want = small_catalog.encode_vectors(enc.encode(["loves space robots and aliens"]))[0]
    assert torch.allclose(pop.prior[0], want, atol=1e-6) and pop.meta["transform"] == "centre"

    env = driftrec.make_vec_env("stable", 64, catalog=small_catalog, population=pop, facet_noise=0.1, array="torch")
    env.reset(seed=3)
    prior = env.state.rec.short
    # every user's prior is one member's prior, and its facets lie near that member's anchors
    member = (prior @ pop.prior.T).argmax(1)
    assert torch.allclose(prior, pop.prior[member], atol=1e-6)
    assert set(member.tolist()) == {0, 1}
    near = torch.einsum("nkd,nad->nka", env.state.user.facets, pop.anchors[member]).amax(-1)
    assert bool((near > 0.95).all())


def test_population_start_is_batch_invariant(small_catalog):
    pop = Population.from_personas(["space robots", "ghosts", ["comedy", "war"]], HashingEncoder(dim=32))
    big = driftrec.make_vec_env("abrupt", 6, catalog=small_catalog, population=pop, array="torch")
    big.reset(seed=[11, 12, 13, 14, 15, 16])
    one = driftrec.make_vec_env("abrupt", 1, catalog=small_catalog, population=pop, array="torch")
    one.reset(seed=[14])
    assert torch.equal(big.state.user.facets[3], one.state.user.facets[0])
    assert torch.equal(big.state.rec.short[3], one.state.rec.short[0])


def test_histories_population(small_catalog):
    ids = small_catalog.ids
    pop = Population.from_histories(small_catalog, {7: [ids[3], "unknown", ids[5]], 8: ["unknown"]}, first_n=1)
    assert pop.names == ["7"] and pop.counts.tolist() == [1]
    assert torch.allclose(pop.prior[0], small_catalog.embeddings[3], atol=1e-6)


def test_movielens_population(movielens_catalog):
    pop = load_population("movielens", movielens_catalog)
    assert pop.num_members == 671 and pop.dim == 384 and int(pop.counts.max()) == 10


BAD_POPULATIONS = [
    (lambda c: Population.from_personas([], HashingEncoder(dim=32)), "non-empty list"),
    (lambda c: Population.from_personas(["ok", ""], HashingEncoder(dim=32)), "persona 1 must be"),
    (lambda c: Population.from_histories(c, {1: ["nope"]}), "no history has an item of the catalog"),
    (lambda c: load_population("nobody", c), "unknown population 'nobody'"),
    (lambda c: load_population("missing.txt", c), "no such persona file"),
    (
        lambda c: driftrec.make_vec_env(
            "stable", 2, catalog=c, population=Population.from_personas(["space"], HashingEncoder(dim=8)), array="torch"
        ),
        "population's vectors have 8 dimensions but the catalog's have 32",
    ),
    (lambda c: load_population(__file__, c, HashingEncoder(dim=16)), "would not share the catalog's space"),
]


@pytest.mark.parametrize("build, message", BAD_POPULATIONS)
def test_bad_populations(small_catalog, build, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        build(small_catalog)


def test_a_catalog_of_duplicate_texts_is_reported(tmp_path):
    import warnings

    import pandas as pd

    from driftrec.encoders import HashingEncoder
    from driftrec.simulators import load_catalog

    path = tmp_path / "dup.csv"
    pd.DataFrame({"id": [f"i{k}" for k in range(30)], "text": ["same text"] * 28 + ["other", "third"]}).to_csv(
        path, index=False
    )
    with pytest.warns(UserWarning, match="27 of its 30 items share their vector with another item"):
        load_catalog(path, HashingEncoder(16))
    pd.DataFrame({"id": ["a", "b"], "text": ["one", "two"]}).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_catalog(path, HashingEncoder(16))


def test_movielens_popularity_counts_each_movies_ratings(movielens_catalog):
    pop = dict(zip(movielens_catalog.ids, movielens_catalog.popularity.tolist(), strict=True))
    assert pop["356"] == 341 and max(pop.values()) == 341  # Forrest Gump, the most rated
    assert sum(pop.values()) == 100_004 - 7  # every rating but those of the 5 untitled movies
    assert min(pop.values()) >= 1 and movielens_catalog.meta["popularity"] == "ratings per movie"
