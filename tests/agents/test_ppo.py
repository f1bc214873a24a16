"""The PPO weight policy: deterministic training, save/load, checkpoints and resume."""

from __future__ import annotations

import json
import zipfile

import pytest
import torch

from driftrec.agents import PPOWeights
from driftrec.experiments.online.runner import SimulateConfig, run_one
from driftrec.experiments.online.train import TrainConfig, train

SMALL = dict(
    scenario="abrupt", users=16, timesteps=16 * 8 * 3, items=200, dim=16, hyper={"n_steps": 8, "batch_size": 64}
)


def _params(agent: PPOWeights) -> list[torch.Tensor]:
    return [p.detach().clone() for p in agent.model.policy.parameters()]


def _evaluate(agent: PPOWeights, seed: int = 77) -> list[float]:
    cfg = SimulateConfig(scenarios=["abrupt"], agents=["fixed"], users=8, steps=10, items=200, dim=16)
    from driftrec.envs import default_catalog

    return run_one("abrupt", agent, seed, cfg, default_catalog(200, 16)).curve


def test_training_is_deterministic_on_cpu():
    a = train(TrainConfig(**SMALL, seed=3), progress=False)
    b = train(TrainConfig(**SMALL, seed=3), progress=False)
    c = train(TrainConfig(**SMALL, seed=4), progress=False)
    assert all(torch.equal(x, y) for x, y in zip(_params(a), _params(b), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(_params(a), _params(c), strict=True))
    assert _evaluate(a) == _evaluate(b)


def test_training_without_tensorboard_leaves_nothing_in_the_temp_dir(tmp_path, monkeypatch):
    import tempfile

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    train(TrainConfig(**SMALL), progress=False)
    train(TrainConfig(**SMALL), tmp_path / "out", progress=False, tensorboard=False)
    assert sorted(p.name for p in temp.iterdir()) == []
    assert not (tmp_path / "out" / "tb").exists()


def test_saved_policy_evaluates_like_the_one_in_memory(tmp_path):
    agent = train(TrainConfig(**SMALL, checkpoint_every=16 * 8), tmp_path, progress=False)
    assert (tmp_path / "policy.zip").is_file() and not list(tmp_path.glob(".*.tmp"))
    loaded = PPOWeights.load(tmp_path / "policy.zip")
    assert loaded.config["scenario"] == "abrupt" and loaded.config["ppo"]["n_steps"] == 8
    assert _evaluate(loaded) == _evaluate(agent)
    obs = torch.rand(5, 11)
    w = loaded.act(obs, {})
    assert w.shape == (5, 3) and bool(((w >= 0) & (w <= 1)).all())
    ckpts = sorted((tmp_path / "checkpoints").glob("step_*.zip"))
    assert len(ckpts) == 3
    assert json.loads((tmp_path / "train.json").read_text())["num_timesteps"] == SMALL["timesteps"]
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    with zipfile.ZipFile(ckpts[0]) as z:
        assert "driftrec.json" in z.namelist()


def test_resume_continues_from_a_checkpoint(tmp_path):
    train(TrainConfig(**SMALL, checkpoint_every=16 * 8), tmp_path / "a", progress=False)
    first = sorted((tmp_path / "a" / "checkpoints").glob("step_*.zip"))[0]
    resumed = train(TrainConfig(**{**SMALL, "timesteps": SMALL["timesteps"] * 2}), tmp_path / "b", resume=first,
                    progress=False)  # fmt: skip
    assert resumed.model.num_timesteps == SMALL["timesteps"] * 2
    assert resumed.config["resumed_from"] == str(first)
    with pytest.raises(ValueError, match="not fewer than --timesteps"):
        train(TrainConfig(**{**SMALL, "timesteps": 16}), tmp_path / "c", resume=first, progress=False)
    # the settings a resumed run can change are applied and recorded as applied; the others refused
    hyper = {**SMALL["hyper"], "learning_rate": 0.5, "n_epochs": 2, "gamma": 0.9}
    again = train(TrainConfig(**{**SMALL, "timesteps": SMALL["timesteps"] * 2, "hyper": hyper}), tmp_path / "d",
                  resume=first, progress=False)  # fmt: skip
    assert again.model.lr_schedule(1.0) == 0.5 and again.model.n_epochs == 2 and again.model.rollout_buffer.gamma == 0.9
    for group in again.model.policy.optimizer.param_groups:
        assert group["lr"] == 0.5
    recorded = json.loads((tmp_path / "d" / "train.json").read_text())["ppo"]
    assert recorded["learning_rate"] == 0.5 and recorded["net_arch"] == [64, 64] and recorded["n_steps"] == 8
    with pytest.raises(
        ValueError, match=r"--resume cannot change net_arch \(the checkpoint has \[64, 64\], got \[8\]\)"
    ):
        train(TrainConfig(**{**SMALL, "timesteps": 4096, "hyper": {**SMALL["hyper"], "net_arch": [8]}}),
              tmp_path / "e", resume=first, progress=False)  # fmt: skip


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"users": 0}, "users=0 is not allowed; it must be >= 1"),
        ({"hyper": {"lr": 1}}, r"unknown PPO settings \['lr'\]"),
        ({"scenario": "nope"}, "unknown scenario 'nope'"),
        ({"checkpoint_every": -1}, "checkpoint_every=-1 is not allowed; it must be >= 0"),
        ({"eval_every": -5}, "eval_every=-5 is not allowed; it must be >= 0"),
        ({"hyper": {"gamma": 2}}, r"PPO setting gamma=2 is outside the allowed range \(0.0, 1.0\]"),
        ({"hyper": {"n_steps": 0}}, "PPO setting n_steps=0 is not allowed; it must be >= 1"),
        ({"hyper": {"batch_size": 1}}, "PPO setting batch_size=1 is not allowed; it must be >= 2"),
        ({"hyper": {"learning_rate": 1e12}}, r"PPO setting learning_rate=1000000000000.0 is outside the allowed range"),
        ({"hyper": {"net_arch": [0]}}, "net_arch=\\[0\\] is not allowed"),
    ],
)
def test_bad_train_configs(kw, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kw)


