"""Every command's outputs against the outputs recorded before the experiments/ redesign (issue 19).

Each case runs one command on a small config and compares what it wrote (summary.json, config.json,
CSVs, parquet logs, train.json, the policy's parameters; not the unit store under units/) with
``tests/data/golden/<case>.json``. Timing and machine fields (keys and columns ending in ``_s`` or
``_mib``, ``timing``, ``env_share``, ``speedup``, ``machine``), plots, TensorBoard events and paths
are left out.

Exact where it can be: everything but numbers must match exactly, and numbers to 1e-9 relative,
against the recording or against the recording made on a CPU like this one
(``tests/data/golden/<cpu>/``, ``cpu_key()``, e.g. ``x86_64-avx512-authenticamd-torch2.13.0``).
torch's float32 kernels differ in their last bits between CPUs (AVX2 and AVX-512 builds of the
same kernels sum in other orders, MKL picks its kernels by vendor): two machines that
both ran these cases gave simulated numbers 6e-7 apart at most (relative), and the cases that train
PPO amplify that through training (policy weights 1e-5 apart after 512 user-steps, the quickstart's
mean weights 1.4e-3). On a CPU with no recording of its own, numbers are compared at a float32
tolerance (``LOOSE``), and the PPO-trained cases at a tolerance that allows for training's
amplification; a change that moves a number by more still fails.

To record again (only when a change is meant to move outputs, with a model-version bump for
simulated numbers): ``DRIFTREC_RECORD_GOLDEN=1 pytest tests/experiments/test_golden_outputs.py``
records the shared set; ``DRIFTREC_RECORD_GOLDEN=cpu`` records this CPU's set, for code whose
outputs are unchanged (check the shared set first).
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from driftrec.agents.ppo import PPOWeights
from driftrec.experiments.cli.main import main

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
REPO = Path(__file__).resolve().parents[2]
OBD = REPO / "tests" / "data" / "obd" / "random" / "all"
RECORD = os.environ.get("DRIFTREC_RECORD_GOLDEN", "")

EXACT = (1e-9, 1e-12)
"""(relative, absolute) tolerance against a recording made on this kind of CPU."""
LOOSE = (1e-4, 1e-6)
"""(relative, absolute) tolerance on other CPUs: float32 noise (6e-7 seen)."""
TRAINED = (2e-2, 5e-3)
"""(relative, absolute) tolerance on other CPUs for the cases that train PPO (1.4e-3 and 2.2e-3 seen)."""
TRAINS = {"train", "compare", "quickstart"}


def cpu_key() -> str:
    """What decides torch's float32 results here: machine, CPU vendor, vector instructions, torch
    version. The vendor matters: MKL takes other code paths on AMD and Intel CPUs of the same
    instruction set (an AMD EPYC with AVX-512 needs its own set; an Intel Xeon with AVX-512 gives
    the shared one)."""
    cap = torch.backends.cpu.get_cpu_capability()
    return f"{platform.machine()}-{cap}-{cpu_vendor()}-torch{torch.__version__.split('+')[0]}".lower()


def cpu_vendor() -> str:
    """The CPU's vendor id (GenuineIntel, AuthenticAMD; Linux), else the processor's name, else "unknown"."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


SMALL = "--catalog synthetic --items 200 --dim 16"
RUN = "--no-progress --device cpu"
TIMELINES = "--timelines {in}/log.csv --catalog {in}/items.csv --columns user=who,item=what,timestamp=when"

