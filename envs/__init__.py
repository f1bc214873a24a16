"""Gymnasium adapters over the batched simulator: single-user Env, batched env, SB3 VecEnv."""

import gymnasium

from driftrec.envs.batched import ACTION_MODES, DriftVecEnv, default_catalog, make_vec_env, resolve_device
from driftrec.envs.single import DriftEnv

ENV_ID = "driftrec/DriftingInterests-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="driftrec.envs.single:DriftEnv")

__all__ = ["ACTION_MODES", "ENV_ID", "DriftEnv", "DriftVecEnv", "default_catalog", "make_vec_env", "resolve_device"]
