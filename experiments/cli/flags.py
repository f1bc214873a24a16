"""Command-line flags generated from a config dataclass, and the config read back from them.

A command's settings are the fields of its config (``SimulateConfig``, ``TrainConfig``, ...): each
field is one flag, named after it (``fixed_weights`` -> ``--fixed-weights``), parsed by its type,
defaulting to its default, and explained by its attribute docstring (the string literal under the
field), as cleanrl's ``Args`` and tyro do. Settings many commands share (catalog, population,
transform, device, --set) are explained once (``CatalogSettings``, ``SHARED_HELP``).

    config_flags(parser, SimulateConfig, defaults={"catalog": "movielens"})
    cfg = config_from_args(SimulateConfig, parser.parse_args())

Types: ``int``, ``float``, ``str`` and ``Path`` (optionally ``| None``), ``bool`` (a switch),
lists and tuples of numbers or names (comma-separated: ``--seeds 1,2,3``), and ``dict`` fields
given as repeatable ``KEY=VALUE`` flags (``--set shift_hazard=0.1``) or by a field's parser.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import textwrap
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from driftrec.experiments.cli.args import float_list, int_list, name_list, parse_ppo, parse_sets, scenario_list
from driftrec.experiments.common.settings import CatalogSettings

COMMAND_DEFAULTS = {"device": "auto"}
"""Every command's defaults where they differ from the configs' (which default to cpu for library
use): one ``--device`` default, auto."""

FLAG_NAMES = {"overrides": "set", "hyper": "ppo", "scenarios": "scenario"}
"""Fields whose flag is not their own name."""

TEXT_PARSERS: dict[str, Callable[[str], Any]] = {"scenarios": scenario_list}
"""Fields read from their flag's text by a parser of their own (``--scenario all``, by default)."""

PAIR_PARSERS: dict[str, Callable[[list[str]], dict[str, Any]]] = {"overrides": parse_sets, "hyper": parse_ppo}
"""``KEY=VALUE`` fields: the parser that checks the keys and reads the values."""

FIELD_PARSERS = "_field_parsers"
"""The namespace entry holding ``config_flags``' ``parsers``, which ``config_from_args`` applies."""


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass and its bases: field name -> its docstring, joined
    into one line."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):  # no source (a frozen build): the shared help still applies
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:], strict=False):
            is_doc = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and is_doc:
                docs[node.target.id] = " ".join(str(after.value.value).split())  # type: ignore[attr-defined]
    return docs


SHARED_HELP = {
    **field_docs(CatalogSettings),
    "overrides": "override a scenario parameter for every scenario (repeatable), e.g. --set shift_hazard=0.05",
    "hyper": "override a PPO setting (repeatable)",
    "policy": "saved PPO policy (policy.zip from driftrec train) for agent ppo",
    "fixed_weights": "alpha, mix (lambda) and explore of the fixed baseline",
}
"""Help of the settings many configs have, where a config's field has no docstring of its own."""


def _unwrap_optional(tp: Any) -> Any:
    """``X`` of ``X | None`` (or ``X`` itself)."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _element(tp: Any) -> Any | None:
    """The element type of a list or tuple annotation (None: not a sequence)."""
    if typing.get_origin(tp) not in (list, tuple):
        return None
    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    return args[0] if args else str


def _scalar(kind: type, name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from exc

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_show(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def config_flags(
    p: argparse.ArgumentParser,
    cls: type,
    *,
    skip: Sequence[str] = (),
    defaults: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
    parsers: Mapping[str, Callable[[str], Any]] | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
    helps: Mapping[str, str] | None = None,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Add one flag per field of the dataclass ``cls`` to ``p`` (dest: the field's name).

    skip: fields the command does not take. defaults: this command's default where it differs from
    the field's. names: flag names other than the field's (``FLAG_NAMES`` always apply). parsers:
    a field's parser of its flag's text where its type does not say enough (``--scenario all``).
    aliases: extra spellings of a flag. helps: help where a command means more than the docstring
    (it replaces it). extra: more ``add_argument`` keywords (``choices``, ``metavar``)."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    taken = {f.name for f in dataclasses.fields(cls) if f.name not in skip and f.init}
    parsers = {k: v for k, v in TEXT_PARSERS.items() if k in taken} | dict(parsers or {})
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        default = ({**COMMAND_DEFAULTS, **(defaults or {})}).get(f.name, _default(f))
        flag = "--" + (names or {}).get(f.name, FLAG_NAMES.get(f.name, f.name)).replace("_", "-")
        text = (helps or {}).get(f.name) or docs.get(f.name) or SHARED_HELP.get(f.name)
        if not text:
            raise TypeError(f"{cls.__name__}.{f.name} has no docstring to be the help of {flag}")
        kw: dict[str, Any] = {"dest": f.name, "default": default}
        tp = _unwrap_optional(hints[f.name])
        element = _element(tp)
        if f.name in PAIR_PARSERS:
            kw |= {"action": "append", "default": [], "metavar": "KEY=VALUE"}
        elif f.name in parsers:  # applied by config_from_args, so its errors are the config's
            kw["type"] = str
        elif tp is bool:
            kw["action"] = argparse.BooleanOptionalAction if default else "store_true"
        elif element is not None:
            kw["type"] = {int: int_list, float: float_list}.get(element, name_list)
            default = None if default is None else list(default)
            kw["default"] = default
        elif tp is int:
            kw["type"] = _scalar(int, "an integer")
        elif tp is float:
            kw["type"] = _scalar(float, "a number")
        elif tp is Path:
            kw["type"] = Path
        kw |= dict((extra or {}).get(f.name, {}))
        if kw.get("action") not in ("store_true", argparse.BooleanOptionalAction) and "choices" not in kw:
            kw["metavar"] = kw.get("metavar") or flag[2:].upper().replace("-", "_")
        if default not in (None, [], {}) and not text.endswith("]") and tp is not bool:
            text += f" [{_show(default)}]"
        kw["help"] = text.replace("%", "%%")
        p.add_argument(flag, *(aliases or {}).get(f.name, ()), **kw)
    if parsers:
        p.set_defaults(**{FIELD_PARSERS: {**(p.get_default(FIELD_PARSERS) or {}), **parsers}})


def config_from_args(cls: type, args: argparse.Namespace, **given: Any) -> Any:
    """An instance of the dataclass ``cls`` from the flags ``config_flags`` added (``given`` wins):
    lists become tuples where the field is a tuple, ``KEY=VALUE`` lists become dicts. Fields without
    a flag keep their defaults."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in given or not f.init or not hasattr(args, f.name):
            continue
        value = getattr(args, f.name)
        if f.name in (getattr(args, FIELD_PARSERS, None) or {}) and isinstance(value, str):
            value = getattr(args, FIELD_PARSERS)[f.name](value)
        elif f.name in PAIR_PARSERS and isinstance(value, list):
            value = PAIR_PARSERS[f.name](value)
        elif isinstance(value, list) and typing.get_origin(_unwrap_optional(hints[f.name])) is tuple:
            value = tuple(value)
        values[f.name] = value
    return cls(**values, **given)