# name -> command line, {in} standing for the folder of ``_inputs``. PPO's numbers depend on
# torch's thread count, so the commands that train pin it.
CASES: dict[str, str] = {
    "simulate": f"simulate --scenario abrupt --users 4 --steps 12 --seeds 1,2 {SMALL} {RUN}",
    "simulate_missions": (
        f"simulate --scenario missions --agents fixed,change-ctr,linucb --users 3 --steps 8 --seeds 3 {SMALL} {RUN}"
    ),
    "train": (
        f"train --scenario abrupt --users 16 --timesteps 512 --ppo n_steps=8 --ppo batch_size=64 --no-tensorboard "
        f"--threads 1 {SMALL} {RUN}"
    ),
    "log": f"log --scenario abrupt --users 4 --steps 6 --seed 3 {SMALL} {RUN}",
    "ope": f"ope --logs {{in}}/log.parquet --target a:alpha=0.6 --bootstrap 50 {RUN}",
    "ope_obd": f"ope --logs {OBD} --bootstrap 50 {RUN}",
    "ope_validate": f"ope --validate --reps 2 --users 8 --steps 10 {SMALL} {RUN}",
    "replay": f"replay {TIMELINES} --agents fixed,popularity --alphas 0.3,0.9 --k 3 {RUN}",
    "calibrate": (
        f"calibrate {TIMELINES} --transform none --population items --users 4 --steps 10 --beta 10,20 "
        f"--drift 0,0.1 --shift 0 {RUN}"
    ),
    "portability": (
        f"portability --catalogs synthetic --scenario abrupt --seeds 1,2 --users 4 --steps 20 --tuning-users 4 {RUN}"
    ),
    "geometry": "geometry --catalog synthetic --dims 8 --users 4 --steps 10 --no-progress",
    "soak": f"soak --user-steps 1024 --users 32 --items 200 --dim 16 {RUN}",
    "compare": f"compare --config {{in}}/compare.yaml --workers 0 --threads 1 {RUN}",
    "quickstart": (
        "quickstart --scenario stable --seeds 1,2 --users 2 --steps 20 --timesteps 256 --tuning-seeds 7 "
        f"--catalog synthetic --threads 1 {RUN}"
    ),
}
PRINTED = {"quickstart": ["vs best-fixed", "catalog: synthetic, 1000 items"], "compare": ["vs best-fixed"]}

COMPARE_YAML = """
scenarios: [abrupt, missions]
agents: [fixed, change-ctr, ppo, weights-oracle, random]
seeds: [11, 12]
users: 3
steps: 30
catalog: synthetic
items: 200
dim: 16
overrides: {organic_rate: 0.1}
tuning: {seeds: [7], users: 3, steps: 30, grid: {alpha: [0.2, 0.8], mix: [0.7], explore: [0.0, 0.1]}}
ppo: {timesteps: 256, users: 8, hyper: {n_steps: 8, batch_size: 32}}
"""

VOLATILE_KEYS = {"timing", "env_share", "speedup", "machine"}  # and names ending in _s or _mib


def _volatile(name: str) -> bool:
    return name.endswith(("_s", "_mib")) or name in VOLATILE_KEYS


def _clean(x: object, subs: dict[str, str]) -> object:
    """JSON-like ``x`` without timing keys, with machine paths replaced by placeholders."""
    if isinstance(x, dict):
        return {k: _clean(v, subs) for k, v in x.items() if not _volatile(str(k))}
    if isinstance(x, list | tuple):
        return [_clean(v, subs) for v in x]
    if isinstance(x, str):
        for path, tag in subs.items():
            x = x.replace(path, tag)
        return x
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, np.generic):
        return _clean(x.item(), subs)
    return x


def _table(df: pd.DataFrame, subs: dict[str, str]) -> dict:
    df = df[[c for c in df.columns if not _volatile(str(c))]]
    return {"columns": [str(c) for c in df.columns], "rows": _clean(df.astype(object).values.tolist(), subs)}


def _policy(path: Path) -> dict:
    """Per-tensor sums and first values of a saved PPO policy (read by the project's safe loader)."""
    state = PPOWeights.load(path).model.policy.state_dict()
    return {k: [float(v.double().sum()), *v.flatten()[:4].tolist()] for k, v in sorted(state.items())}


def outputs(out: Path, subs: dict[str, str]) -> dict[str, object]:
    """What a command wrote under ``out``, by relative path."""
    got: dict[str, object] = {}
    files = [out] if out.is_file() else sorted(p for p in out.rglob("*") if p.is_file())
    for p in files:
        rel = p.name if p == out else p.relative_to(out).as_posix()
        if rel.startswith("units/"):
            continue  # the unit store (signed records keyed by digests); summary.json and the CSVs come from it
        if p.suffix == ".json":
            got[rel] = _clean(json.loads(p.read_text()), subs)
        elif p.suffix == ".csv":
            got[rel] = _table(pd.read_csv(p, keep_default_na=False), subs)
        elif p.suffix == ".parquet":
            got[rel] = _table(pd.read_parquet(p), subs)
        elif p.suffix == ".zip":
            got[rel] = _policy(p)
    return got


