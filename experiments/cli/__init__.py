"""The ``driftrec`` command line: one module per group of subcommands, and the shared flags."""

from driftrec.experiments.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
