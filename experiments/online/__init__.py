"""Runs in the simulator: simulate, tune, train, compare, calibrate, portability, transfer."""
