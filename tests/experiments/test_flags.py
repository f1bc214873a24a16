"""Flags generated from the config dataclasses (experiments/cli/flags.py, issue 19 scope 3)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from driftrec.experiments.cli.args import scenario_list
from driftrec.experiments.cli.flags import config_flags, config_from_args, field_docs
from driftrec.experiments.cli.main import build_parser
from driftrec.experiments.diagnostics.bench import BenchConfig
from driftrec.experiments.diagnostics.catalog_geometry import GeometryConfig
from driftrec.experiments.diagnostics.soak import SoakConfig
from driftrec.experiments.offline.offpolicy import OPEConfig
from driftrec.experiments.offline.replay import ReplayConfig
from driftrec.experiments.offline.trajectories import LogConfig
from driftrec.experiments.online.calibrate import CalibrateConfig
from driftrec.experiments.online.compare import CompareConfig
from driftrec.experiments.online.portability import PortabilityConfig
from driftrec.experiments.online.runner import SimulateConfig
from driftrec.experiments.online.train import TrainConfig

# command -> (its config, the fields it does not take as flags, the flags whose names differ)
COMMANDS = {
    "simulate": (SimulateConfig, (), {"scenarios": "--scenario"}),
    "train": (TrainConfig, (), {}),
    "calibrate": (CalibrateConfig, ("base",), {"drift_scale": "--drift", "shift_hazard": "--shift"}),
    "log": (LogConfig, (), {}),
    "ope": (LogConfig, (), {"policy": "--policy-file"}),
    "ope ": (OPEConfig, (), {}),
    "geometry": (GeometryConfig, (), {}),
    "bench": (BenchConfig, ("scenario", "ref_users"), {"recogym_python": "--recogym"}),
    "compare": (CompareConfig, ("items", "dim", "tuning", "ppo"), {"scenarios": "--scenario"}),
    "quickstart": (CompareConfig, ("items", "dim", "tuning", "ppo"), {"scenarios": "--scenario"}),
    "replay": (ReplayConfig, (), {}),
    "soak": (SoakConfig, ("warmup",), {"scenarios": "--scenario"}),
    "portability": (PortabilityConfig, ("tuning", "items", "dim"), {"scenarios": "--scenario"}),
}
ALWAYS = {"overrides": "--set", "hyper": "--ppo"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    return build_parser().commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_config_field_is_a_flag_with_its_docstring(command):
    cls, skip, names = COMMANDS[command]
    parser = _subparsers()[command.strip()]
    by_dest = {a.dest: a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS}
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            assert f.name not in by_dest, f.name
            continue
        action = by_dest[f.name]
        flag = names.get(f.name) or ALWAYS.get(f.name) or "--" + f.name.replace("_", "-")
        assert flag in action.option_strings, (f.name, action.option_strings)
        if f.name in docs:
            first = docs[f.name].split(";")[0].replace("%", "%%")[:30]
            overridden = ("scenario", "scenarios", "agent", "agents", "catalogs", "target")
            assert first in action.help or f.name in overridden or command in ("bench", "compare", "quickstart")


def test_defaults_give_the_configs_defaults_except_the_device():
    """With no flags, each command builds its config's defaults (device: auto, resolved or not)."""
    parsers = _subparsers()
    for command, given in (("train", {}), ("soak", {}), ("log", {})):
        cls = COMMANDS[command][0]
        args = parsers[command].parse_args(["--out", "x.parquet"] if command == "log" else [])
        got = config_from_args(cls, args, **given)
        want = cls()
        diff = {k for k in dataclasses.asdict(want) if getattr(got, k) != getattr(want, k)}
        allowed = {"device", "checkpoint_every", "eval_every", "scenarios"}  # the commands' own defaults
        assert diff <= allowed, (command, diff)
        assert got.device == "auto"


def test_types_come_from_the_annotations():
    @dataclasses.dataclass(frozen=True)
    class Demo:
        seeds: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
        """seeds to run"""
        weights: tuple[float, float] = (0.5, 0.25)
        """two weights"""
        limit: int | None = None
        """at most this many [all]"""
        path: Path = Path("x")
        """where"""
        fast: bool = False
        """go fast"""
        overrides: dict = dataclasses.field(default_factory=dict)
        """ignored: the shared help is not used when a docstring is there"""
        scenarios: list[str] = dataclasses.field(default_factory=lambda: ["abrupt"])
        """presets"""

    p = argparse.ArgumentParser()
    config_flags(p, Demo, parsers={"scenarios": scenario_list}, names={"scenarios": "scenario"})
    cfg = config_from_args(Demo, p.parse_args([]))
    assert cfg == Demo()
    args = p.parse_args(
        ["--seeds", "3,4,5", "--weights", "1,2", "--limit", "7", "--path", "y", "--fast"]
        + ["--set", "shift_hazard=0.1", "--set", "churn_rate=0.2", "--scenario", "all"]
    )
    cfg = config_from_args(Demo, args)
    assert cfg.seeds == [3, 4, 5] and cfg.weights == (1.0, 2.0) and isinstance(cfg.weights, tuple)
    assert cfg.limit == 7 and cfg.path == Path("y") and cfg.fast is True
    assert cfg.overrides == {"shift_hazard": 0.1, "churn_rate": 0.2}
    assert "stable" in cfg.scenarios and len(cfg.scenarios) > 3
    helps = {a.dest: a.help for a in p._actions}
    assert helps["seeds"] == "seeds to run [1,2]" and helps["weights"] == "two weights [0.5,0.25]"
    assert helps["limit"] == "at most this many [all]" and helps["fast"] == "go fast"
    with pytest.raises(SystemExit):
        p.parse_args(["--limit", "seven"])


def test_a_field_without_help_is_refused():
    @dataclasses.dataclass
    class NoDoc:
        mystery: int = 1

    with pytest.raises(TypeError, match=r"NoDoc.mystery has no docstring to be the help of --mystery"):
        config_flags(argparse.ArgumentParser(), NoDoc)
