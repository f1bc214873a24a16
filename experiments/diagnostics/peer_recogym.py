"""Steps per second of RecoGym's single-user env, for ``driftrec bench --recogym PYTHON``.

Run by a Python that has RecoGym 0.1.3.0 installed (its own virtualenv: RecoGym pins old
dependencies), never imported by driftrec. Prints one JSON object::

    /path/to/recogym-venv/bin/python experiments/diagnostics/peer_recogym.py --min-time 1.0

The env is ``RecoEnv1`` with ``env_1_args`` (its defaults: 10 products), stepped with uniformly
random actions; an episode that ends is reset, and the reset's first ``step(None)`` counts as a
step, as it would in a training loop.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds to step at least [1.0]")
    args = parser.parse_args()
    if not args.min_time > 0:
        parser.error(f"--min-time must be positive, got {args.min_time}")
    import numpy as np
    import scipy

    scipy.rand = np.random.rand  # RecoGym 0.1.3.0 imports scipy.rand, which scipy removed
    from importlib.metadata import version

    from recogym import env_1_args
    from recogym.envs.reco_env_v1 import RecoEnv1

    env = RecoEnv1()
    env.init_gym(dict(env_1_args, random_seed=0))
    rng = np.random.default_rng(0)
    num_products = env.config.num_products
    actions = rng.integers(0, num_products, 1 << 16)

    def run(steps: int) -> None:
        env.reset()
        _, _, done, _ = env.step(None)
        for i in range(steps):
            if done:
                env.reset()
                _, _, done, _ = env.step(None)
            else:
                _, _, done, _ = env.step(int(actions[i & 0xFFFF]))

    run(200)  # warm-up
    steps, elapsed = 1000, 0.0
    while True:
        start = time.perf_counter()
        run(steps)
        elapsed = time.perf_counter() - start
        if elapsed >= args.min_time:
            break
        steps *= 2
    print(
        json.dumps(
            {"steps_per_s": steps / elapsed, "steps": steps, "recogym": version("recogym"), "products": num_products}
        )
    )


if __name__ == "__main__":
    main()
