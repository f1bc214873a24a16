"""Bench, soak and catalog geometry: how fast the env is, whether it stays sound, what a catalog is."""
