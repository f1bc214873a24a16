"""driftrec with the real RL libraries, unchanged: TorchRL, RLlib and Minari (each test skips where
its library is missing; the test extra installs them)."""

import numpy as np
import pytest

import driftrec
from driftrec.envs import ENV_ID

SMALL = {"scenario": "abrupt", "num_items": 200, "dim": 16, "horizon": 20}


def test_torchrl_gym_env_by_id_passes_check_env_specs():
    pytest.importorskip("torchrl")
    from torchrl.envs import GymEnv, GymWrapper
    from torchrl.envs.utils import check_env_specs

    env = GymEnv(ENV_ID, **SMALL)
    check_env_specs(env)
    assert env.rollout(5)["next", "reward"].shape == (5, 1)
    # spawned workers never import driftrec: the module-prefixed id imports it for them
    par = GymEnv(f"driftrec:{ENV_ID}", num_envs=2, **SMALL)
    try:
        assert par.batch_size == (2,)
        check_env_specs(par)
    finally:
        par.close()
    vec = GymWrapper(driftrec.make_vec_env("abrupt", 4, num_items=200, dim=16))
    assert vec.batch_size == (4,) and vec.action_spec.shape == (4, 3)
    check_env_specs(vec)


def test_rllib_ppo_trains_two_iterations_with_a_remote_env_runner():
    pytest.importorskip("ray.rllib")
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        # by id (the runner imports driftrec through the prefix) and by class (built from EnvContext)
        for env in (f"driftrec:{ENV_ID}", driftrec.DriftEnv):
            config = (
                PPOConfig()
                .environment(env, env_config=SMALL)
                .env_runners(num_env_runners=1, num_envs_per_env_runner=1, rollout_fragment_length=100)
                .training(train_batch_size_per_learner=200, minibatch_size=100, num_epochs=1)
            )
            algo = config.build_algo()
            try:
                for i in range(2):
                    res = algo.train()
                    assert res["num_env_steps_sampled_lifetime"] == 200 * (i + 1)
                    assert np.isfinite(res["env_runners"]["episode_return_mean"])
            finally:
                algo.stop()
    finally:
        ray.shutdown()


def test_minari_data_collector_records_the_single_env(tmp_path, monkeypatch):
    pytest.importorskip("jax")  # minari[create]
    minari = pytest.importorskip("minari")
    import gymnasium

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    env = minari.DataCollector(gymnasium.make(ENV_ID, **SMALL), record_infos=False, data_format="arrow")
    env.reset(seed=2**64 - 1)  # Minari seeds with any size
    env.action_space.seed(0)
    rewards = []
    for _ in range(3):
        done, total = False, 0.0
        while not done:
            _, r, terminated, truncated, _ = env.step(env.action_space.sample())
            total += r
            done = terminated or truncated
        rewards.append(total)
        env.reset()
    env.create_dataset(dataset_id="driftrec/abrupt/random-v0", algorithm_name="random", author="driftrec",
                       author_email="driftrec@example.org", code_permalink="https://example.org/driftrec")  # fmt: skip
    ds = minari.load_dataset("driftrec/abrupt/random-v0")
    assert ds.total_episodes == 3 and ds.total_steps == 60
    for ep, total in zip(ds.iterate_episodes(), rewards, strict=True):
        assert ep.observations.shape == (21, 11) and ep.actions.shape == (20, 3)
        assert ep.rewards.sum() == total and ep.truncations[-1] and not ep.terminations.any()
    assert ds.recover_environment().unwrapped.scenario.name == "abrupt"
