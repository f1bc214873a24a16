"""Sequential replay on MovieLens timelines, checked against a plain per-user reference loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from driftrec.agents import FixedWeights
from driftrec.encoders.hashing import HashingEncoder
from driftrec.experiments.cli.main import main
from driftrec.experiments.offline import replay as rp
from driftrec.experiments.online.train import TrainConfig, train
from driftrec.simulators.data import load_catalog, load_movielens


@pytest.fixture(scope="module")
def catalog():
    return load_catalog("movielens", encoder=HashingEncoder(dim=32), progress=False)


def _reference_fixed(tl: rp.Timelines, E: torch.Tensor, alpha: float, mix: float, warmup: int, k: int):
    """The same replay, one user and one step at a time, from the update equations."""
    hr, ndcg = [], []
    for u in range(len(tl.user)):
        items = tl.item[u, : int(tl.length[u])].tolist()
        s = l_ = torch.nn.functional.normalize(E[items[:warmup]].mean(0), dim=0)
        seen = set(items[:warmup])
        h = g = 0.0
        for t in items[warmup:]:
            q = torch.nn.functional.normalize(mix * s + (1 - mix) * l_, dim=0)
            scores = E @ q
            scores[list(seen)] = -math.inf
            top = torch.topk(scores, k).indices.tolist()
            if t in top:
                h += 1
                g += 1 / math.log2(top.index(t) + 2)
            e = E[t]  # a click or an organic event: either way the evidence is the item's unit vector
            s = torch.nn.functional.normalize((1 - alpha) * s + alpha * e, dim=0)
            l_ = torch.nn.functional.normalize(0.95 * l_ + 0.05 * e, dim=0)
            seen.add(t)
        hr.append(h)
        ndcg.append(g)
    return np.array(hr), np.array(ndcg)


def test_batched_replay_equals_the_per_user_loop(catalog):
    cfg = rp.ReplayConfig(agents=["fixed"], alphas=[0.4], max_users=12)
    tl = rp.padded_timelines(catalog, cfg.liked_at, cfg.warmup, cfg.max_users)
    E = catalog.embeddings.float()
    hr, ndcg, count = rp.replay_agent(FixedWeights(0.4, 0.7, 0.0), tl, E, cfg)
    ref_hr, ref_ndcg = _reference_fixed(tl, E, 0.4, 0.7, cfg.warmup, cfg.k)
    np.testing.assert_array_equal(count, (tl.length - cfg.warmup).numpy())
    np.testing.assert_array_equal(hr, ref_hr)
    np.testing.assert_allclose(ndcg, ref_ndcg, rtol=1e-9)
    assert hr.sum() > 0


def test_popularity_is_causal(catalog, monkeypatch):
    monkeypatch.setattr(rp, "POPULARITY_BLOCK", 1)  # exact: every event sees the likes strictly before it
    cfg = rp.ReplayConfig(agents=["popularity"], max_users=6)
    tl = rp.padded_timelines(catalog, cfg.liked_at, cfg.warmup, cfg.max_users)
    likes = load_movielens()
    likes = likes[likes.rating >= cfg.liked_at]
    row = {item_id: i for i, item_id in enumerate(catalog.ids)}
    hr, _, _ = rp.replay_popularity(tl, catalog.num_items, likes, row, cfg)
    g_item = likes["item"].map(row).dropna().astype(int).to_numpy()
    g_time = likes["timestamp"].to_numpy()[likes["item"].map(row).notna().to_numpy()]
    want = []
    for u in range(len(tl.user)):
        items = tl.item[u, : int(tl.length[u])].tolist()
        h = 0
        for step in range(cfg.warmup, len(items)):
            counts = np.bincount(g_item[g_time < int(tl.time[u, step])], minlength=catalog.num_items).astype(float)
            counts[items[:step]] = -np.inf
            top = np.argsort(-counts, kind="stable")[: cfg.k]
            h += items[step] in top
        want.append(h)
    np.testing.assert_array_equal(hr, want)


def test_replay_compares_strategies_with_intervals(catalog, tmp_path):
    policy = train(
        TrainConfig(scenario="abrupt", users=16, timesteps=16 * 8 * 2, items=200, dim=16,
                    hyper={"n_steps": 8, "batch_size": 64}),
        tmp_path / "ppo",
        progress=False,
    )  # fmt: skip
    cfg = rp.ReplayConfig(
        agents=["fixed", "change-ctr", "ppo", "popularity"],
        alphas=[0.1, 0.9],
        max_users=15,
        policy=str(tmp_path / "ppo" / "policy.zip"),
    )
    res = rp.replay(cfg, catalog, progress=False)
    assert list(res.results) == ["fixed a=0.1", "fixed a=0.9", "change-ctr", "ppo", "popularity"]
    assert res.best_fixed in ("fixed a=0.1", "fixed a=0.9") and res.num_users == 15
    for r in res.results.values():
        assert 0.0 <= r["ndcg"] <= r["hr"] <= 1.0
        assert r["hr_ci95"][0] <= r["hr"] <= r["hr_ci95"][1]
        assert "diff_ndcg_vs_best_fixed" in r
    assert res.results[res.best_fixed]["diff_ndcg_vs_best_fixed"]["mean"] == 0.0
    assert len(res.per_user) == 5 * 15 and policy is not None
    assert rp.format_replay(res, 10).splitlines()[0].startswith("agent")


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"agents": ["linucb"]}, "agent 'linucb' cannot replay"),
        ({"agents": ["ppo"]}, "agent 'ppo' needs a trained policy"),
        ({"alphas": [1.5]}, r"alpha=1.5 is outside \[0, 1\]"),
        ({"timelines": "netflix"}, "timelines .netflix. is neither movielens nor an existing file"),
        ({"warmup": 0}, "warmup=0 is not allowed; it must be >= 1"),
        ({"min_rating": 7.0}, "outside MovieLens' 0.5..5 stars"),
    ],
)
def test_bad_replay_configs(kw, message):
    with pytest.raises(ValueError, match=message):
        rp.ReplayConfig(**kw)


def test_replay_command_errors(capsys, tmp_path):
    assert main(["replay", "--agents", "fixed,oracle", "--out", str(tmp_path)]) == 2
    assert "agent 'oracle' cannot replay" in capsys.readouterr().err


def _movielens_as_a_log(path, catalog):
    """MovieLens ratings written out as a user's own log would be: renamed columns, extra ones, and
    only the catalog's items (the 7 ratings of the 5 untitled movies, which MovieLens replay drops,
    left out)."""
    df = load_movielens()
    df = df[df["item"].isin(catalog.ids)]
    log = df.rename(columns={"user": "uid", "item": "movie", "timestamp": "ts", "rating": "stars"})
    log.assign(source="ml")[["ts", "uid", "movie", "stars", "source"]].to_csv(path, index=False)
    return {"user": "uid", "item": "movie", "timestamp": "ts", "rating": "stars"}


def test_replay_of_a_users_log_equals_the_movielens_replay(catalog, tmp_path):
    columns = _movielens_as_a_log(tmp_path / "log.csv", catalog)
    kw = {"agents": ["fixed", "change-ctr", "popularity"], "alphas": [0.3], "max_users": 40}
    ref = rp.replay(rp.ReplayConfig(**kw), catalog=catalog, progress=False)
    mine = rp.ReplayConfig(timelines=str(tmp_path / "log.csv"), columns=columns, min_rating=4.0, **kw)
    got = rp.replay(mine, catalog=catalog, progress=False)
    assert got.num_users == ref.num_users == 40 and got.num_events == ref.num_events
    assert got.results == ref.results
    assert got.per_user.equals(ref.per_user)


def _log(tmp_path, rows, name="log.csv"):
    import pandas as pd

    pd.DataFrame(rows, columns=["user", "item", "timestamp"]).to_csv(tmp_path / name, index=False)
    return str(tmp_path / name)


@pytest.mark.parametrize(
    "rows, columns, message",
    [
        ([[1, "1", 5]], {"timestamp": "when"}, r"has no column 'when' \(the timestamp column\); its columns are"),
        ([[1, "1", 5], [1, "nope", 6]], {}, r"1 events whose items are not in the catalog \(first: 'nope' at row 1\)"),
        (
            [[1, "1", 5], [2, "2", 1], [1, "3", 4]],
            {},
            r"user '1' at row 2 has timestamp 4 after 5; sort each user's events by time",
        ),
        ([[1, "1", 5], [1, "2", "soon"]], {}, r"non-numeric timestamp 'soon' at row 1; timestamps must be numbers"),
        ([[1, "1", 5], [1, "2", 6]], {}, r"no user of .* has more than warmup=5 events \(the longest has 2\)"),
        ([[1, "1", 5]], {"rank": "x"}, r"column mapping rank='x' is not FIELD=COLUMN"),
    ],
)
def test_bad_logs_give_one_line_errors(catalog, tmp_path, rows, columns, message):
    with pytest.raises(ValueError, match=message):
        cfg = rp.ReplayConfig(timelines=_log(tmp_path, rows), columns=columns, agents=["fixed"])
        rp.replay(cfg, catalog=catalog, progress=False)


def test_a_log_without_ratings_refuses_min_rating(catalog, tmp_path):
    path = _log(tmp_path, [[1, str(i), i] for i in range(1, 9)])
    with pytest.raises(ValueError, match="min_rating=4 needs a rating column"):
        rp.replay(rp.ReplayConfig(timelines=path, min_rating=4.0, agents=["fixed"]), catalog=catalog, progress=False)
    res = rp.replay(rp.ReplayConfig(timelines=path, agents=["fixed"], alphas=[0.5]), catalog=catalog, progress=False)
    assert res.num_users == 1 and res.num_events == 3  # every event is liked: 8 - 5 warm-up events scored


def test_replay_command_on_a_log_and_a_catalog_file(tmp_path, capsys):
    import json

    import pandas as pd

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(12, 8))
    pd.DataFrame({"id": [f"i{j}" for j in range(12)], "embedding": [json.dumps(v.tolist()) for v in vecs]}).to_csv(
        tmp_path / "items.csv", index=False
    )
    events = [[u, f"i{(u * 5 + t) % 12}", 100 * t, 1 + t % 5] for u in (7, 9) for t in range(9)]
    pd.DataFrame(events, columns=["who", "what", "when", "stars"]).to_csv(tmp_path / "log.csv", index=False)
    argv = ["replay", "--timelines", str(tmp_path / "log.csv"), "--catalog", str(tmp_path / "items.csv"),
            "--columns", "user=who,item=what,timestamp=when", "--agents", "fixed,popularity", "--alphas", "0.3,0.9",
            "--k", "3", "--out", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"replayed 2 '{tmp_path / 'log.csv'}' users, 8 next-item events (liked = every event" in printed
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["results"]) == {"fixed a=0.3", "fixed a=0.9", "popularity"} and summary["num_users"] == 2
    assert main([*argv[:5], "--columns", "user=who,item=what"]) == 2  # timestamp left as 'timestamp': missing
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "has no column 'timestamp' (the timestamp column)" in err
