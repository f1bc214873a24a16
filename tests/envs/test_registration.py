"""The env as other processes and libraries build it: by id from a fresh interpreter, from a config
mapping, with Python's TypeError for unknown keywords, and with seeds of any size."""

import subprocess
import sys

import gymnasium
import numpy as np
import pytest

from driftrec.envs import ENV_ID, DriftEnv, DriftVecEnv
from driftrec.simulators.rng import seed_bits, seeds_to_keys


def test_a_fresh_interpreter_finds_the_env_by_the_module_prefixed_id():
    code = (
        "import sys, gymnasium\n"
        "assert 'driftrec' not in sys.modules\n"
        f"env = gymnasium.make('driftrec:{ENV_ID}', scenario='abrupt')\n"
        "obs, _ = env.reset(seed=0)\n"
        f"venv = gymnasium.make_vec('driftrec:{ENV_ID}', num_envs=3)\n"
        "print(obs.shape, venv.reset(seed=0)[0].shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(11,) (3, 11)"


def test_a_config_mapping_builds_the_same_env_as_keywords():
    a = DriftEnv({"scenario": "abrupt", "shift_hazard": 0.1, "num_items": 200, "dim": 16})
    b = DriftEnv("abrupt", num_items=200, dim=16, shift_hazard=0.1)
    assert a.scenario == b.scenario
    np.testing.assert_array_equal(a.reset(seed=4)[0], b.reset(seed=4)[0])
    with pytest.raises(TypeError, match="either a config mapping or keywords"):
        DriftEnv({"scenario": "abrupt"}, num_items=200)


def test_unknown_keywords_are_type_errors_that_name_the_env():
    with pytest.raises(TypeError, match=r"DriftEnv\(\) got an unexpected keyword argument 'frameskip'"):
        DriftEnv("abrupt", frameskip=4)
    with pytest.raises(TypeError, match="unexpected keyword argument 'frameskip'"):
        gymnasium.make(ENV_ID, frameskip=4)
    with pytest.raises(TypeError, match=r"DriftVecEnv\(\) got an unexpected keyword argument 'frameskip'"):
        DriftVecEnv("abrupt", 2, frameskip=4)


def test_seeds_of_any_size_are_accepted_and_do_not_alias():
    seeds = [0, 7, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1, 2**64, 2**64 + 1, 2**200]
    keys = seeds_to_keys(seeds).tolist()
    assert len(set(keys)) == len(seeds)
    assert [seed_bits(s) for s in seeds[:3]] == seeds[:3]  # seeds below 2**63 keep their users
    env = DriftEnv("mixed", num_items=200, dim=16)
    first = []
    for s in seeds:
        obs, _ = env.reset(seed=s)
        trail = [env.step(np.zeros(3, np.float32))[0] for _ in range(5)]
        first.append(np.concatenate([obs, *trail]).tobytes())
    assert len(set(first)) == len(seeds)  # distinct seeds, distinct users
    a, _ = DriftEnv("mixed", num_items=200, dim=16).reset(seed=2**64 - 1)
    b, _ = DriftVecEnv("mixed", 1, num_items=200, dim=16).reset(seed=[2**64 - 1])
    np.testing.assert_array_equal(a, b[0])


@pytest.mark.parametrize(
    ("seed", "exc", "match"),
    [(-1, ValueError, "seed=-1 is negative"), (1.5, TypeError, "got float: 1.5"), (True, TypeError, "got bool")],
)
def test_bad_seeds_are_clear_errors(seed, exc, match):
    env = DriftVecEnv("stable", 2, num_items=50, dim=8)
    with pytest.raises(exc, match=match):
        env.reset(seed=[0, seed])
