import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import driftrec
from driftrec.envs import ENV_ID, DriftEnv


@pytest.mark.parametrize("scenario", ["stable", "mixed"])
def test_gymnasium_and_sb3_env_checkers_pass_without_warnings(scenario):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(DriftEnv(scenario, num_items=300, dim=32), skip_render_check=True)
        sb3_check_env(DriftEnv(scenario, num_items=300, dim=32), warn=True)
        gym_check_env(
            gymnasium.make(ENV_ID, scenario=scenario, num_items=300, dim=32).unwrapped, skip_render_check=True
        )


def _rollout(env, seed, steps=60):
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(0)
    out = [obs]
    rewards = []
    for _ in range(steps):
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        out.append(obs)
        rewards.append(r)
        if term or trunc:
            obs, _ = env.reset()
    return np.array(out), np.array(rewards)


def test_same_seed_same_trajectory_and_different_seeds_differ():
    make = lambda: gymnasium.make(ENV_ID, scenario="mixed", num_items=300, dim=32)  # noqa: E731
    o1, r1 = _rollout(make(), 7)
    o2, r2 = _rollout(make(), 7)
    o3, r3 = _rollout(make(), 8)
    assert np.array_equal(o1, o2) and np.array_equal(r1, r2)
    assert not np.array_equal(o1, o3)


def test_gymnasium_make_registers_the_env_with_its_spaces():
    env = gymnasium.make(ENV_ID, scenario="abrupt")
    assert env.action_space == gymnasium.spaces.Box(-1, 1, (3,), np.float32)
    assert env.observation_space.shape == (11,)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert driftrec.DriftEnv is DriftEnv


def test_slate_mode_takes_item_indices():
    env = DriftEnv("stable", num_items=100, dim=16, action_mode="slate", slate_size=4)
    env.reset(seed=0)
    obs, r, term, trunc, info = env.step(np.array([3, 1, 4, 5]))
    assert list(info["items"]) == [3, 1, 4, 5] and 0 <= r <= 4
