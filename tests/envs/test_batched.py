import numpy as np
import pytest
import torch

import driftrec
from driftrec.envs import DriftEnv, DriftVecEnv


def test_batched_env_matches_single_user_envs_with_matching_seeds(small_catalog):
    """User i of reset(seed=s) equals a single env reset with user_seeds(s, N)[i], across episode ends."""
    n, steps, seed = 5, 150, 42
    kw = dict(catalog=small_catalog, horizon=30)
    batch = DriftVecEnv("mixed", n, **kw, array="torch")
    singles = [DriftEnv("mixed", **kw) for _ in range(n)]
    # weights exactly representable so (a + 1) / 2 round-trips in float32; vary per user and over time
    grid = torch.tensor([[0.25, 0.5, 0.125], [0.75, 0.25, 0.0], [0.5, 1.0, 0.5], [1.0, 0.0, 0.25], [0.0, 0.75, 1.0]])
    obs_b, _ = batch.reset(seed=seed)
    obs_s = [env.reset(seed=s)[0] for env, s in zip(singles, driftrec.user_seeds(seed, n), strict=True)]
    assert np.allclose(obs_b.numpy(), np.stack(obs_s), atol=1e-6)
    ends = 0
    for t in range(steps):
        w = grid.roll(t, 0)
        obs_b, r_b, term_b, trunc_b, info = batch.step(w)
        for i, env in enumerate(singles):
            o, r, term, trunc, inf = env.step((2 * w[i] - 1).numpy())
            assert r == float(r_b[i]) and term == bool(term_b[i]) and trunc == bool(trunc_b[i]), (t, i)
            assert np.array_equal(inf["items"], info["items"][i].numpy()), (t, i)
            assert np.allclose(o, info["final_obs"][i].numpy(), atol=1e-5), (t, i)
            if term or trunc:
                ends += 1
                o, _ = env.reset()
            assert np.allclose(o, obs_b[i].numpy(), atol=1e-5), (t, i)
    assert ends >= n  # every user went through at least one episode end


def test_same_seed_same_numbers_different_seed_different_numbers(small_catalog):
    def run(seed):
        env = driftrec.make_vec_env("abrupt", 16, catalog=small_catalog, seed=seed, array="torch")
        rs = [env.step(torch.tensor([0.3, 0.7, 0.2]))[1] for _ in range(40)]
        return torch.stack(rs)

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_autoreset_returns_the_new_episode_and_keeps_the_final_observation(small_catalog):
    env = DriftVecEnv("stable", 3, catalog=small_catalog, horizon=5, array="torch")
    env.reset(seed=0)
    for _ in range(4):
        obs, *_ = env.step(torch.tensor([0.5, 0.5, 0.0]))
    obs, r, term, trunc, info = env.step(torch.tensor([0.5, 0.5, 0.0]))
    assert bool(trunc.all()) and not bool(term.any())
    assert torch.allclose(info["final_obs"][:, 9], torch.ones(3))  # progress column at the horizon
    assert torch.allclose(obs[:, 9], torch.zeros(3))  # fresh episode
    assert torch.equal(env.state.episode, torch.ones(3, dtype=torch.int64))


def test_torch_outputs_are_ordinary_tensors_though_the_env_steps_in_inference_mode(small_catalog):
    """The step runs under torch.inference_mode (no autograd bookkeeping); what it returns must still
    work with autograd and in-place updates, as any tensor a user gets would, on every engine path."""
    env = DriftVecEnv("mixed", 4, catalog=small_catalog, horizon=3, array="torch", reveal_hidden=True)
    obs, info = env.reset(seed=0)
    outs = [obs, *info.values()]
    for _ in range(4):  # past the horizon: the autoreset path too
        obs, reward, term, trunc, info = env.step(torch.tensor([0.5, 0.5, 0.5]))
        outs += [obs, reward, term, trunc, *(v for v in info.values() if isinstance(v, torch.Tensor))]
    outs += [env.reset_done(torch.tensor([0])), *env.profiles()]
    assert outs and not any(t.is_inference() for t in outs)
    layer = torch.nn.Linear(obs.shape[1], 1)
    layer(obs).sum().backward()  # an inference tensor cannot be saved for backward
    assert layer.weight.grad is not None
    reward += 1.0  # nor updated in place outside inference mode
    assert env.state.rec.short.is_inference()  # the env's own state stays inference tensors


def test_hidden_state_is_only_revealed_on_request(small_catalog):
    env = DriftVecEnv("stable", 2, catalog=small_catalog, array="torch")
    _, info = env.reset(seed=0)
    assert "intent" not in info and "item_utility" not in info
    env = DriftVecEnv("stable", 2, catalog=small_catalog, reveal_hidden=True, array="torch")
    _, info = env.reset(seed=0)
    assert info["intent"].shape == (2, 32) and info["item_utility"].shape == (2, 200)


def test_make_vec_env_public_signature_and_defaults():
    env = driftrec.make_vec_env("gradual", 8, num_items=150, dim=24, seed=3, slate_size=5, array="torch")
    assert env.num_users == 8 and env.num_items == 150 and env.sim.dim == 24 and env.slate_size == 5
    obs, r, *_ = env.step(torch.full((8, 3), 0.5))
    assert obs.shape == (8, 11) and r.shape == (8,) and r.dtype == torch.float32


