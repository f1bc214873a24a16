"""Shared pieces: the one rollout loop, atomic files, confidence intervals, plots, metrics beyond clicks."""
