"""Argument types and shared flags of the ``driftrec`` subcommands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from driftrec.simulators.scenarios import PRESETS, override_keys


class UserError(Exception):
    """A mistake in the command's input: reported in one line, exit status 2."""


def int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from exc


def float_list(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from exc


def name_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from exc
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--set expects KEY=VALUE, got {pair!r}")
        key, raw = pair.split("=", 1)
        key = key.strip()
        if key not in override_keys():
            raise UserError(
                f"unknown scenario parameter {key!r} in --set; allowed: {', '.join(sorted(override_keys()))}"
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def parse_ppo(pairs: list[str]) -> dict[str, Any]:
    """``--ppo KEY=VALUE`` pairs as PPO settings (keys of ``PPO_DEFAULTS``, values JSON)."""
    from driftrec.agents.ppo import PPO_DEFAULTS

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise UserError(f"--ppo expects KEY=VALUE, got {pair!r}")
        if key.strip() not in PPO_DEFAULTS:
            raise UserError(f"unknown PPO setting {key.strip()!r} in --ppo; allowed: {', '.join(PPO_DEFAULTS)}")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UserError(f"--ppo {key.strip()} needs a number or JSON list, got {raw!r}") from exc
    return out


def scenario_list(text: str) -> list[str]:
    names = list(PRESETS) if text == "all" else name_list(text)
    for n in names:
        if n not in PRESETS and not n.endswith(".json"):
            raise UserError(
                f"unknown scenario {n!r}; known scenarios: {', '.join(PRESETS)} (or 'all', or a .json scenario file)"
            )
    return names


class DeprecatedFlag(argparse.Action):
    """An old spelling of a flag: stores into the new flag's ``dest`` (appending if ``append``) and
    says on stderr that it is deprecated and what to use. Hidden from ``--help``."""

    def __init__(self, option_strings: list[str], dest: str, new: str, append: bool = False, **kw: Any) -> None:
        self.new, self.append = new, append
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kw)

    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, values: Any, opt: Any = None) -> None:
        print(f"driftrec: {opt} is deprecated; use {self.new}", file=sys.stderr)
        if self.append:
            setattr(ns, self.dest, [*(getattr(ns, self.dest, None) or []), values])
        else:
            setattr(ns, self.dest, values)


def new_command(sub: Any, name: str) -> argparse.ArgumentParser:
    """The subcommand ``name``'s parser on the subparsers ``sub``, with its help and description
    from ``cli.texts.COMMANDS``."""
    from driftrec.experiments.cli.texts import COMMANDS

    help_line, description = COMMANDS[name]
    return sub.add_parser(name, help=help_line, description=description)


def add_common(p: argparse.ArgumentParser, out_default: str) -> None:
    """--out and --no-progress (--device comes from each command's config)."""
    p.add_argument("--out", type=Path, default=Path(out_default), help=f"output folder [{out_default}]")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def check_out(path: Path, is_file: bool = False) -> None:
    """Fail before any work if ``--out`` cannot be written: a file where a folder is meant (or the
    reverse), or a place whose nearest existing folder is not writable (read-only file system, no
    permission). Creates nothing."""
    if is_file and path.is_dir():
        raise UserError(f"--out {str(path)!r} is a folder; give the file to write")
    if not is_file and path.exists() and not path.is_dir():
        raise UserError(f"--out {str(path)!r} is a file, not a folder; give a folder for the results")
    base = (path.parent if is_file else path).absolute()
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise UserError(f"--out {str(path)!r} cannot be created: {str(base)!r} is a file")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UserError(f"--out {str(path)!r} cannot be written: {str(base)!r} is not writable")


def agent_help(agents: dict[str, str]) -> str:
    """Agents' descriptions as one help string (``config_flags`` escapes its '%')."""
    return "; ".join(f"{k}: {v}" for k, v in agents.items())


def add_backend_args(p: argparse.ArgumentParser) -> None:
    """--backend, --workers, --threads, --ray-address: where the sweep's units run."""
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="where the independent units run: 'local' processes, or 'ray' (pip install 'driftrec[ray]'; "
        "a local Ray, or the cluster at --ray-address) [local]",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="local worker processes running units at once; 0 runs them in this process [1]",
    )
    p.add_argument(
        "--threads",
        type=positive,
        default=None,
        help="torch threads per unit; PPO training results depend on it, so keep it fixed to compare "
        "backends [local: cores / workers; ray: 1]",
    )
    p.add_argument(
        "--ray-address", default=None, help="Ray cluster to join, e.g. 'auto' or 'ray://host:10001' [start a local Ray]"
    )


