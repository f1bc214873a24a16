"""The CleanRL-style PPO example (docs/examples/cleanrl_ppo.py) learns on the vector env."""

import importlib.util
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cleanrl_ppo.py"


def test_a_tiny_cleanrl_style_run_beats_random_weights():
    spec = importlib.util.spec_from_file_location("cleanrl_ppo", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["cleanrl_ppo"] = mod  # dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules["cleanrl_ppo"]
    args = mod.Args(num_envs=32, total_timesteps=8192, eval_steps=100)
    agent = mod.train(args, verbose=False)
    learned, random = mod.clicks_per_step(args, agent), mod.clicks_per_step(args, None)
    assert learned > 1.3 * random, (learned, random)
