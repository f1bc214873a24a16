"""The ``driftrec`` command line.

    driftrec quickstart                  train a small PPO policy and compare it with fixed weights
    driftrec simulate --scenario abrupt  one or more scenarios, chosen agents, seeds, sizes
    driftrec train --scenario abrupt     train a PPO weight policy (checkpoints, resume, TensorBoard)
    driftrec compare --config FILE       paired comparison: tuned fixed weights, rules, bandits, PPO
    driftrec log --out FILE.parquet      trajectory log: one row per shown item, with propensities
    driftrec ope --logs FILE --policy P  off-policy estimates with intervals (--validate: vs the simulator)
    driftrec replay --dataset movielens  weighting strategies over real MovieLens timelines
    driftrec bench                       speed: throughput, step vs kernel, per-user references, PPO split
    driftrec soak                        long run of every preset: invariants (NaN, norms) and memory
    driftrec calibrate                   fit drift to real MovieLens timelines
    driftrec reproduce --list            the commands whose outputs the docs publish (and a runner)
    driftrec scenarios                   the presets and their parameters

User errors (bad values, unknown names) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

import driftrec
from driftrec.encoders import ModelUnavailableError
from driftrec.envs.memory import keep_freed_memory
from driftrec.experiments.cli import diagnostics as cli_bench
from driftrec.experiments.cli import offline as cli_offline
from driftrec.experiments.cli import online as cli_online
from driftrec.experiments.cli.args import UserError, add_flag_config, check_out, expand_flag_config
from driftrec.experiments.sweeps.outlock import hold


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: "driftrec CMD: error: ... (see driftrec CMD --help)", status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="driftrec",
        description="Simulate recommender users whose interests drift, and compare how recommenders weight "
        "new evidence. Every run writes config.json, summary.json, per-run CSV rows and plots to --out.",
    )
    parser.add_argument("--version", action="version", version=f"driftrec {driftrec.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cli_online.add_parsers(sub)
    cli_offline.add_parsers(sub)
    cli_bench.add_parsers(sub)

    for sp in sub.choices.values():  # every command's flags can come from a file (compare: its own config)
        if not any(a.option_strings == ["--config"] for a in sp._actions):
            add_flag_config(sp)
    parser.commands = sub.choices  # type: ignore[attr-defined]
    return parser


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    print(f"driftrec: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    try:
        expanded = expand_flag_config(parser.commands, given)  # type: ignore[attr-defined]
    except (UserError, ValueError, FileNotFoundError) as exc:
        command = next((a for a in given if not a.startswith("-")), "")
        print(f"driftrec {command}: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(expanded)
    warnings.showwarning = _show_warning
    try:
        out = getattr(args, "out", None)
        if isinstance(out, Path):
            check_out(out, is_file=args.command == "log")
            if args.command != "log":  # a folder of results: one run at a time, marked until complete
                with hold(out, " ".join(["driftrec", *given])):
                    return _dispatch(parser, args)
        return _dispatch(parser, args)
    except (UserError, ValueError, TypeError, FileNotFoundError, ModuleNotFoundError, ModelUnavailableError) as exc:
        if os.environ.get("DRIFTREC_DEBUG"):
            raise
        print(f"driftrec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:  # driftrec's up-front estimate, or the allocator's own refusal
        if os.environ.get("DRIFTREC_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        print(f"driftrec {args.command}: error: {first}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder that became read-only, ...: one line, not a traceback
        if os.environ.get("DRIFTREC_DEBUG"):
            raise
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"driftrec {args.command}: error: cannot write or read{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the subcommand ``args.command``; its exit status. Freed memory stays in this process and
    the ones it starts (``envs.memory``: large batches step up to 1.25x faster, the same numbers)."""
    keep_freed_memory()
    if args.command in ("quickstart", "simulate", "train", "compare", "calibrate", "scenarios"):
        return cli_online.run(args)
    if args.command in ("log", "ope", "replay"):
        return cli_offline.run(args)
    if args.command in ("bench", "soak", "portability", "geometry", "reproduce"):
        return cli_bench.run(args)
    parser.error(f"unknown command {args.command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
