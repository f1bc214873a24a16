"""Sweeps on backends (this process, local processes, Ray) and the resumable unit store."""

from __future__ import annotations

import json
import operator
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from driftrec.experiments.online.compare import CompareConfig, compare
from driftrec.experiments.online.train import TrainConfig, train_sweep
from driftrec.experiments.sweeps.backends import LocalBackend, RayBackend, make_backend
from driftrec.experiments.sweeps.store import UnitStore, digest, run_units

SWEEP: dict[str, Any] = {
    "scenarios": ["abrupt", "stable"],
    "agents": ["fixed", "change-ctr", "random", "ppo"],
    "seeds": [101, 102],
    "users": 16,
    "steps": 20,
    "items": 200,
    "dim": 16,
    "tuning": {"users": 8, "steps": 10, "grid": {"alpha": [0.3, 0.9], "mix": [0.7], "explore": [0.05]}},
    "ppo": {"timesteps": 1024, "users": 16, "hyper": {"batch_size": 256}},
}


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """A compare summary without what legitimately differs between equal runs: wall times, and
    whether a policy was trained in this run or reused from the store."""
    out = {k: v for k, v in summary.items() if k != "wall_s"}
    out["policies"] = {s: {"timesteps": p.get("timesteps")} for s, p in summary["policies"].items()}
    return out


def run_compare(out: Path, backend: LocalBackend | RayBackend) -> dict[str, Any]:
    res = compare(CompareConfig.from_dict({**SWEEP, "device": "cpu"}), out, progress=False, backend=backend)
    res.write(out)
    return json.loads((out / "summary.json").read_text())


def test_unit_store_reuses_only_the_same_spec(tmp_path: Path) -> None:
    store = UnitStore(tmp_path)
    spec = {"kind": "eval", "seeds": [1, 2], "policy": b"\x00\x01"}
    assert store.load("eval/a", spec) == (False, None)
    store.save("eval/a", spec, {"x": 1.5})
    assert store.load("eval/a", spec) == (True, {"x": 1.5})
    assert store.load("eval/a", {**spec, "seeds": [1, 3]}) == (False, None)
    assert store.load("eval/a", {**spec, "policy": b"\x00\x02"}) == (False, None)
    assert digest(spec) == digest(dict(reversed(list(spec.items()))))
    assert not list(tmp_path.glob(".*tmp")), "no temporary files left behind"
    path = store.path("eval/a", spec)
    assert path is not None
    path.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="ignoring unit file"):
        assert store.load("eval/a", spec) == (False, None)


def test_unit_results_round_trip_as_data(tmp_path: Path) -> None:
    from driftrec.experiments.online.compare import Evaluation

    ev = Evaluation("abrupt", "fixed", {101: 0.5, 102: 0.25}, torch.rand(2, 5), None, torch.arange(3.0), None, 4, 10,
                    1.5)  # fmt: skip
    results = {
        "tune": [0.1, 0.2, float("nan")],
        "train": {"policy": b"PK\x03\x04", "train": {"hyper": {"net_arch": [64, 64]}, "pair": (1, 2)}},
        "eval": ev,
    }
    store = UnitStore(tmp_path)
    for key, result in results.items():
        store.save(key, {"k": key}, result)
        found, back = store.load(key, {"k": key})
        assert found and type(back) is type(result)
    back = store.load("eval", {"k": "eval"})[1]
    assert back.per_seed == {101: 0.5, 102: 0.25} and torch.equal(back.curves, ev.curves) and back.weights is None
    assert store.load("train", {"k": "train"})[1]["train"]["pair"] == (1, 2)
    with pytest.raises(TypeError, match="cannot hold a set"):
        store.save("bad", {"k": "bad"}, {1, 2})


def test_a_crafted_unit_file_runs_no_code_and_a_forged_one_is_not_reused(tmp_path: Path) -> None:
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').close()",))

    store = UnitStore(tmp_path / "units")
    spec = {"kind": "eval", "seeds": [101]}
    path = store.path("eval/abrupt/fixed", spec)
    path.parent.mkdir(parents=True)
    # a pickle dropped where the unit would be: never unpickled
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.warns(UserWarning, match="ignoring unit file"):
        assert store.load("eval/abrupt/fixed", spec) == (False, None)
    assert not marker.exists()
    # a well-formed record claiming 9.99 clicks per step, without this user's signature
    record = json.dumps({"key": "eval/abrupt/fixed", "digest": digest(spec), "result": {"mean": 9.99}})
    path.write_text(json.dumps({"format": "driftrec-unit/1", "sig": "0" * 64, "record": record}))
    with pytest.warns(UserWarning, match="not signed with this user's driftrec key"):
        assert store.load("eval/abrupt/fixed", spec) == (False, None)
    # the same record signed under another key (another user's, or a copied folder's) is not reused
    store.save("eval/abrupt/fixed", spec, {"mean": 1.0})
    signed = json.loads(path.read_text())
    from driftrec.encoders import signing

    other = tmp_path / "other-key"
    other.write_bytes(b"k" * 32)
    try:
        signing._key_at.cache_clear()
        old, os.environ[signing.KEY_ENV] = os.environ[signing.KEY_ENV], str(other)
        assert not signing.verify(signed["sig"], "unit-store", signed["record"].encode())
        with pytest.warns(UserWarning, match="not signed"):
            assert store.load("eval/abrupt/fixed", spec) == (False, None)
    finally:
        os.environ[signing.KEY_ENV] = old
        signing._key_at.cache_clear()
    assert store.load("eval/abrupt/fixed", spec) == (True, {"mean": 1.0})


