"""Gymnasium adapters over the batched simulator: single-user Env, batched VectorEnv, SB3 VecEnv.

``gymnasium.make(ENV_ID)`` builds the single-user ``DriftEnv``; ``gymnasium.make_vec(ENV_ID,
num_envs=N)`` builds ``DriftVecEnv`` over N users (its vector entry point, numpy in and out).
"""

import gymnasium

from driftrec.envs.batched import ACTION_MODES, DriftVecEnv, default_catalog, make_vec_env, resolve_device
from driftrec.envs.memory import keep_freed_memory
from driftrec.envs.single import DriftEnv

ENV_ID = "driftrec/DriftingInterests-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="driftrec.envs.single:DriftEnv",
        vector_entry_point="driftrec.envs.batched:vector_entry_point",
    )

__all__ = [
    "ACTION_MODES",
    "ENV_ID",
    "DriftEnv",
    "DriftVecEnv",
    "default_catalog",
    "keep_freed_memory",
    "make_vec_env",
    "resolve_device",
]
