"""Shared pieces: atomic files, confidence intervals, plots, metrics beyond clicks."""