def test_run_units_reports_reuse_and_runs_the_rest(tmp_path: Path) -> None:
    store = UnitStore(tmp_path)
    said: list[str] = []
    specs = {f"u/{i}": i for i in range(4)}
    # operator.add(shared, spec): a unit function that pickles into spawned workers
    first, reused = run_units(LocalBackend(0), store, operator.add, 10, dict(list(specs.items())[:2]))
    assert first == {"u/0": 10, "u/1": 11} and reused == []
    both, reused = run_units(LocalBackend(2, threads=1), store, operator.add, 10, specs, say=said.append)
    assert both == {"u/0": 10, "u/1": 11, "u/2": 12, "u/3": 13}
    assert reused == ["u/0", "u/1"] and "reused 2 of 4" in said[0]


def test_backend_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match="workers=-1 is not allowed; it must be >= 0"):
        LocalBackend(-1)
    with pytest.raises(ValueError, match="unknown backend 'spark'"):
        make_backend("spark")
    with pytest.raises(ValueError, match="--ray-address needs --backend ray"):
        make_backend("local", address="auto")


@pytest.fixture(scope="module")
def ray_backend() -> Any:
    pytest.importorskip("ray", reason="the 'ray' extra is not installed (pip install -e '.[test]' installs it)")
    import ray

    backend = RayBackend(None, threads=1, num_cpus=2)
    yield backend
    ray.shutdown()


@pytest.mark.slow
def test_compare_and_train_sweeps_equal_on_ray_and_local_processes(tmp_path: Path, ray_backend: RayBackend) -> None:
    """The acceptance test: one small sweep on local processes, on a local Ray instance and in this
    process (all with one torch thread per unit) gives exactly the same summary."""
    local = run_compare(tmp_path / "local", LocalBackend(workers=2, threads=1))
    on_ray = run_compare(tmp_path / "ray", ray_backend)
    here = run_compare(tmp_path / "here", LocalBackend(workers=0, threads=1))
    assert comparable(local) == comparable(on_ray) == comparable(here)
    assert {p["source"] for p in local["policies"].values()} == {"trained"}
    assert set(local["results"]["abrupt"]) == {"best-fixed", "fixed", "change-ctr", "random", "ppo"}

    cfg = TrainConfig(scenario="abrupt", users=16, timesteps=1024, items=200, dim=16, hyper={"batch_size": 256})
    runs = {}
    for name, backend in (("local", LocalBackend(workers=2, threads=1)), ("ray", ray_backend)):
        res = train_sweep(cfg, [0, 1], tmp_path / f"train_{name}", backend, progress=False, tensorboard=False)
        runs[name] = {s: (r["policy_digest"], r["num_timesteps"]) for s, r in res["runs"].items()}
        assert (tmp_path / f"train_{name}" / "seed_1" / "policy.zip").is_file()
    assert runs["local"] == runs["ray"]
    assert runs["local"]["0"][0] != runs["local"]["1"][0], "different seeds train different policies"
    again = train_sweep(cfg, [0, 1], tmp_path / "train_local", LocalBackend(workers=0, threads=1), progress=False)
    assert all(r["reused"] for r in again["runs"].values())


def _cli(out: Path, config: Path, workers: int) -> list[str]:
    code = "import sys; from driftrec.experiments.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, "compare", "--config", str(config), "--out", str(out), "--device", "cpu",
            "--no-progress", "--workers", str(workers), "--threads", "1"]  # fmt: skip


@pytest.mark.slow
def test_killed_compare_resumes_to_the_same_summary(tmp_path: Path) -> None:
    """8 times in a row: SIGKILL a compare run (its whole process group), re-run the same command,
    and get the summary of an uninterrupted run. 4 kills with each of 0 and 2 workers, one in each
    quarter of that worker count's uninterrupted run (at random within it), so that every phase
    (tuning, training, evaluation, the report's files) is hit, in this process and in a pool of
    processes (1 worker takes the same pool's path as 2, without the concurrency: its uninterrupted
    run must give the same summary)."""
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(SWEEP))
    full_s, expected, units = {}, None, None
    for workers in (0, 1, 2):  # uninterrupted: the same summary with any number of workers
        began = time.perf_counter()
        done = subprocess.run(
            _cli(tmp_path / f"full{workers}", config, workers), capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        full_s[workers] = time.perf_counter() - began
        summary = comparable(json.loads((tmp_path / f"full{workers}" / "summary.json").read_text()))
        expected = summary if expected is None else expected
        assert summary == expected, f"{workers} workers"
        units = len(list((tmp_path / f"full{workers}" / "units").glob("*.json")))
    rng = random.Random(7)
    reused_counts = []
    for i in range(8):
        out, workers, quarter = tmp_path / f"run{i}", 2 * (i % 2), i // 2
        proc = subprocess.Popen(
            _cli(out, config, workers), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep((quarter + rng.random()) / 4 * full_s[workers])
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = len(list((out / "units").glob("*.json"))) if (out / "units").is_dir() else 0
        again = subprocess.run(_cli(out, config, workers), capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        # every unit finished before the kill is reused, none is lost
        reused = sum(int(n) for n in re.findall(r"reused (\d+) of", again.stdout))
        assert reused == finished, (i, reused, finished, again.stdout)
        reused_counts.append(finished)
        assert comparable(json.loads((out / "summary.json").read_text())) == expected, f"kill {i}"
        assert len(list((out / "units").glob("*.json"))) == units
    assert max(reused_counts) > 0, "no kill came after a finished unit: the kill points are too early"
