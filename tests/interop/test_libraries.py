"""driftrec with the real RL libraries, unchanged: TorchRL, RLlib and Minari (each test skips where
its library is missing; the test extra installs them)."""

import subprocess
import sys

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
    # With num_envs TorchRL starts gymnasium's AsyncVectorEnv; its workers never import driftrec, and
    # the module-prefixed id imports it for them. In a fresh interpreter: forking this one, whose
    # earlier tests left threads running, can deadlock the workers.
    code = (
        "from torchrl.envs import GymEnv\n"
        "from torchrl.envs.utils import check_env_specs\n"
        f"par = GymEnv('driftrec:{ENV_ID}', num_envs=2, **{SMALL!r})\n"
        "check_env_specs(par)\n"
        "print(tuple(par.batch_size))\n"
        "par.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "(2,)"
    vec = GymWrapper(driftrec.make_vec_env("abrupt", 4, num_items=200, dim=16))
    assert vec.batch_size == (4,) and vec.action_spec.shape == (4, 3)
    check_env_specs(vec)


@pytest.mark.slow  # about 20 s: a Ray cluster and two algorithms (CI runs it after the default set)
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


def test_a_driftrec_log_exports_to_minari_and_reads_back_row_for_row(tmp_path, monkeypatch):
    pytest.importorskip("jax")  # minari[create]
    minari = pytest.importorskip("minari")
    from driftrec.experiments.offline.minari_export import export_minari
    from driftrec.experiments.offline.trajectories import (
        CONTEXT_COLUMNS,
        NEXT_CONTEXT_COLUMNS,
        WEIGHT_COLUMNS,
        LogConfig,
        simulate_log,
        write_log,
    )  # fmt: skip

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    cfg = LogConfig(scenario="abrupt", users=5, steps=30, items=200, dim=16,
                    overrides={"horizon": 12, "churn_rate": 0.05})  # fmt: skip
    run = simulate_log(cfg)
    write_log(tmp_path / "log.parquet", run)
    export_minari(tmp_path / "log.parquet", "driftrec/abrupt/fixed-v0")
    ds = minari.load_dataset("driftrec/abrupt/fixed-v0")
    f = run.frame
    slates = f[f.position == 0].sort_values(["run", "user", "episode", "step"])
    clicks = f.groupby(["run", "user", "episode", "step"])["reward"].sum()
    episodes = list(slates.groupby(["run", "user", "episode"], sort=False))
    assert ds.total_episodes == len(episodes) and ds.total_steps == len(slates) == 5 * 30
    ended = {"terminated": 0, "truncated": 0}
    for got, ((r, u, e), rows) in zip(ds.iterate_episodes(), episodes, strict=True):
        np.testing.assert_array_equal(got.observations[:-1], rows[list(CONTEXT_COLUMNS)].to_numpy(np.float32))
        np.testing.assert_array_equal(got.observations[-1], rows[list(NEXT_CONTEXT_COLUMNS)].to_numpy(np.float32)[-1])
        np.testing.assert_allclose((got.actions + 1) / 2, rows[list(WEIGHT_COLUMNS)].to_numpy(), atol=1e-7)
        np.testing.assert_array_equal(got.rewards, clicks.loc[(r, u, e)].to_numpy())
        np.testing.assert_array_equal(got.terminations, rows.terminated.to_numpy())
        cut = not (rows.terminated.iloc[-1] or rows.truncated.iloc[-1])  # the log's end: marked as a time limit
        np.testing.assert_array_equal(got.truncations[:-1], rows.truncated.to_numpy()[:-1])
        assert got.truncations[-1] == (rows.truncated.iloc[-1] or cut)
        ended["terminated"] += int(rows.terminated.iloc[-1])
        ended["truncated"] += int(rows.truncated.iloc[-1])
    assert ended["terminated"] > 0 and ended["truncated"] > 0  # both ends occur in this log
