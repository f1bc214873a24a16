"""Bad input end to end: every row is a malformed config, flag, catalog, scenario, policy or log given
to the ``driftrec`` command line, answered by one error line that names the problem, exit status 2,
and no traceback. docs/errors.md lists the same messages (checked below)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from driftrec.experiments.cli.main import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
SMALL = ["--items", "100", "--dim", "16", "--users", "4", "--steps", "3", "--seeds", "1", "--no-progress", "--agents",
         "fixed"]  # fmt: skip
SMALL_CMP = ["--users", "4", "--steps", "3", "--agents", "fixed", "--no-progress", "--workers", "0"]


def _csv(text: str) -> Any:
    return lambda p: p.write_text(text)


def _vectors(rows: list[Any]) -> Any:
    return lambda p: pd.DataFrame({"id": [f"i{k}" for k in range(len(rows))], "embedding": rows}).to_parquet(p)


def _yaml(obj: Any) -> Any:
    return lambda p: p.write_text(obj if isinstance(obj, str) else json.dumps(obj))


def _pickled_policy(p: Path) -> None:
    """A policy zip with an extra cloudpickle entry (which loading would have to unpickle)."""
    import io
    import zipfile

    from driftrec.agents.ppo import PPOWeights, make_ppo
    from driftrec.envs import make_vec_env

    model = make_ppo(
        make_vec_env("abrupt", 4, num_items=100, dim=16, array="torch").to_sb3(), {"n_steps": 8, "batch_size": 32}
    )
    src, out = zipfile.ZipFile(io.BytesIO(PPOWeights(model).to_bytes())), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            body = src.read(name)
            if name == "data":
                params = json.loads(body)
                params["extra"] = {":type:": "<class 'object'>", ":serialized:": "gASVAAAAAAAAAAA="}
                body = json.dumps(params).encode()
            z.writestr(name, body)
    p.write_bytes(out.getvalue())


CMP = {"scenarios": ["abrupt"], "agents": ["fixed"], "users": 4, "steps": 3}

# (name, files to write {name: writer}, argv ({tmp} is the folder), expected message)
ROWS: list[tuple[str, dict[str, Any], list[str], str]] = [
    # --- configs
    ("config: not YAML", {"c.yaml": _yaml("scenarios: [abrupt\n")}, ["compare", "--config", "{tmp}/c.yaml"],
     "is not valid YAML"),
    ("config: not a mapping", {"c.yaml": _yaml("- abrupt\n")}, ["compare", "--config", "{tmp}/c.yaml"],
     "must hold a mapping of keys to values"),
    ("config: unknown key", {"c.json": _yaml({**CMP, "sed": 1})}, ["compare", "--config", "{tmp}/c.json"],
     "unknown key(s) sed in the compare config; allowed: scenarios, agents"),
    ("config: one seed", {"c.json": _yaml({**CMP, "seeds": [5]})}, ["compare", "--config", "{tmp}/c.json"],
     "compare needs at least 2 evaluation seeds for intervals, got [5]"),
    ("config: fractional seeds", {"c.json": _yaml({**CMP, "seeds": [101.5, 102.7]})},
     ["compare", "--config", "{tmp}/c.json"], "seeds[0] must be an integer in [0, 2**63 - 1], got float: 101.5"),
    ("config: boolean seeds", {"c.json": _yaml({**CMP, "seeds": [True, False]})},
     ["compare", "--config", "{tmp}/c.json"], "seeds[0] must be an integer in [0, 2**63 - 1], got bool: True"),
    ("config: tuning seeds as text", {"c.json": _yaml({**CMP, "seeds": [101, 102], "tuning": {"seeds": "9001"}})},
     ["compare", "--config", "{tmp}/c.json"], "tuning.seeds must be a list of integer seeds, got str: '9001'"),
    ("config: agents as text", {"c.json": _yaml({**CMP, "agents": "fixed"})},
     ["compare", "--config", "{tmp}/c.json"], "agents must be a list of names, got str: 'fixed'"),
    ("flag: PPO gamma above 1", {}, ["train", "--ppo", "gamma=2", "--timesteps", "100", "--no-progress"],
     "PPO setting gamma=2 is outside the allowed range (0.0, 1.0]"),
    ("flag: PPO batch of one", {}, ["train", "--ppo", "batch_size=1", "--timesteps", "100", "--no-progress"],
     "PPO setting batch_size=1 is not allowed; it must be >= 2"),
    ("flag: --out is a file", {"taken": _csv("not a folder")}, ["simulate", *SMALL, "--out", "{tmp}/taken"],
     "is a file, not a folder; give a folder for the results"),
    # issue 18, finding 15: sizes that cannot fit are refused up front, with the estimate
    ("flag: a catalog too large for memory", {}, ["simulate", "--catalog", "synthetic", "--items", "1000000000"],
     "a catalog of 1,000,000,000 items x 64 dims needs at least 768.0 GB of memory, more than the"),
    ("flag: too many users for memory", {},
     ["simulate", "--catalog", "synthetic", "--items", "100", "--dim", "16", "--users", "1000000000"],
     "1,000,000,000 users x 100 items (16 dims) need at least 3.6 TB of memory, more than the"),
    ("flag: seed outside the range", {},
     ["simulate", "--seeds=-1,9223372036854775807", "--items", "100", "--dim", "16", "--no-progress"],
     "seeds[0]=-1 is not allowed; it must be in [0, 2**63 - 1]"),
    ("config: negative users", {"c.json": _yaml({**CMP, "users": -5})}, ["compare", "--config", "{tmp}/c.json"],
     "users=-5 is not allowed; it must be >= 1"),
    ("config: tuning seed reused", {"c.json": _yaml({**CMP, "seeds": [9001, 7]})},
     ["compare", "--config", "{tmp}/c.json"], "evaluation seeds [9001] are also tuning seeds"),
    ("config: grid outside [0, 1]",
     {"c.json": _yaml({**CMP, "items": 50, "dim": 8, "tuning": {"grid": {"alpha": [1.5], "mix": [1],
                                                                         "explore": [0]}}})},
     ["compare", "--config", "{tmp}/c.json", "--no-progress", "--workers", "0"],
     "grid value alpha=1.5 is outside the allowed range [0.0, 1.0]"),
    ("config: a list of lists", {"c.json": _yaml({**CMP, "scenarios": [["abrupt"]]})},
     ["compare", "--config", "{tmp}/c.json"], "scenarios must be a list of names, got an entry ['abrupt'] (list)"),
    ("config: a list where a mapping belongs", {"c.json": _yaml({**CMP, "tuning": {"grid": [0.3]}})},
     ["compare", "--config", "{tmp}/c.json"],
     "tuning.grid must be a mapping of alpha, mix, explore to lists of values, got [0.3]"),
    ("config: a scalar grid value",
     {"c.json": _yaml({**CMP, "tuning": {"grid": {"alpha": 0.3, "mix": [1], "explore": [0]}}})},
     ["compare", "--config", "{tmp}/c.json"],
     "tuning.grid alpha must be a non-empty list of numbers in [0, 1], got 0.3"),
    ("config: fixed weights as a number", {"c.json": _yaml({**CMP, "fixed_weights": 0.3})},
     ["compare", "--config", "{tmp}/c.json"],
     "fixed_weights must be a list of 3 numbers (alpha, mix, explore), got 0.3"),
    ("config: missing file", {}, ["compare", "--config", "{tmp}/nope.yaml"], "no such config file"),
    ("flag file: unknown key", {"f.yaml": _yaml("userz: 8\n")}, ["simulate", "--config", "{tmp}/f.yaml"],
     "unknown key 'userz' for driftrec simulate; allowed: agents, catalog"),
    ("flag file: switch not true or false", {"f.yaml": _yaml("no-progress: 'yes'\n")},
     ["simulate", "--config", "{tmp}/f.yaml"], "--no-progress is a switch; give true or false, got 'yes'"),
    ("flag file: a mapping for a number", {"f.yaml": _yaml("users: {n: 8}\n")},
     ["simulate", "--config", "{tmp}/f.yaml"],
     "--users takes a number or text here, got dict: {'n': 8}"),
    ("config: wrong suffix", {"c.txt": _yaml("a: 1")}, ["compare", "--config", "{tmp}/c.txt"],
     "must be a .yaml, .yml or .json file"),
    # --- flags
    ("flag: unknown scenario", {}, ["simulate", "--scenario", "abrupd"], "unknown scenario 'abrupd'; known scenarios"),
    ("flag: unknown scenario parameter", {}, ["simulate", "--set", "hazard=0.1"],
     "unknown scenario parameter 'hazard' in --set; allowed:"),
    ("flag: scenario parameter out of range", {}, ["simulate", "--set", "shift_hazard=2", *SMALL],
     "shift_hazard"),
    ("flag: --set without =", {}, ["simulate", "--set", "shift_hazard"], "--set expects KEY=VALUE, got 'shift_hazard'"),
    ("flag: zero users", {}, ["simulate", "--users", "0"], "users=0 is not allowed; it must be >= 1"),
    ("flag: seeds not integers", {}, ["simulate", "--seeds", "1,x"],
     "argument --seeds: expected comma-separated integers, got '1,x'"),
    ("flag: two fixed weights", {}, ["simulate", "--fixed-weights", "0.3,0.7", *SMALL], "fixed_weights"),
    ("flag: weight above 1", {}, ["simulate", "--fixed-weights", "0.3,0.7,1.5", *SMALL], "explore"),
    ("flag: unknown agent", {}, ["compare", "--agents", "fixed,ucb"], "unknown agent 'ucb'; known agents"),
    ("flag: unknown PPO setting", {}, ["train", "--ppo", "lr=0.1"], "unknown PPO setting 'lr' in --ppo; allowed:"),
    ("flag: ppo agent without policy", {}, ["simulate", *SMALL[:-1], "ppo"], "agent 'ppo' needs a trained policy"),
    ("flag: missing checkpoint", {}, ["train", "--resume", "{tmp}/ckpt.zip", "--out", "{tmp}/t"],
     "no such checkpoint"),
    ("flag: --resume latest without checkpoints", {}, ["train", "--resume", "latest", "--out", "{tmp}/t"],
     "--resume latest: no checkpoint in"),
    ("flag: cuda without a GPU", {}, ["simulate", "--device", "cuda", *SMALL], "cuda"),
    ("flag: unknown device", {}, ["simulate", "--device", "tpu", *SMALL], "tpu"),
    ("flag: negative workers", {}, ["compare", "--workers", "-1"], "--workers must be >= 0"),
    ("flag: workers with Ray", {}, ["compare", "--backend", "ray", "--workers", "3"],
     "--workers is for --backend local"),
    ("flag: unknown backend", {}, ["compare", "--backend", "spark"], "argument --backend: invalid choice: 'spark'"),
    ("flag: unknown command", {}, ["simulat"], "invalid choice: 'simulat'"),
    # --- catalogs
    ("catalog: empty file", {"c.csv": _csv("")}, ["simulate", "--catalog", "{tmp}/c.csv", *SMALL], "is empty"),
    ("catalog: header only", {"c.csv": _csv("id,text\n")}, ["simulate", "--catalog", "{tmp}/c.csv", *SMALL],
     "catalog table is empty; it needs at least one row"),
    ("catalog: duplicate ids", {"c.csv": _csv("id,text\n1,a film\n2,a show\n1,a book\n")},
     ["simulate", "--catalog", "{tmp}/c.csv", *SMALL], "catalog ids must be unique; '1' appears more than once"),
    ("catalog: missing text", {"c.csv": _csv("id,text\n1,a film\n2,\n")},
     ["simulate", "--catalog", "{tmp}/c.csv", *SMALL], "catalog column 'text' is missing or empty at row 1"),
    ("catalog: no text column", {"c.csv": _csv("id,title\n1,a film\n")},
     ["simulate", "--catalog", "{tmp}/c.csv", *SMALL], "catalog table has no column 'text'"),
    ("catalog: NaN vector", {"c.parquet": _vectors([[1.0, 0.0], [float("nan"), 1.0]])},
     ["simulate", "--catalog", "{tmp}/c.parquet", *SMALL], "catalog embedding row 1 (id 'i1') contains NaN or inf"),
    ("catalog: zero vector", {"c.parquet": _vectors([[1.0, 0.0], [0.0, 0.0]])},
     ["simulate", "--catalog", "{tmp}/c.parquet", *SMALL], "catalog embedding row 1 (id 'i1') is all zeros"),
    ("catalog: ragged vectors", {"c.parquet": _vectors([[1.0, 0.0], [0.0, 1.0, 0.0]])},
     ["simulate", "--catalog", "{tmp}/c.parquet", *SMALL], "row 1 (id 'i1') has 3 numbers, row 0 has 2"),
    ("catalog: unknown file type", {"c.xlsx": _csv("x")}, ["simulate", "--catalog", "{tmp}/c.xlsx", *SMALL],
     "unknown file type '.xlsx'"),
    ("catalog: missing file", {}, ["simulate", "--catalog", "{tmp}/none.csv", *SMALL], "no such file"),
    ("catalog: unknown name", {}, ["simulate", "--catalog", "imdb", *SMALL], "unknown catalog 'imdb'"),
    ("catalog: unknown transform", {}, ["simulate", "--catalog", "synthetic", "--transform", "whiten", *SMALL],
     "transform 'whiten' is unknown; allowed: centre, none, pca:D with D a positive integer (pca:64)"),
    ("catalog: projection too large", {}, ["simulate", "--catalog", "synthetic", "--transform", "pca:32", *SMALL],
     "transform pca:32 asks for more dimensions than the catalog's 16; use pca:D with D <= 16"),
    ("catalog: transform of another catalog", {"c.parquet": _vectors([[1.0, 0.0, 0.5], [0.0, 1.0, 0.2]] * 3)},
     ["simulate", "--catalog", "{tmp}/c.parquet", "--transform", "pca:6", *SMALL],
     "transform pca:6 asks for more dimensions than the catalog's 3"),
    # --- exploration
    ("flag: unknown exploration mode", {}, ["simulate", "--catalog", "synthetic", "--set", "explore_mode=gumbel",
                                            *SMALL], "explore_mode 'gumbel' is unknown; allowed: slot, slate, softmax"),
    ("flag: temperature not positive", {}, ["simulate", "--catalog", "synthetic", "--set", "explore_temperature=0",
                                            *SMALL], "explore_temperature=0 is outside the allowed range (0.0, 10.0]"),
    ("flag: log exploration mode", {}, ["log", "--explore-mode", "gumbel"], "argument --explore-mode: invalid choice"),
    # --- scenario and policy files
    ("scenario file: not JSON", {"s.json": _csv("{oops")}, ["simulate", "--scenario", "{tmp}/s.json", *SMALL],
     "s.json"),
    ("scenario file: unknown parameter", {"s.json": _yaml({"shift_hazard": 0.1, "speed": 3})},
     ["simulate", "--scenario", "{tmp}/s.json", *SMALL], "unknown scenario keys ['speed']; allowed:"),
    ("policy: not a zip", {"p.zip": _csv("not a policy")},
     ["simulate", "--policy", "{tmp}/p.zip", *SMALL[:-1], "ppo"], "is not a saved policy"),
    ("policy: pickled entry", {"p.zip": _pickled_policy},
     ["simulate", "--policy", "{tmp}/p.zip", *SMALL[:-1], "ppo"],
     "holds a pickled entry 'extra' that driftrec does not know; loading it would run code, so it is refused"),
    # --- logs
    ("log: missing file", {}, ["ope", "--logs", "{tmp}/none.parquet", "--out", "{tmp}/o"], "no such"),
    ("log: pscore above 1", {"l.csv": _csv("action,position,reward,pscore\n1,0,1,1.5\n")},
     ["ope", "--logs", "{tmp}/l.csv", "--target", "logged", "--out", "{tmp}/o"], "pscore"),
    ("log: NaN reward", {"l.csv": _csv("action,position,reward,pscore\n1,0,,0.5\n")},
     ["ope", "--logs", "{tmp}/l.csv", "--target", "logged", "--out", "{tmp}/o"], "reward"),
    ("log: missing column", {"l.csv": _csv("action,reward,pscore\n1,1,0.5\n")},
     ["ope", "--logs", "{tmp}/l.csv", "--target", "logged", "--out", "{tmp}/o"], "position"),
    ("log: empty", {"l.csv": _csv("action,position,reward,pscore\n")},
     ["ope", "--logs", "{tmp}/l.csv", "--target", "logged", "--out", "{tmp}/o"], "has no rows"),
    ("log: no times for a drift-aware estimator", {"l.csv": _csv("action,position,reward,pscore\n1,0,1,0.5\n")},
     ["ope", "--logs", "{tmp}/l.csv", "--target", "logged", "--estimators", "sw-ipw", "--out", "{tmp}/o"],
     "the drift-aware estimators need the time of every row, and this log has none"),
    ("log: no weight densities", {"l.csv": _csv("action,position,reward,pscore\n1,0,1,0.5\n")},
     ["ope", "--sequential", "--logs", "{tmp}/l.csv", "--target", "alpha=0.3", "--out", "{tmp}/o"],
     "make it with driftrec log --weight-noise S)"),
    ("flag: empty drift window", {}, ["ope", "--validate", "--estimators", "sw-ipw", "--window", "0"],
     "window=0.0 is outside the allowed range (0.0, inf]"),
    ("flag: unknown truth", {}, ["ope", "--validate", "--truth", "later"],
     "argument --truth: invalid choice: 'later' (choose from 'logged', 'now')"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "files", "argv", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_gives_one_clear_error_line(
    name: str, files: dict[str, Any], argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for fname, write in files.items():
        write(tmp_path / fname)
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and "warning:" not in ln]
    assert code == 2, (name, code, err)
    assert "Traceback" not in err
    assert len(lines) == 1, (name, lines)
    assert expected in lines[0], (name, lines[0])
    assert lines[0].startswith("driftrec"), lines[0]
    print(f"{name}: {lines[0]}")
    assert not (tmp_path / "out" / "summary.json").exists(), "a failed run must not write results"


def test_error_messages_are_documented() -> None:
    """docs/errors.md names every row of the table and its message."""
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name, _, _, expected in ROWS if name not in text or expected not in text]
    assert not missing, f"docs/errors.md lacks rows: {missing}"
