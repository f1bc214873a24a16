"""DriftVecEnv as a gymnasium.vector.VectorEnv: spaces, numpy by default, same-step autoreset,
make_vec's vector entry point and Gymnasium's own vector wrappers."""

import re
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers import vector as vw

import driftrec
from driftrec.envs import ENV_ID, DriftEnv, DriftVecEnv


def test_make_vec_env_is_a_gymnasium_vector_env_with_batched_spaces():
    env = driftrec.make_vec_env("abrupt", 8)
    assert isinstance(env, VectorEnv) and env.num_envs == 8
    assert env.single_observation_space.shape == (11,) and env.observation_space.shape == (8, 11)
    assert env.single_action_space == gymnasium.spaces.Box(0.0, 1.0, (3,), np.float32)
    assert env.action_space.shape == (8, 3)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, info = env.reset(seed=0)
    assert isinstance(obs, np.ndarray) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    env.action_space.seed(0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    assert reward.shape == (8,) and reward.dtype == np.float32
    assert terminated.dtype == np.bool_ and truncated.dtype == np.bool_
    assert all(isinstance(info[k], np.ndarray) for k in ("items", "clicks", "pscore", "final_obs", "_final_obs"))
    env.close()
    assert env.closed
    with pytest.raises(RuntimeError, match="reset"):
        env.step(env.action_space.sample())


def test_numpy_and_torch_arrays_give_the_same_numbers():
    a = driftrec.make_vec_env("mixed", 16, seed=5)
    b = driftrec.make_vec_env("mixed", 16, seed=5, array="torch")
    rng = np.random.default_rng(0)
    for _ in range(30):
        w = rng.random((16, 3), dtype=np.float32)
        oa, ra, ta, ua, ia = a.step(w)
        ob, rb, tb, ub, ib = b.step(torch.from_numpy(w))
        assert isinstance(ob, torch.Tensor)
        np.testing.assert_array_equal(oa, ob.numpy())
        np.testing.assert_array_equal(ra, rb.numpy())
        np.testing.assert_array_equal(ia["items"], ib["items"].numpy())


def test_same_step_autoreset_marks_the_final_observations():
    env = driftrec.make_vec_env("stable", 4, horizon=3, seed=1)
    env.step(np.full((4, 3), 0.5, np.float32))
    env.step(np.full((4, 3), 0.5, np.float32))
    obs, _, terminated, truncated, info = env.step(np.full((4, 3), 0.5, np.float32))
    assert truncated.all() and info["_final_obs"].all()
    progress = list(driftrec.simulators.recommender.FEATURE_NAMES).index("progress")
    assert (info["final_obs"][:, progress] > obs[:, progress]).all()  # the ended episode vs the new one
    _, _, _, _, info = env.step(np.full((4, 3), 0.5, np.float32))
    assert not info["_final_obs"].any()
    assert DriftVecEnv("stable", 2, autoreset=False).metadata["autoreset_mode"] == AutoresetMode.DISABLED


def test_make_vec_uses_the_vector_entry_point_with_scenario_keywords():
    env = gymnasium.make_vec(ENV_ID, num_envs=6, vectorization_mode="vector_entry_point", scenario="abrupt",
                             shift_hazard=0.1)  # fmt: skip
    assert isinstance(env.unwrapped, DriftVecEnv) and env.num_envs == 6
    assert env.unwrapped.scenario.name == "abrupt" and env.unwrapped.scenario.user.shift_hazard == 0.1
    assert env.spec is not None and env.spec.id == ENV_ID
    obs, _ = env.reset(seed=0)
    direct, _ = driftrec.make_vec_env("abrupt", 6, shift_hazard=0.1).reset(seed=0)
    np.testing.assert_array_equal(obs, direct)
    assert isinstance(gymnasium.make_vec(ENV_ID, num_envs=2).unwrapped, DriftVecEnv)  # the default mode


def test_unknown_keywords_and_positional_seeds_are_type_errors():
    with pytest.raises(TypeError, match="unexpected keyword argument 'frameskip'"):
        gymnasium.make_vec(ENV_ID, num_envs=2, frameskip=4)
    env = driftrec.make_vec_env("stable", 2)
    with pytest.raises(TypeError):
        env.reset(0)
    with pytest.raises(ValueError, match="reset options"):
        env.reset(seed=0, options={"users": 3})


def test_gymnasium_vector_wrappers_run_on_it():
    env = driftrec.make_vec_env("abrupt", 8, horizon=5)
    env = vw.RecordEpisodeStatistics(env)
    env = vw.RescaleAction(env, np.float32(-1.0), np.float32(1.0))  # what SB3-style policies emit
    env = vw.ClipAction(env)
    env = vw.NormalizeReward(env)
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    finished = 0
    for _ in range(12):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample() * 1.5)  # clipped
        assert np.isfinite(obs).all() and np.isfinite(reward).all()
        if "episode" in info:
            finished += int(info["_episode"].sum())
            assert (info["episode"]["l"][info["_episode"]] == 5).all()
    assert finished == 16  # 8 users, two 5-step episodes each