def test_bad_policy_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such policy file"):
        PPOWeights.load(tmp_path / "missing.zip")
    junk = tmp_path / "junk.zip"
    junk.write_text("not a zip")
    with pytest.raises(ValueError, match="not a saved policy"):
        PPOWeights.load(junk)


class _Payload:
    """Unpickling this runs code: it creates the file ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def _with_data(policy: bytes, edit) -> bytes:
    """The policy zip with its SB3 ``data`` JSON changed by ``edit(dict)``."""
    import io

    src, out = zipfile.ZipFile(io.BytesIO(policy)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            body = src.read(name)
            if name == "data":
                params = json.loads(body)
                edit(params)
                body = json.dumps(params).encode()
            z.writestr(name, body)
    return out.getvalue()


def test_a_crafted_policy_file_runs_no_code(tmp_path):
    import base64
    import pickle

    marker = tmp_path / "ran"
    blob = base64.b64encode(pickle.dumps(_Payload(str(marker)))).decode()
    pickle.loads(base64.b64decode(blob))  # the payload is live: unpickling it runs it
    assert marker.exists()
    marker.unlink()
    policy = PPOWeights(train(TrainConfig(**{**SMALL, "timesteps": 128}), progress=False).model).to_bytes()

    # in an entry driftrec rebuilds itself: never unpickled, the policy loads
    def in_known(p):
        p["policy_class"][":serialized:"] = blob

    PPOWeights.from_bytes(_with_data(policy, in_known)).act(torch.rand(2, 11), {})

    # in an entry driftrec does not know: refused
    def in_unknown(p):
        p["extra"] = {":type:": "<class 'object'>", ":serialized:": blob}

    with pytest.raises(ValueError, match="pickled entry 'extra' .* refused"):
        PPOWeights.from_bytes(_with_data(policy, in_unknown))
    crafted = tmp_path / "step_999.zip"
    crafted.write_bytes(_with_data(policy, in_unknown))
    with pytest.raises(ValueError, match="cannot be resumed: it holds a pickled entry 'extra'"):
        train(TrainConfig(**{**SMALL, "timesteps": 4096}), tmp_path / "r", resume=crafted, progress=False)
    assert not marker.exists()


def test_a_policy_with_foreign_spaces_is_refused():
    policy = PPOWeights(train(TrainConfig(**{**SMALL, "timesteps": 128}), progress=False).model).to_bytes()

    def wide_actions(p):
        p["action_space"].update({"low": "[-5. -5. -5.]", "high": "[5. 5. 5.]"})

    with pytest.raises(ValueError, match=r"action_space is a box of shape \[3\] in \[\[-5. -5. -5.\]"):
        PPOWeights.from_bytes(_with_data(policy, wide_actions))


def test_resume_latest_takes_the_most_steps_and_ignores_other_names(tmp_path):
    from driftrec.experiments.online.train import latest_checkpoint

    assert latest_checkpoint(tmp_path) is None
    for name in ("step_0000000128.zip", "step_0000001024.zip", "step_9999.zip", "step_zzz.zip", "step_0000000512.zip"):
        (tmp_path / name).write_bytes(b"")
    assert latest_checkpoint(tmp_path).name == "step_0000001024.zip"


def test_tensorboard_gets_driftrec_scalars_and_evaluations_without_changing_the_policy(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = TrainConfig(**{**SMALL, "eval_every": 16 * 8 * 2})
    agent = train(cfg, tmp_path / "tb_run", progress=False)
    plain = train(TrainConfig(**SMALL), None, progress=False, tensorboard=False)
    for a, b in zip(_params(agent), _params(plain), strict=True):
        assert torch.equal(a, b)  # evaluating on held-out users does not touch training
    (events,) = (tmp_path / "tb_run" / "tb").rglob("events.out.tfevents.*")
    acc = EventAccumulator(str(events.parent))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    want = {"driftrec/clicks_per_step", "driftrec/alpha", "driftrec/mix", "driftrec/explore", "driftrec/env_share",
            "driftrec/update_share", "driftrec/eval_ppo", "driftrec/eval_fixed",
            "driftrec/eval_diff_vs_fixed"}  # fmt: skip
    assert want <= tags, want - tags
    assert len(acc.Scalars("driftrec/clicks_per_step")) == 3  # one per rollout
    assert all(0 <= s.value <= 1 for s in acc.Scalars("driftrec/alpha"))
    assert 0 < acc.Scalars("driftrec/env_share")[-1].value < 1
    assert 0 < acc.Scalars("driftrec/update_share")[-1].value < 1 - acc.Scalars("driftrec/env_share")[-1].value
    (row,) = agent.config["evaluations"]
    t = agent.config["timing"]
    assert t["eval_s"] > 0 and t["env_share"] + t["update_share"] + t["eval_share"] < 1
    assert "eval_s" not in plain.config["timing"]
    assert row["timesteps"] == 16 * 8 * 2 and row["diff_vs_fixed"] == pytest.approx(row["ppo"] / row["fixed"] - 1)
    assert acc.Scalars("driftrec/eval_ppo")[0].value == pytest.approx(row["ppo"])


def test_timing_splits_learning_into_env_updates_and_the_rest(monkeypatch):
    """``update_s`` is the time between rollouts and after the last one: SB3's ``train`` (each
    update slowed by 0.1 s here, so the time must hold 0.1 s per rollout at least)."""
    import time

    from stable_baselines3 import PPO

    updates = []
    plain = PPO.train

    def slow(self):
        updates.append(1)
        time.sleep(0.1)
        return plain(self)

    monkeypatch.setattr(PPO, "train", slow)
    t = train(TrainConfig(**SMALL), None, progress=False, tensorboard=False).config["timing"]
    assert len(updates) == SMALL["timesteps"] // (SMALL["users"] * 8)
    assert 0.1 * len(updates) <= t["update_s"] < t["learn_wall_s"]
    assert t["update_share"] == pytest.approx(t["update_s"] / t["learn_wall_s"], rel=0.05)  # of rounded seconds
    assert t["env_share"] > 0 and t["env_share"] + t["update_share"] < 1
