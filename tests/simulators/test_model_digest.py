"""The simulated numbers of model version 2 do not change by accident.

Speed work must keep every published number bit for bit (or bump ``MODEL_VERSION`` and regenerate
them). This digest of the shown items and clicks of every preset, in every exploration mode, at
three batch sizes, was recorded under model version 2; a change of the model must update it
together with ``MODEL_VERSION`` and every published number.
"""

from __future__ import annotations

import hashlib

import torch

import driftrec
from driftrec.simulators.scenarios import PRESETS

DIGEST_V2 = "3786fb7695564126f5cbaa0a6f7977a1ec37f5d612586ceea2e153b5b215f510"


def trajectory_digest() -> str:
    h = hashlib.sha256()
    for scenario in PRESETS:
        for mode in ("slot", "slate", "softmax"):
            for n in (1, 7, 70):
                env = driftrec.make_vec_env(
                    scenario, n, num_items=300, dim=16, seed=3, explore_mode=mode, array="torch"
                )
                gen = torch.Generator().manual_seed(1)
                for _ in range(40):
                    _, reward, _, _, info = env.step(torch.rand(n, 3, generator=gen))
                    h.update(info["items"].numpy().tobytes())
                    h.update(info["clicks"].numpy().tobytes())
    return h.hexdigest()


def test_model_version_2_trajectories_are_unchanged():
    assert driftrec.MODEL_VERSION == 2, "a new model version: record its digest here"
    assert trajectory_digest() == DIGEST_V2, (
        "the simulated numbers changed: if intended, bump MODEL_VERSION, regenerate the published numbers "
        "and record the new digest"
    )