def test_observation_wrappers_run_on_the_next_step_mode():
    env = driftrec.make_vec_env("abrupt", 8, horizon=5, autoreset="next-step")
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    env = vw.NormalizeObservation(vw.TransformObservation(env, lambda o: o * 2.0 - 1.0))
    env = vw.RecordEpisodeStatistics(env)
    env.reset(seed=0)
    finished = 0
    for _ in range(12):
        obs, _, _, _, info = env.step(np.full((8, 3), 0.5, np.float32))
        assert np.isfinite(obs).all()
        finished += int(info["_episode"].sum()) if "episode" in info else 0
    assert finished == 16  # two 5-step episodes each, the reset steps between them not counted


def test_next_step_and_same_step_give_each_user_the_same_episodes():
    n, steps, act = 6, 40, np.full((6, 3), 0.5, np.float32)
    same = driftrec.make_vec_env("mixed", n, horizon=4, churn_rate=0.2, seed=2)
    nxt = driftrec.make_vec_env("mixed", n, horizon=4, churn_rate=0.2, seed=2, autoreset="next-step")
    seen_same: list[list] = [[] for _ in range(n)]
    seen_next: list[list] = [[] for _ in range(n)]
    for _ in range(steps):
        _, r, _, _, info = same.step(act)
        for i in range(n):  # each step's reward and the observation it led to, before any reset
            seen_same[i].append((float(r[i]), info["final_obs"][i].tobytes()))
    ended = np.zeros(n, bool)
    for _ in range(steps):
        o, r, term, trunc, _ = nxt.step(act)
        for i in range(n):
            if ended[i]:  # the step after an end starts the next episode instead
                assert r[i] == 0 and not (term[i] or trunc[i])
            else:
                seen_next[i].append((float(r[i]), o[i].tobytes()))
        ended = term | trunc
    for i in range(n):
        assert seen_next[i] == seen_same[i][: len(seen_next[i])]
    assert min(len(x) for x in seen_next) < steps - 5  # episodes did end, some by churn
    with pytest.raises(ValueError, match="autoreset='later' is unknown"):
        DriftVecEnv("stable", 2, autoreset="later")


def test_rescale_action_over_the_vector_env_is_the_single_env_convention(small_catalog):
    single = DriftEnv("mixed", catalog=small_catalog)
    vec = vw.RescaleAction(DriftVecEnv("mixed", 1, catalog=small_catalog), np.float32(-1.0), np.float32(1.0))
    o1, _ = single.reset(seed=77)
    o2, _ = vec.reset(seed=[77])
    np.testing.assert_array_equal(o1, o2[0])
    rng = np.random.default_rng(3)
    for _ in range(60):
        a = rng.uniform(-1, 1, 3).astype(np.float32)
        o1, r1, t1, u1, _ = single.step(a)
        _, r2, t2, u2, info = vec.step(a[None])
        np.testing.assert_array_equal(o1, info["final_obs"][0])  # the vector env has reset an ended user
        assert (r1, t1, u1) == (float(r2[0]), bool(t2[0]), bool(u2[0]))
        if t1 or u1:
            break


README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("marker", ["gymnasium.make_vec(", 'gymnasium.make("driftrec/'])
def test_the_readme_env_snippets_run(marker):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    block = next(b for b in blocks if marker in b)
    exec(compile(block, "README.md", "exec"), {})