def differences(want: object, got: object, where: str = "", tol: tuple[float, float] = EXACT) -> list[str]:
    if isinstance(want, dict) and isinstance(got, dict):
        diffs = [f"{where}/{k}: missing" for k in want if k not in got]
        diffs += [f"{where}/{k}: new" for k in got if k not in want]
        for k in want.keys() & got.keys():
            diffs += differences(want[k], got[k], f"{where}/{k}", tol)
        return diffs
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{where}: length {len(got)}, recorded {len(want)}"]
        pairs = enumerate(zip(want, got, strict=True))
        return [d for i, (a, b) in pairs for d in differences(a, b, f"{where}[{i}]", tol)]
    numbers = (int, float)
    if isinstance(want, numbers) and isinstance(got, numbers) and not isinstance(want, bool):
        same = math.isclose(want, got, rel_tol=tol[0], abs_tol=tol[1]) and not isinstance(got, bool)
    else:
        same = want == got
    return [] if same else [f"{where}: {got!r}, recorded {want!r}"]


def _inputs(where: Path) -> None:
    """A tiny item catalog, a timelines file and a trajectory log, the same on every machine."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 8))
    vecs = (centres[np.arange(40) % 4] + 0.4 * rng.normal(size=(40, 8))).round(6)  # 4 topics of 10 items
    items = pd.DataFrame({"id": [f"i{j}" for j in range(40)], "embedding": [json.dumps(v.tolist()) for v in vecs]})
    items.to_csv(where / "items.csv", index=False)
    events = [[u, f"i{(u * 5 + 4 * t + t // 6) % 40}", 100 * t, 1 + t % 5] for u in (7, 9, 11, 12) for t in range(16)]
    pd.DataFrame(events, columns=["who", "what", "when", "stars"]).to_csv(where / "log.csv", index=False)
    (where / "compare.yaml").write_text(COMPARE_YAML)
    argv = ["log", "--scenario", "abrupt", "--users", "6", "--steps", "8", "--seed", "5", "--explore-mode", "slate"]
    argv += ["--fixed-weights", "0.3,0.7,0.2", *SMALL.split(), *RUN.split(), "--out", str(where / "log.parquet")]
    assert main(argv) == 0


@pytest.mark.parametrize("case", list(CASES))
def test_command_outputs_match_the_recorded_ones(case, tmp_path, capsys):
    argv = CASES[case].split()
    inputs = tmp_path / "in"
    inputs.mkdir()
    if any("{in}" in a for a in argv):
        _inputs(inputs)
    out = tmp_path / ("out.parquet" if argv[0] == "log" else "out")
    argv = [a.replace("{in}", str(inputs)) for a in argv]
    rc = main([*argv, "--out", str(out)])
    printed = capsys.readouterr().out
    assert all(text in printed for text in PRINTED.get(case, [])), printed
    subs = {str(out): "<out>", str(inputs): "<in>", str(REPO): "<repo>"}
    got = {"argv": _clean(argv, subs), "rc": rc, "files": outputs(out, subs)}
    assert got["files"] or rc != 0, f"{case} wrote nothing"
    got = json.loads(json.dumps(got))
    shared, own = GOLDEN / f"{case}.json", GOLDEN / cpu_key() / f"{case}.json"
    if RECORD:
        path = own if RECORD == "cpu" else shared
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"recorded {path.relative_to(GOLDEN)}")
    want = json.loads(shared.read_text())
    diffs, where = differences(want, got), "the recorded outputs"
    # a new or missing key, or a list of another length, differs on every CPU: say so first
    shape = [d for d in diffs if d.endswith((": new", ": missing")) or ": length " in d]
    assert not shape, f"{case}: the outputs changed shape against {where}:\n" + "\n".join(shape[:20])
    if diffs and own.exists():
        diffs = differences(json.loads(own.read_text()), got)
        where = f"the recording for this CPU ({cpu_key()})"
    elif diffs:
        diffs = differences(want, got, tol=TRAINED if case in TRAINS else LOOSE)
        where = f"the recorded outputs, at the tolerance for a CPU with no recording ({cpu_key()})"
    assert not diffs, f"{case}: {len(diffs)} differences from {where}:\n" + "\n".join(diffs[:20])