BAD_INPUTS = [
    # (description, callable, exception, message fragment)
    ("NaN weight", lambda e: e.step(torch.tensor([float("nan"), 0.5, 0.5])), ValueError, r"alpha=nan .*\[0, 1\]"),
    ("alpha above 1", lambda e: e.step(torch.tensor([1.5, 0.5, 0.5])), ValueError, r"alpha=1\.5 .*\[0, 1\]"),
    ("negative explore", lambda e: e.step(torch.tensor([0.5, 0.5, -0.1])), ValueError, r"explore=-0\.1.*\[0, 1\]"),
    ("wrong weights shape", lambda e: e.step(torch.zeros(4, 2)), ValueError, r"shape \(4, 2\); expected \(4, 3\)"),
    ("string action", lambda e: e.step("0.5"), TypeError, r"torch tensor or numpy array, got str"),
    ("object array", lambda e: e.step(np.array([None, 1, 2], dtype=object)), TypeError, "numeric"),
]


@pytest.mark.parametrize("what, call, exc, match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_weights_actions_raise_clear_errors(what, call, exc, match, small_catalog):
    env = DriftVecEnv("stable", 4, catalog=small_catalog, array="torch")
    env.reset(seed=0)
    with pytest.raises(exc, match=match):
        call(env)


BAD_SLATES = [
    ("float items", torch.zeros(2, 10), TypeError, "integer item indices"),
    ("wrong slate shape", torch.zeros(2, 3, dtype=torch.long), ValueError, r"shape \(2, 3\); expected \(2, 10\)"),
    ("item out of range", torch.arange(190, 200).repeat(2, 1) + 5, ValueError, r"item index 200 .*\[0, 200\)"),
    ("negative item", -torch.arange(1, 11).repeat(2, 1), ValueError, r"item index -1 .*\[0, 200\)"),
    ("repeated item", torch.tensor([list(range(10)), [1] * 10]), ValueError, "user 1 repeats item 1"),
]


@pytest.mark.parametrize("what, action, exc, match", BAD_SLATES, ids=[b[0] for b in BAD_SLATES])
def test_bad_slate_actions_raise_clear_errors(what, action, exc, match, small_catalog):
    env = DriftVecEnv("stable", 2, catalog=small_catalog, action_mode="slate", array="torch")
    env.reset(seed=0)
    with pytest.raises(exc, match=match):
        env.step(action)


BAD_CONSTRUCTION = [
    ("unknown scenario", dict(scenario="sideways"), ValueError, "unknown scenario 'sideways'; known scenarios: stable"),
    ("zero users", dict(num_users=0), ValueError, r"num_users=0 .* >= 1"),
    ("negative items", dict(num_items=-5), ValueError, r"num_items=-5 .* >= 1"),
    ("zero dim", dict(dim=0), ValueError, r"dim=0 .* >= 1"),
    ("float users", dict(num_users=2.5), TypeError, "num_users must be an integer"),
    ("zero slate", dict(slate_size=0), ValueError, r"slate_size=0 .*\[1, 1000\]"),
    ("zero horizon", dict(horizon=0), ValueError, r"horizon=0 .* >= 1"),
    ("hazard above 1", dict(shift_hazard=1.5), ValueError, r"shift_hazard=1\.5 .*\[0\.0, 1\.0\]"),
    ("NaN drift", dict(drift_scale=float("nan")), ValueError, r"drift_scale=nan"),
    ("unknown parameter", dict(hazard=0.1), TypeError, "unexpected keyword argument 'hazard'; scenario parameters"),
    ("unknown click model", dict(model="dbn"), ValueError, "click model 'dbn' is unknown; allowed: position"),
    ("unknown action mode", dict(action_mode="items"), ValueError, "action_mode 'items' is unknown; allowed: weights"),
    ("slate larger than catalog", dict(num_items=5), ValueError, "5 items, fewer than slate_size=10"),
    ("bad device", dict(device="tpu:9"), ValueError, "device 'tpu:9'"),
]


@pytest.mark.parametrize("what, kwargs, exc, match", BAD_CONSTRUCTION, ids=[b[0] for b in BAD_CONSTRUCTION])
def test_bad_construction_raises_clear_errors(what, kwargs, exc, match):
    kw = {"scenario": "stable", "num_users": 2, "num_items": 50, "dim": 8, **kwargs}
    with pytest.raises(exc, match=match):
        driftrec.make_vec_env(kw.pop("scenario"), kw.pop("num_users"), **kw, array="torch")


def test_single_env_rejects_out_of_range_normalised_actions():
    env = DriftEnv("stable", num_items=50, dim=8)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action value 1\.5 .*\[-1, 1\]"):
        env.step(np.array([1.5, 0, 0], dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(2,\); expected \(3,\)"):
        env.step(np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError, match="nan"):
        env.step(np.array([np.nan, 0, 0], dtype=np.float32))


def test_step_before_reset_says_what_to_do(small_catalog):
    with pytest.raises(RuntimeError, match="call reset"):
        DriftVecEnv("stable", 2, catalog=small_catalog, array="torch").step(torch.zeros(3))


def test_sizes_that_cannot_fit_are_refused_before_allocating(small_catalog, monkeypatch):
    import driftrec.envs.device as device

    monkeypatch.setattr(device, "available_memory", lambda device: 10_000_000)  # 10 MB free
    too_many = r"5,000 users x 200 items \(32 dims\) need at least .* more than the 10.0 MB available"
    with pytest.raises(MemoryError, match=too_many):
        DriftVecEnv("stable", 5000, catalog=small_catalog, array="torch")
    DriftVecEnv("stable", 50, catalog=small_catalog, array="torch")  # about 1.5 MB: fine
    monkeypatch.setattr(device, "available_memory", lambda device: None)  # unknown: no refusal
    DriftVecEnv("stable", 5000, catalog=small_catalog, array="torch")
