import numpy as np
import torch
from stable_baselines3 import PPO

from driftrec.envs import DriftVecEnv
from driftrec.envs.sb3 import SB3VecEnv


def test_vecenv_contract_terminal_observation_and_fresh_arrays(small_catalog):
    base = DriftVecEnv("mixed", 6, catalog=small_catalog, horizon=7, array="torch")
    venv = SB3VecEnv(base)
    venv.seed(3)
    obs = venv.reset()
    assert obs.shape == (6, 11) and obs.dtype == np.float32
    previous = obs
    saw_end = False
    for _ in range(10):
        obs, rewards, dones, infos = venv.step(np.zeros((6, 3), dtype=np.float32))
        assert obs is not previous and not np.shares_memory(obs, previous)
        assert rewards.dtype == np.float32 and dones.dtype == bool and len(infos) == 6
        for i, done in enumerate(dones):
            if done:
                saw_end = True
                assert infos[i]["terminal_observation"].shape == (11,)
                assert "TimeLimit.truncated" in infos[i]
            else:
                assert infos[i] == {}
        previous = obs
    assert saw_end


def test_vecenv_seed_reproduces_resets(small_catalog):
    venv = SB3VecEnv(DriftVecEnv("abrupt", 4, catalog=small_catalog, array="torch"))
    venv.seed(11)
    a = venv.reset()
    venv.seed(11)
    assert np.array_equal(a, venv.reset())


def test_short_ppo_run_trains_on_the_vecenv(small_catalog):
    torch.manual_seed(0)
    venv = DriftVecEnv("abrupt", 32, catalog=small_catalog, horizon=50, array="torch").to_sb3()
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=256, n_epochs=2, seed=0, device="cpu", verbose=0)
    model.learn(total_timesteps=4096)
    assert model.num_timesteps >= 4096
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (32, 3) and np.all(np.abs(action) <= 1)