def backend_from_args(args: argparse.Namespace) -> Any:
    """The backend the --backend flags ask for (``experiments.sweeps.backends.make_backend``)."""
    from driftrec.experiments.sweeps.backends import make_backend

    if args.workers < 0:
        raise UserError(f"--workers must be >= 0 (0 = in this process), got {args.workers}")
    if args.backend != "local" and args.workers != 1:
        raise UserError("--workers is for --backend local; Ray schedules its own workers")
    return make_backend(args.backend, workers=args.workers, threads=args.threads, address=args.ray_address)


FLAG_CONFIG = "flag_config"
"""The dest of ``--config`` where it holds a command's flags (compare's --config is its own schema)."""


def add_flag_config(p: argparse.ArgumentParser) -> None:
    """``--config FILE`` on a command whose settings are its flags (``expand_flag_config``)."""
    p.add_argument(
        "--config",
        dest=FLAG_CONFIG,
        type=Path,
        default=None,
        metavar="FILE",
        help="a YAML or JSON file of this command's flags: keys are the long flag names without '--' "
        "(users: 64, no-progress: true, seeds: [1, 2], set: {shift_hazard: 0.1}); flags given on the "
        "command line win",
    )


def _flag_tokens(action: argparse.Action, flag: str, value: Any, where: str) -> list[str]:
    """The command-line tokens that give ``value`` to the flag ``flag`` (of ``action``)."""

    def scalar(v: Any) -> str:
        if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
            kind = "true/false" if isinstance(v, bool) else type(v).__name__
            raise UserError(f"{where}: {flag} takes a number or text here, got {kind}: {v!r}")
        return str(v)

    if action.nargs == 0:  # a switch (--no-progress, --quick)
        if not isinstance(value, bool):
            raise UserError(f"{where}: {flag} is a switch; give true or false, got {value!r}")
        return [flag] if value else []
    if isinstance(action, argparse._AppendAction):  # --set KEY=VALUE, --ppo KEY=VALUE: one token per entry
        if isinstance(value, dict):
            entries = [f"{k}={json.dumps(v) if isinstance(v, (list, dict, bool)) else v}" for k, v in value.items()]
        elif isinstance(value, list):
            entries = [scalar(v) for v in value]
        else:
            entries = [scalar(value)]
        return [t for e in entries for t in (flag, e)]
    if isinstance(value, list):  # comma-separated lists (--seeds 1,2,3, --agents fixed,oracle)
        return [flag, ",".join(scalar(v) for v in value)]
    return [flag, scalar(value)]


def expand_flag_config(commands: dict[str, argparse.ArgumentParser], argv: list[str]) -> list[str]:
    """``argv`` with a command's ``--config FILE`` replaced by the flags the file names, placed before
    the command line's own flags (so those win; flags that add up, --set and --ppo, keep both).
    Commands without ``add_flag_config`` are left alone. Unknown keys and values a flag cannot take
    are one-line ``UserError``s."""
    from driftrec.experiments.common import io

    at = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if at is None or argv[at] not in commands:
        return argv
    parser = commands[argv[at]]
    if not any(a.dest == FLAG_CONFIG for a in parser._actions):
        return argv
    rest = argv[at + 1 :]
    path = None
    for i, a in enumerate(rest):
        if a == "--config" and i + 1 < len(rest):
            path, rest = rest[i + 1], rest[:i] + rest[i + 2 :]
            break
        if a.startswith("--config="):
            path, rest = a.split("=", 1)[1], rest[:i] + rest[i + 1 :]
            break
    if path is None:
        return argv
    if any(a == "--config" or a.startswith("--config=") for a in rest):
        raise UserError(
            "--config is given more than once; give one file (its flags can be overridden on the command line)"
        )
    raw = io.read_mapping(path)
    where = f"config {path!r}"
    flags = {
        opt: action
        for action in parser._actions
        for opt in action.option_strings
        if opt.startswith("--") and action.dest not in (FLAG_CONFIG, "help")
    }
    tokens: list[str] = []
    for key, value in raw.items():
        flag = "--" + str(key).replace("_", "-")
        if flag not in flags:
            allowed = ", ".join(sorted(f[2:] for f in flags))
            raise UserError(f"{where}: unknown key {key!r} for driftrec {argv[at]}; allowed: {allowed}")
        tokens += _flag_tokens(flags[flag], flag, value, where)
    return argv[: at + 1] + tokens + rest
